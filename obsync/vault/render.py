"""Render the generated part of notes: properties and the body above the marker.

Text from exports is shown, never run: raw HTML, code fences, Obsidian
comments and forged marker lines are neutralised here, in one place.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from obsync.model import Annotation, Kind, SourceInfo
from obsync.settings import templates as templating
from obsync.settings.colors import color_name, color_tags
from obsync.settings.templates import DEFAULT, Template
from obsync.vault.note import Value

ANNOTATION_KEYS = (
    Kind.ANNOTATION.field,
    "annotation-type",
    "source",
    "page",
    "order",
    "color",
    "tags",
    "author",
    "zotero",
    "citation",
    "annotation-status",
)
SOURCE_KEYS = (Kind.SOURCE.field, "title", "citation", "zotero", "tags")
SOURCE_TAG = "zotero/source"

_ALLOWED_TAG = re.compile(r"</?(?:sub|sup|u)>")
_ENTITY = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# What a block may start inside of: blockquote markers and list markers, in any mix.
_CONTAINERS = r"(?:[ \t]*(?:>|[-+*][ \t]|\d{1,9}[.)][ \t]))*[ \t]*"
_BLOCK_START = re.compile(rf"^({_CONTAINERS})([-=*_]{{3,}}[ \t]*$|\$\$)", re.M)
# Characters Markdown or Obsidian would act on, spelled as character references:
# ` (code spans and fences: Dataview runs `= …` and `$= …`, and ```dataviewjs, ```tasks…),
# ~~~ (fences), %% (Obsidian comments), ![ (embeds of other notes and files).
_INERT = {"`": "&#96;", "~~~": "&#126;~~", "%%": "%&#37;", "![": "!&#91;"}
_ACTIVE = re.compile("|".join(re.escape(k) for k in _INERT))
# Text without any of these is left as it is by every step of neutralise but the last.
_NEEDS_WORK = re.compile(r"[\r&<`~%!]|[-=*_]{3}|\$\$")


def neutralise(text: str, marker: str) -> str:
    """Make export text inert Markdown that shows what the user wrote.

    Line breaks are ``\\n`` only (a lone CR is a line break to Markdown too);
    ``<`` becomes ``&lt;`` (no HTML, no Templater ``<% %>``) except Zotero's own
    ``<sub> <sup> <u>``; character references stay literal; backticks and
    ``~~~`` cannot make code (Dataview's inline ``= …``/``$= …`` queries or a
    fenced ``dataviewjs``/``tasks`` block), ``%%`` cannot open an Obsidian
    comment and ``![`` cannot embed another note: each is written with a
    character reference; rules and ``$$`` at a line start, even inside a quote
    or a list item, are escaped; a line that would read as the marker is escaped.
    """
    if not _NEEDS_WORK.search(text):  # most highlights: nothing but the marker to check
        return unforge(text, marker)
    return neutralise_all(text, marker)


def neutralise_all(text: str, marker: str) -> str:
    """:func:`neutralise`, every step taken whatever the text holds."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ENTITY.sub("&amp;", text)
    pieces = _ALLOWED_TAG.split(text)
    kept = _ALLOWED_TAG.findall(text)
    text = "".join(
        piece.replace("<", "&lt;") + (kept[i] if i < len(kept) else "")
        for i, piece in enumerate(pieces)
    )
    text = _ACTIVE.sub(lambda m: _INERT[m.group(0)], text)
    text = _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return unforge(text, marker)


def unforge(text: str, marker: str) -> str:
    """Escape every line of ``text`` that would read as the marker line."""
    if marker not in text:
        return text
    return "\n".join("\\" + line if line.strip() == marker else line for line in text.split("\n"))


def one_line(text: str) -> str:
    return " ".join(text.split())


# A tag's characters (Obsidian): anything but whitespace and ASCII punctuation, though
# "-", "/" and "_" are; a tag holds one that is not a digit (#123 is no tag, #1a is).
_TAG_CHARS = r"[^\s!-,.:-@\[-^`{-~]"
_TAG = rf"\#(?=[0-9]*(?![0-9]){_TAG_CHARS})"
# What would act in text taken from a PDF, each written so it shows its characters: a
# backslash escape where CommonMark and Obsidian honour one, else a character reference
# (Obsidian, Dataview and the marker are matched against the file's own characters).
_LITERAL = re.compile(
    rf"""(?P<backslash>\\(?=[!-/:-@\[-`{{-~]|[ \t]*(?:\n|\Z)))
    | (?P<reference>`|<|%%|::
        |&(?=\#[0-9]{{1,7}};|\#[xX][0-9a-fA-F]{{1,6}};|[A-Za-z][A-Za-z0-9]{{1,31}};))
    | (?P<line_start>(?m:^)(?:[>#=+:-]|[0-9]{{1,9}}[.)](?=[ \t]|$)))
    | (?P<tag>{_TAG})
    | (?P<always>[*$|])
    | (?P<underscore>_(?![^\W_])|(?<![^\W_])_)
    | (?P<run>(?<=~)~|~(?=~)|(?<==)=|=(?==))
    | (?P<bracket>\[(?=[\[!^])|(?<=[\[!^])\[|\](?=[(\[:]))
    | (?P<block_id>\^(?=[A-Za-z0-9-]+[ \t]*$))
    """,
    re.VERBOSE | re.MULTILINE,
)
_REFERENCES = {"`": "&#96;", "<": "&lt;", "%%": "%&#37;", "::": ":&#58;", "&": "&amp;"}
_INDENT = re.compile(r"^[ \t]+", re.M)
# Text without any of these is left as it is by literal_all but for the marker check.
_LITERAL_WORK = re.compile(r"[\\`*_~=$|<&%\[\]^#>+\r]|(?m:^)[ \t0-9:=-]|::")


def literal(text: str, marker: str) -> str:
    """Text from a PDF (a highlight) as Markdown showing exactly its characters.

    Nothing in it acts in CommonMark or Obsidian: no emphasis, code, HTML, links,
    wikilinks, embeds, tags, callouts, footnotes, block ids, comments, highlights,
    maths, tables or block syntax at a line's start. Common prose punctuation within a
    line is left as it is; lines lose their indentation (Markdown would not show it, and
    four spaces make code). Line breaks are ``\\n`` only.
    """
    if not _LITERAL_WORK.search(text):  # most highlights: nothing but the marker to check
        return unforge(text, marker)
    return literal_all(text, marker)


def literal_all(text: str, marker: str) -> str:
    """:func:`literal`, every step taken whatever the text holds."""
    text = _INDENT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return unforge(_LITERAL.sub(_literal_piece, text), marker)


def _literal_piece(match: re.Match[str]) -> str:
    found = match.group(0)
    kind = match.lastgroup
    if kind == "reference":
        return _REFERENCES[found[0] if found[0] == "&" else found]
    if kind == "block_id":
        return "&#94;"
    if kind == "line_start" and found[0].isdigit():
        return f"{found[:-1]}\\{found[-1]}"  # 1\. and 1\) start no list
    return "\\" + found


_LIVE_LINK = re.compile(rf"(\\*)({_TAG}|\[(?=\[)|(?<=\[)\[)")


def comment_text(comment: str, marker: str, *, links: bool = True) -> str:
    """A comment (the user's own writing) as Markdown: its rich text kept, neutralised
    as :func:`neutralise` does; unless ``links``, its ``#tags`` and ``[[links]]`` are
    escaped as a highlight's are."""
    if not links:
        comment = _LIVE_LINK.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), comment)
    return neutralise(comment, marker)


