"""Pieces every export reader shares: Zotero URIs, annotation JSON, text cleaning."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from obsync.model import Library

_URI = re.compile(
    r"^https?://zotero\.org/(?:users/(?:local/)?[^/]+|groups/(?P<group>[^/]+))/items/(?P<key>[^/?#]+)$"
)
QUOTE_PAIRS = {"“": "”", "„": "“", "«": "»", "»": "«", "‘": "’", '"': '"', "'": "'", "‚": "‘"}


@dataclass(frozen=True, slots=True)
class ItemRef:
    library: Library
    key: str


def parse_item_uri(uri: object) -> ItemRef | None:
    """``http://zotero.org/users/1/items/KEY`` (or groups/…, users/local/…) -> ItemRef."""
    if not isinstance(uri, str):
        return None
    match = _URI.match(uri.strip())
    if match is None:
        return None
    return ItemRef(Library(match.group("group")), match.group("key"))


def decode_json_attr(value: str) -> Any:
    """Decode a ``data-annotation``/``data-citation`` value: URL-decoding then JSON.

    Raises ValueError when the value is not valid JSON.
    """
    return json.loads(unquote(value))


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


def position_sort_key(position: object, fallback_page: str) -> tuple[int, float, float]:
    """Page order: page index, then top to bottom, then left to right."""
    if isinstance(position, dict):
        page_index = position.get("pageIndex")
        rects = position.get("rects")
        if isinstance(page_index, int) and not isinstance(page_index, bool):
            top, left = 0.0, 0.0
            if isinstance(rects, list) and rects and isinstance(rects[0], list):
                with contextlib.suppress(IndexError, TypeError, ValueError):
                    left, top = float(rects[0][0]), -float(rects[0][3])
            return (page_index, top, left)
    if fallback_page.isdigit():
        return (int(fallback_page) - 1, 0.0, 0.0)
    return (1 << 30, 0.0, 0.0)


def stable_id(*parts: str) -> str:
    """A stable id for an annotation without a Zotero key.

    ``obs-`` followed by ten base32 characters of the SHA-256 of the parts,
    so the same annotation read again (or from another file) gets the same id.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()
    return "obs-" + base64.b32encode(digest).decode("ascii")[:10].lower()


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def strip_quotes(text: str) -> str:
    """Remove one pair of quote marks that Zotero's template put around a highlight."""
    text = text.strip()
    if len(text) >= 2 and QUOTE_PAIRS.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def is_quoted(text: str) -> bool:
    text = text.strip()
    return len(text) >= 2 and QUOTE_PAIRS.get(text[0]) == text[-1]


_MD_TOKEN = re.compile(
    r"""\\(?P<esc>[!-/:-@\[-`{-~])
      | &(?P<ent>\#[0-9]{1,7};|\#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)
      | <(?P<close>/?)(?P<tag>[A-Za-z][A-Za-z0-9]*)\b(?:[^>"']|"[^"]*"|'[^']*')*?/?>
    """,
    re.VERBOSE,
)
_KEPT_TAGS = {"sub", "sup", "u"}
_MARK_TAGS = {"b": "**", "strong": "**", "i": "*", "em": "*"}


def inline_text(source: str, *, markdown: bool) -> str:
    """Turn exporter output into the text the user wrote, in one left-to-right pass.

    Backslash escapes (Markdown only) and character references are decoded
    exactly once; HTML tags become line breaks (``br``), ``**``/``*`` (bold and
    italic), stay (``sub``, ``sup``, ``u``) or are dropped (anything else).
    """

    def replace(match: re.Match[str]) -> str:
        if (esc := match.group("esc")) is not None:
            return esc if markdown else match.group(0)
        if (ent := match.group("ent")) is not None:
            return html.unescape("&" + ent)
        tag = match.group("tag").lower()
        closing = match.group("close")
        if tag == "br":
            return "\n"
        if tag in _MARK_TAGS:
            return _MARK_TAGS[tag]
        if tag in _KEPT_TAGS:
            return f"<{closing}{tag}>"
        return ""

    return _MD_TOKEN.sub(replace, source)


def markdown_text(source: str) -> str:
    """Markdown written by an exporter -> text: hard breaks (``\\`` at line end) become newlines."""
    return inline_text(re.sub(r"\\(\r?\n)", r"\1", source), markdown=True).replace("\r\n", "\n")


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
