"""Pieces every export reader shares: Zotero URIs, annotation JSON, text cleaning."""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from obsync.model import NO_PAGE, Library
from obsync.vault.names import is_reserved

# Item keys and group ids name files and go into links: only letters, digits, ``_`` and ``-``.
KEY = re.compile(r"[A-Za-z0-9_-]{1,32}")
_URI = re.compile(
    r"https?://zotero\.org/(?:users/(?:local/)?[A-Za-z0-9_-]+|groups/(?P<group>[A-Za-z0-9_-]+))"
    r"/items/(?P<key>[A-Za-z0-9_-]{1,32})"
)
QUOTE_PAIRS = {"“": "”", "„": "“", "«": "»", "»": "«", "‘": "’", '"': '"', "'": "'", "‚": "‘"}


@dataclass(frozen=True, slots=True)
class ItemRef:
    library: Library
    key: str


def parse_item_uri(uri: object) -> ItemRef | None:
    """``http://zotero.org/users/1/items/KEY`` (or groups/…, users/local/…) -> ItemRef."""
    return _parse_item_uri(uri) if isinstance(uri, str) else None


@functools.lru_cache(maxsize=4096)  # an export names the same few items again and again
def _parse_item_uri(uri: str) -> ItemRef | None:
    match = _URI.fullmatch(uri.strip())
    if match is None or is_reserved(match.group("key")):
        return None
    return ItemRef(Library(match.group("group")), match.group("key"))


def decode_json_attr(value: str) -> Any:
    """Decode a ``data-annotation``/``data-citation`` value: URL-decoding then JSON.

    Raises ValueError when the value is not valid JSON (or nests too deeply to read).
    """
    return load_json(percent_decode(value))


# What encodeURIComponent escapes most in Better Notes' annotation JSON (quotes, colons,
# commas, braces, brackets, slashes, #, spaces): replaced with str.replace, which is C code.
_COMMON_ESCAPES = tuple(
    (f"%{ord(c):02X}", c) for c in ('"', ":", ",", "{", "}", "[", "]", "/", "#", " ")
)


def percent_decode(value: str) -> str:
    """``urllib.parse.unquote(value)``, exactly, at a third of its cost on Zotero's JSON.

    The common escapes are replaced first; none of them yields ``%``, so no new escape
    appears, and unquote of what is left (``%25``, UTF-8 bytes, lower-case hex, stray
    ``%``) gives the same text as unquote of the whole.
    """
    for escape, char in _COMMON_ESCAPES:
        value = value.replace(escape, char)
    return unquote(value) if "%" in value else value


def load_json(text: str) -> Any:
    """``json.loads``; JSON nested deeper than Python's recursion limit is a ValueError.

    A ``\\uD800``-style escape of half a surrogate pair reads as U+FFFD: such a string
    could not be written to a file as UTF-8.
    """
    if _SURROGATE_ESCAPE.search(text):
        text = _JSON_ESCAPE.sub(lambda m: "\\ufffd" if m.group(1) else m.group(0), text)
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# JSON escapes from left to right: a valid pair, a lone half (group 1), or any other escape.
_JSON_ESCAPE = re.compile(
    r"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    r"|(u[dD][89a-fA-F][0-9a-fA-F]{2})|.)",
    re.DOTALL,
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """Text that can be written as UTF-8: lone surrogates (from escapes) become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def shown(value: object, limit: int = 60) -> str:
    """A value from an export, quoted for an error message: one line, no control characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def zotero_open_link(attachment: ItemRef, position: object, key: str | None) -> str:
    """The ``zotero://open-pdf/…`` link that opens an annotation, as Zotero writes it."""
    link = f"zotero://open-pdf/{attachment.library.link_part()}/items/{attachment.key}"
    query = ""
    if isinstance(position, dict):
        page_index = position.get("pageIndex")
        kind = position.get("type")
        value = position.get("value")
        if isinstance(page_index, int) and not isinstance(page_index, bool):
            query = f"?page={page_index + 1}"
        elif kind == "FragmentSelector" and isinstance(value, str):
            query = f"?cfi={quote(value, safe=_URI_COMPONENT_SAFE)}"
        elif kind == "CssSelector" and isinstance(value, str):
            query = f"?sel={quote(value, safe=_URI_COMPONENT_SAFE)}"
    if key:
        query += ("&" if query else "?") + f"annotation={key}"
    return link + query