# What a wikilink's alias cannot hold, and what stands for it: close-looking characters
# (Obsidian reads an alias up to "]]" and honours no escape in it but "\\|" in tables).
_ALIAS = str.maketrans({"|": "\u2223", "[": "\uff3b", "]": "\uff3d"})


def link_label(text: str, limit: int = 80) -> str:
    """Text usable as a wikilink alias: one line, no brackets or pipes, not too long.

    ``|`` becomes U+2223 DIVIDES, ``[`` and ``]`` FULLWIDTH SQUARE BRACKETs (look-alikes
    the alias shows); ``%%`` becomes ``%``."""
    return shortened(one_line(text.replace("%%", "%")).translate(_ALIAS), limit)


def shortened(label: str, limit: int) -> str:
    """``label`` cut to ``limit`` characters, at a word's end if it can, with an ellipsis."""
    if len(label) > limit:
        cut = label[: limit - 1]
        if label[limit - 1] != " " and " " in cut[limit // 2 :]:
            cut = cut[: cut.rfind(" ")]  # at a word's end; text without spaces is cut anywhere
        label = cut.rstrip() + "…"
    return label


def wikilink(stem: str, label: str | None = None) -> str:
    return f"[[{stem}|{label}]]" if label else f"[[{stem}]]"


@dataclass(frozen=True, slots=True)
class Rendered:
    properties: list[tuple[str, Value]]
    body: str
    generated_tags: tuple[str, ...]


def annotation_note(
    annotation: Annotation,
    *,
    order: str = "",
    tag_prefix: str = "",
    source_stem: str,
    image_name: str | None,
    colors: Mapping[str, Sequence[str]],
    marker: str,
    template: Template = DEFAULT.annotation,
    comment_links: bool = True,
) -> Rendered:
    tags = tuple(dict.fromkeys(
        (*color_tags(annotation.color, colors), *zotero_tags(annotation.tags, tag_prefix))
    ))  # fmt: skip
    properties: list[tuple[str, Value]] = [
        (Kind.ANNOTATION.field, annotation.key),
        ("annotation-type", annotation.type.value),
        ("source", wikilink(source_stem)),
        ("page", annotation.page_label),
        ("order", order or annotation.sort_index or annotation.page_sort),
    ]
    if annotation.color is not None:
        properties.append(("color", annotation.color))
    properties.append(("tags", tags))
    if annotation.author:
        properties.append(("author", annotation.author))
    properties += [
        ("zotero", annotation.zotero_link),
        ("citation", annotation.citation),
    ]
    values = annotation_values(
        annotation, source_stem, image_name, tags, marker, comment_links=comment_links
    )
    return Rendered(properties, _body(template, values, marker), tags)


def annotation_values(
    annotation: Annotation,
    source_stem: str,
    image_name: str | None,
    tags: Sequence[str],
    marker: str,
    *,
    comment_links: bool = True,
) -> dict[str, object]:
    """What an annotation template sees (the README lists each).

    The highlighted text and the page are shown literally; the comment keeps its
    rich text, and its ``#tags`` and ``[[links]]`` work if ``comment_links``."""
    return {
        "key": annotation.key,
        "type": annotation.type.value,
        "text": literal(annotation.text, marker),
        "comment": comment_text(annotation.comment, marker, links=comment_links),
        "page": literal(one_line(annotation.page_label), marker),
        "color": annotation.color,
        "color_name": color_name(annotation.color) if annotation.color else None,
        "tags": list(tags),
        "citation": neutralise(annotation.citation, marker),
        "source": wikilink(source_stem),
        "source_name": source_stem,
        "zotero": annotation.zotero_link,
        "image": image_name,
    }


_NOT_IN_TAG = re.compile(r"[^\w/-]+")


def obsidian_tag(name: str) -> str:
    """A Zotero tag as a valid Obsidian tag: each run of characters a tag cannot hold
    (spaces, punctuation but ``_ - /``) becomes one ``-``, but beside a ``/``; no ``/`` at
    either end or twice in a row; a name of digits alone gets a ``_`` before it (``#1984``
    is no tag). ``"to read"`` -> ``to-read``; ``"methods / RCT"`` -> ``methods/RCT``."""
    tag = _NOT_IN_TAG.sub("-", name.strip().lstrip("#"))
    tag = re.sub(r"-*/[-/]*", "/", tag).strip("/-")
    if tag.isdigit():
        tag = "_" + tag
    return tag


def zotero_tags(names: Sequence[str], prefix: str) -> tuple[str, ...]:
    """An annotation's Zotero tags as the note's tags, each after ``prefix``."""
    tags = (obsidian_tag(name) for name in names)
    return tuple(dict.fromkeys(prefix + tag for tag in tags if tag))


def _body(template: Template, values: Mapping[str, object], marker: str) -> str:
    """A template's text as a note body: ends in one blank line, holds no marker line."""
    text = templating.render(template, values).replace("\r\n", "\n").replace("\r", "\n")
    return unforge(text.strip("\n"), marker) + "\n\n"


def entry_link(annotation: Annotation, stem: str, marker: str) -> str:
    """An annotation's link in its literature note, labelled with the start of its text."""
    label = link_label(annotation.text or annotation.comment or annotation.type.value, 60)
    return wikilink(stem, neutralise(label, marker))


@dataclass(frozen=True, slots=True)
class Entry:
    """One annotation in a literature note."""

    sort: tuple[str, str]  # (its place in Zotero's order, its key)
    link: str
    page: str = ""
    color: str | None = None
    removed: bool = False


def source_note(
    source: SourceInfo,
    entries: Sequence[Entry],
    *,
    marker: str,
    template: Template = DEFAULT.source,
) -> Rendered:
    select = f"zotero://select/{source.library.link_part()}/items/{source.key}"
    properties: list[tuple[str, Value]] = [
        (Kind.SOURCE.field, source.key),
        ("title", source.title),
        ("citation", source.citation),
        ("zotero", select),
        ("tags", (SOURCE_TAG,)),
    ]
    values = source_values(source, select, entries, marker)
    return Rendered(properties, _body(template, values, marker), (SOURCE_TAG,))


def source_values(
    source: SourceInfo, select: str, entries: Sequence[Entry], marker: str
) -> dict[str, object]:
    """What a literature note template sees (the README lists each)."""
    ordered = [_entry_values(e, marker) for e in sorted(entries, key=lambda e: e.sort)]
    pages: list[dict[str, object]] = []
    for entry in ordered:
        if not pages or pages[-1]["page"] != entry["page"]:
            pages.append({"page": entry["page"], "entries": []})
        pages[-1]["entries"].append(entry)  # type: ignore[attr-defined]
    counts = Counter(e.color for e in entries if e.color and not e.removed)
    return {
        "key": source.key,
        "title": literal(shortened(one_line(source.title), 200), marker),
        "citation": neutralise(source.citation, marker),
        "zotero": select,
        "entries": ordered,
        "pages": pages,
        "colors": [
            {"color": color, "name": color_name(color), "count": count}
            for color, count in sorted(counts.items(), key=lambda c: (-c[1], color_name(c[0])))
        ],
    }


def _entry_values(entry: Entry, marker: str) -> dict[str, object]:
    return {
        "link": entry.link,
        "page": literal(shortened(one_line(entry.page), 80), marker) if entry.page else "",
        "color": entry.color,
        "color_name": color_name(entry.color) if entry.color else None,
        "removed": entry.removed,
    }
