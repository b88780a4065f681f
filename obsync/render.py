"""Render the generated part of notes: properties and the body above the marker.

Text from exports is shown, never run: raw HTML, code fences, Obsidian
comments and forged marker lines are neutralised here, in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from obsync.colors import color_name, color_tags
from obsync.model import Annotation, AnnotationType, SourceInfo
from obsync.note import Value

ANNOTATION_KEYS = (
    "annotation-key",
    "annotation-type",
    "source",
    "page",
    "color",
    "tags",
    "zotero",
    "citation",
    "annotation-status",
)
SOURCE_KEYS = ("item-key", "title", "citation", "zotero", "tags")
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


def link_label(text: str, limit: int = 80) -> str:
    """Text usable as a wikilink alias: one line, no brackets or pipes, not too long."""
    label = re.sub(r"[\[\]|#^\s]+", " ", text.replace("%%", "%")).strip()
    if len(label) > limit:
        label = label[: limit - 1].rstrip() + "…"
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
    source_stem: str,
    image_name: str | None,
    colors: Mapping[str, Sequence[str]],
    marker: str,
) -> Rendered:
    tags = color_tags(annotation.color, colors)
    properties: list[tuple[str, Value]] = [
        ("annotation-key", annotation.key),
        ("annotation-type", annotation.type.value),
        ("source", wikilink(source_stem)),
        ("page", annotation.page_label),
    ]
    if annotation.color is not None:
        properties.append(("color", annotation.color))
    properties += [
        ("tags", tags),
        ("zotero", annotation.zotero_link),
        ("citation", annotation.citation),
    ]
    parts: list[str] = []
    if annotation.type in (AnnotationType.IMAGE, AnnotationType.INK):
        parts.append(f"![[{image_name}]]" if image_name else "*(image not found in the export)*")
    if annotation.text:
        quoted = neutralise(annotation.text, marker).split("\n")
        parts.append("\n".join(f"> {line}".rstrip() for line in quoted))
    if annotation.comment:
        parts.append(neutralise(annotation.comment, marker))
    footer = [wikilink(source_stem)]
    if annotation.page_label:
        footer.append(f"p. {neutralise(one_line(annotation.page_label), marker)}")
    if annotation.zotero_link:
        footer.append(f"[Open in Zotero](<{annotation.zotero_link}>)")
    parts.append(" · ".join(footer))
    # Neutralised parts cannot hold the marker; this also guards the lines obsync itself makes.
    return Rendered(properties, unforge("\n\n".join(parts), marker) + "\n\n", tags)


def entry_text(annotation: Annotation, stem: str, marker: str) -> str:
    """An annotation's line in its literature note (without the list bullet)."""
    label = link_label(annotation.text or annotation.comment or annotation.type.value, 60)
    page = (
        f"p. {neutralise(link_label(annotation.page_label), marker)} · "
        if annotation.page_label
        else ""
    )
    color = f" · {color_name(annotation.color)}" if annotation.color else ""
    return f"{page}{wikilink(stem, neutralise(label, marker))}{color}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a literature note."""

    sort: tuple[int, float, float, int, str]
    text: str
    removed: bool = False


def source_note(source: SourceInfo, entries: Sequence[Entry], *, marker: str) -> Rendered:
    select = f"zotero://select/{source.library.link_part()}/items/{source.key}"
    properties: list[tuple[str, Value]] = [
        ("item-key", source.key),
        ("title", source.title),
        ("citation", source.citation),
        ("zotero", select),
        ("tags", (SOURCE_TAG,)),
    ]
    lines = [f"# {neutralise(link_label(source.title, 200), marker)}", ""]
    about = [neutralise(source.citation, marker)] if source.citation else []
    about.append(f"[Open in Zotero](<{select}>)")
    lines += [" · ".join(about), "", "## Annotations", ""]
    for entry in sorted(entries, key=lambda e: e.sort):
        lines.append(f"- ~~{entry.text}~~ (removed)" if entry.removed else f"- {entry.text}")
    if not entries:
        lines.append("*(no annotations)*")
    return Rendered(properties, unforge("\n".join(lines), marker) + "\n\n", (SOURCE_TAG,))