_URI_COMPONENT_SAFE = "-_.!~*'()"


def page_sort_index(position: object, fallback_page: str) -> str:
    """The page part of Zotero's sort index: ``00003`` for the fourth page (its index), from
    the position, else from a page label that is a number; ``99999`` when neither says."""
    if isinstance(position, dict):
        page_index = position.get("pageIndex")
        if isinstance(page_index, int) and not isinstance(page_index, bool) and page_index >= 0:
            return f"{min(page_index, 99998):05d}"
    if fallback_page.isdigit() and 0 < int(fallback_page) < 99999:
        return f"{int(fallback_page) - 1:05d}"
    return NO_PAGE


def stable_id(*parts: str) -> str:
    """A stable id for an annotation without a Zotero key.

    ``obs-`` followed by ten base32 characters of the SHA-256 of the parts,
    so the same annotation read again (or from another file) gets the same id.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()
    return "obs-" + base64.b32encode(digest).decode("ascii")[:10].lower()


# Tags Zotero and Better Notes write; "<" and one of these with no ">" after it ends a cut file.
_TAG_NAMES = (
    "span|img|a|div|p|h[1-6]|br|strong|em|b|i|u|s|sub|sup|blockquote|ul|ol|li"
    "|table|thead|tbody|tr|td|th|pre|code|hr|html|head|body|meta|math"
)
_UNFINISHED_TAG = re.compile(rf"</?(?:{_TAG_NAMES})\b[^<>]*\Z", re.IGNORECASE)
_UNFINISHED_LINK = re.compile(r"\(\[[^\]\n]*(?:\](?:\([^)\s]*)?)?\Z")
_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")


def unfinished_tag(text: str, *, markdown: bool = False) -> int | None:
    """Where a tag starts that the text ends inside of (an export cut short), if any.

    In Markdown, ``\\<`` is a ``<`` the user typed, not a tag, except in the
    ``![\\<img …>](…)`` of Better Notes' image annotations.
    """
    start = text.rfind("<")
    if start == -1 or not _UNFINISHED_TAG.match(text, start):
        return None
    if markdown and text[start - 1 : start] == "\\" and text[start - 3 : start] != "![\\":
        return None
    return start


def unfinished_link(text: str) -> int | None:
    """Where a Zotero link (``([pdf](zotero://…))``, ``([Zhao, 2023](zotero://…))``) starts
    that the text ends inside of, if any; ``([x`` the user typed is not one."""
    start = text.rfind("([")
    if start == -1 or not _UNFINISHED_LINK.match(text, start):
        return None
    label, bracket, after = text[start + 2 :].partition("]")
    kinds = ("pdf", "epub", "snapshot")
    if not bracket or not after:  # cut in the label, or right after it
        return start if label and any(kind.startswith(label) for kind in kinds) else None
    url = after[1:]
    return start if "zotero://".startswith(url) or url.startswith("zotero://") else None


# An annotation key as the bytes of an export show it: in ``data-annotation`` JSON (URL-encoded,
# HTML-escaped or plain) and in the ``annotation=KEY`` of Zotero's open links.
_QUOTE_MARK = rb"(?:%22|&quot;|&\#x22;|&\#34;|\\?\")"
# One literal prefix, so the scan of a file's bytes is fast; the link form's "?", "&" or
# "%26" before it is checked in visible_keys.
_VISIBLE_KEY = re.compile(
    rb"annotation(?:Key"
    + _QUOTE_MARK
    + rb"\s*(?::|%3[aA])\s*(?:%20)*"
    + _QUOTE_MARK
    + rb"(?P<data>[A-Za-z0-9_-]{1,32})|(?:=|%3[dD])(?P<link>[A-Za-z0-9_-]{1,32}))"
)
_COMMENT_BYTES = re.compile(rb"(?<!\\)<!--.*?(?:-->|\Z)", re.DOTALL)
_HTML_COMMENT = re.compile(r"(?<!\\)<!--.*?(?:-->|\Z)", re.DOTALL)


def without_html_comments(text: str) -> str:
    """``text`` with HTML comments blanked out, newlines kept (so lines keep their numbers).

    What an HTML comment holds is not shown by Obsidian or a browser: an annotation
    there is not a live one. (``\\<!--`` is text the user typed, escaped by Markdown.)
    """
    if "<!--" not in text:
        return text
    return _HTML_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def visible_keys(data: bytes) -> dict[str, int]:
    """Every annotation key a file's bytes show outside HTML comments, with its first line.

    Read from the bytes, not the text: a search in them is several times faster, and a
    file that is not valid UTF-8 shows its keys all the same.
    """
    hidden = [m.span() for m in _COMMENT_BYTES.finditer(data)] if b"<!--" in data else []
    keys: dict[str, int] = {}
    line, counted = 1, 0
    for match in _VISIBLE_KEY.finditer(data):
        start = match.start()
        if hidden and any(begin <= start < end for begin, end in hidden):
            continue
        found = match.group("data")
        if found is None:
            if (
                data[start - 1 : start] not in (b"?", b"&", b";")
                and data[start - 3 : start] != b"%26"
            ):
                continue  # "annotation=" in running text, not a link's parameter
            found = match.group("link")
        key = found.decode("ascii")
        if key not in keys:
            line += data.count(b"\n", counted, start)
            counted = start
            keys[key] = line
    return keys


def paragraph_start(text: str, pos: int) -> int:
    """Where the Markdown paragraph holding ``pos`` starts."""
    start = 0
    for match in _BLANK_LINE.finditer(text, 0, pos):
        start = match.end()
    return start


class LineCounter:
    """Line numbers of positions in a text, asked for mostly in increasing order.

    Counting from the start of the text for every element made a paragraph
    holding many elements cost quadratic time; this counts each stretch once.
    """

    __slots__ = ("_line", "_pos", "_text")

    def __init__(self, text: str, first_line: int = 1) -> None:
        self._text = text
        self._pos = 0
        self._line = first_line

    def line_at(self, pos: int) -> int:
        if pos >= self._pos:
            self._line += self._text.count("\n", self._pos, pos)
        else:
            self._line -= self._text.count("\n", pos, self._pos)
        self._pos = pos
        return self._line


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def strip_quotes(text: str) -> str:
    """Remove one pair of quote marks that Zotero's template put around a highlight."""
    text = text.strip()
    if len(text) >= 2 and QUOTE_PAIRS.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def quote_before(segment: str) -> tuple[int, int] | None:
    """Where the quoted text that ``segment`` ends with starts and ends, if it ends with one.

    Text the user wrote may come first (a line of their own above the quote); the
    quote may span lines and hold quotation marks of its own, so its opening mark
    is found by counting marks back from its closing one.
    """
    end = len(segment.rstrip())
    if end < 2:
        return None
    close = segment[end - 1]
    for opener in (o for o, c in QUOTE_PAIRS.items() if c == close):
        start = _opening(segment, end - 1, opener, close)
        if start is not None:
            return start, end
    return None


def _opening(segment: str, close_at: int, opener: str, close: str) -> int | None:
    if opener == close:  # straight quotes: the nearest mark that opens a word
        at = segment.rfind(opener, 0, close_at)
        while at > 0 and segment[at - 1].isalnum():
            at = segment.rfind(opener, 0, at)
        return at if at >= 0 else None
    depth, pos = 1, close_at
    while (at := segment.rfind(opener, 0, pos)) != -1:
        depth += segment.count(close, at + 1, pos) - 1  # only closing marks lie between
        if depth == 0:
            return at
        pos = at
    return None


def is_quoted(text: str) -> bool:
    text = text.strip()
    return len(text) >= 2 and QUOTE_PAIRS.get(text[0]) == text[-1]


_HTML_TOKENS = r"""&(?P<ent>\#[0-9]{1,7};|\#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)
      | <(?P<close>/?)(?P<tag>[A-Za-z][A-Za-z0-9]*)\b(?:[^<>"']|"[^<"]*"|'[^<']*')*?/?>"""
_MD_TOKEN = re.compile(r"\\(?P<esc>[!-/:-@\[-`{-~]) | " + _HTML_TOKENS, re.VERBOSE)
# The same with unescaped runs of emphasis and strike-through marks, for plain text.
_MD_PLAIN_TOKEN = re.compile(
    r"\\(?P<esc>[!-/:-@\[-`{-~]) | (?P<mark>\*+|_+|~+) | " + _HTML_TOKENS, re.VERBOSE
)
# HTML has no backslash escapes: a "\\" before "<" or "&" there is text, and what follows it
# a tag or a character reference as ever.
_HTML_TOKEN = re.compile(_HTML_TOKENS, re.VERBOSE)
_KEPT_TAGS = {"sub", "sup", "u"}
_MARK_TAGS = {"b": "**", "strong": "**", "i": "*", "em": "*"}


def inline_text(source: str, *, markdown: bool, plain: bool = False) -> str:
    """Turn exporter output into the text the user wrote, in one left-to-right pass.

    Backslash escapes (Markdown only) and character references are decoded
    exactly once; HTML tags become line breaks (``br``), ``**``/``*`` (bold and
    italic), stay (``sub``, ``sup``, ``u``) or are dropped (anything else).
    ``plain`` (a highlight's text, plain in Zotero): every tag but ``br`` is dropped,
    and in Markdown so are the exporter's emphasis marks (see ``is_mark``).
    """

    def replace(match: re.Match[str]) -> str:
        if markdown and (esc := match.group("esc")) is not None:
            return esc
        if (ent := match.group("ent")) is not None:
            return html.unescape("&" + ent)
        if plain and markdown and (run := match.group("mark")) is not None:
            return "" if is_mark(match.string, match.start(), match.end()) else run
        return _tag_text(match.group("tag").lower(), match.group("close"), plain=plain)

    token = (_MD_PLAIN_TOKEN if plain else _MD_TOKEN) if markdown else _HTML_TOKEN
    return token.sub(replace, source)


def _tag_text(tag: str, closing: str, *, plain: bool) -> str:
    if tag == "br":
        return "\n"
    if plain:
        return ""
    if tag in _MARK_TAGS:
        return _MARK_TAGS[tag]
    if tag in _KEPT_TAGS:
        return f"<{closing}{tag}>"
    return ""


def is_mark(text: str, start: int, end: int) -> bool:
    """Whether the unescaped run of ``*``, ``_`` or ``~`` at ``text[start:end]`` is an
    exporter's emphasis (or strike-through) mark: the exporters escape these characters
    where they are text. A run with spaces (or nothing) on both sides cannot open or close
    emphasis, nor can ``_`` inside a word: those are text however they were written."""
    before, after = text[start - 1 : start], text[end : end + 1]
    if not before.strip() and not after.strip():
        return False
    return not (text[start] == "_" and before.isalnum() and after.isalnum())


def markdown_text(source: str, *, plain: bool = False) -> str:
    """Markdown written by an exporter -> text: hard breaks (``\\`` at line end) become
    newlines; ``plain`` as in ``inline_text``."""
    text = re.sub(r"\\(\r?\n)", r"\1", source)
    return inline_text(text, markdown=True, plain=plain).replace("\r\n", "\n")


def plain_markdown_text(source: str) -> str:
    """A highlight's text in Markdown written by an exporter: ``markdown_text``, plain."""
    return markdown_text(source, plain=True)


def clean_comment(text: str) -> str:
    """Trim a comment and its lines' trailing spaces; keep its inner blank lines."""
    lines = [line.rstrip() for line in text.strip().split("\n")]
    return "\n".join(lines)


_SELECT_URL = re.compile(
    r"zotero://select/(?:library|groups/(?P<group>[^/\"]+))/items/(?P<key>[^/?#\")\s]+)"
)
_LOCATOR = re.compile(r",\s*pp?\.\s*(.+)$")


def item_uri(group: str | None, key: str) -> str:
    """The URI Zotero's data would hold for an item (the user's own id is not in links)."""
    library = f"groups/{group}" if group else "users/0"
    return f"http://zotero.org/{library}/items/{key}"


def locator_of(citation_text: str) -> str | None:
    """``Zhao et al., 2023, p. 1`` -> ``1`` (the first cited item's locator)."""
    match = _LOCATOR.search(citation_text.split(";")[0])
    return match.group(1).strip() if match else None


def citation_from_links(source: str, citation_text: str) -> dict[str, Any]:
    """Citation data rebuilt from ``zotero://select/…`` links, as exports without data give."""
    uris = [item_uri(m.group("group"), m.group("key")) for m in _SELECT_URL.finditer(source)]
    return {"citationItems": [{"uris": uris, "locator": locator_of(citation_text) or ""}]}
