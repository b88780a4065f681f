"""Reader for HTML exports: Zotero's note HTML and "Export Note → HTML" (FORMATS.md §1, §2.2).

Note HTML (``<div data-schema-version=…>``) carries everything Better Notes
does: ``data-annotation`` on highlight, underline and image elements and
``data-citation`` on citations, plus the papers' titles in
``data-citation-items``. Zotero's HTML export strips both data attributes;
keys then survive only in ``zotero://open-pdf/…&annotation=KEY`` links (an
option that is off by default), and annotations without them get stable ids.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from obsync.export import common
from obsync.export.better_notes import inside, span_element
from obsync.export.html_bits import parse_attrs, spans
from obsync.export.paragraphs import Element, ParagraphReader
from obsync.export.zotero_markdown import link_data
from obsync.model import Annotation, InputError

_BLOCK_TAG = re.compile(
    r"</?(?:p|h[1-6]|li|ul|ol|blockquote|div|hr|tr|td|th|table|pre|body|html|head)\b[^>]*>",
    re.IGNORECASE,
)
_IMG = re.compile(r"""<img\b((?:[^<>"']|"[^<"]*"|'[^<']*')*)/?>""", re.IGNORECASE)
_OPEN_LINK = re.compile(
    r"""\(\s*<a\b[^<>]*?href="(zotero://open-pdf/[^<>"]*)"[^<>]*>[^<]*</a>\s*\)""", re.IGNORECASE
)
_CITATION_ITEMS = re.compile(r"""data-citation-items="([^"]*)\"""")


_DIV_OPEN = re.compile(r"<div\b", re.IGNORECASE)
_DIV_CLOSE = re.compile(r"</div\s*>", re.IGNORECASE)


def block_start(text: str, pos: int) -> int:
    """Where the block element (paragraph, heading, list item…) holding ``pos`` starts."""
    start = 0
    for match in _BLOCK_TAG.finditer(text, 0, pos):
        start = match.start()
    return start


def looks_like(text: str) -> bool:
    return "data-schema-version=" in text or 'class="zotero-notes"' in text


def html_blocks(text: str) -> Iterator[tuple[int, str]]:
    """The contents of block elements (paragraphs, headings, list items) with their lines."""
    cursor = 0
    lines = common.LineCounter(text)
    for match in _BLOCK_TAG.finditer(text + "<p>"):
        chunk = text[cursor : match.start()]
        if chunk.strip():
            offset = len(chunk) - len(chunk.lstrip())
            yield lines.line_at(cursor + offset), chunk.strip()
        cursor = match.end()


def titles_of(reader: ParagraphReader, text: str) -> dict[str, str]:
    """Item key -> title, from the note's ``data-citation-items`` (CSL-JSON)."""
    titles: dict[str, str] = {}
    lines = common.LineCounter(text)
    for match in _CITATION_ITEMS.finditer(text):
        line = lines.line_at(match.start())
        try:
            items = common.load_json(unquote(common.inline_text(match.group(1), markdown=False)))
        except ValueError as exc:
            reader.error(line, f"data-citation-items is not valid JSON ({exc})")
            continue
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("itemData"), dict):
                continue
            title = item["itemData"].get("title")
            for uri in item.get("uris", []) if isinstance(item.get("uris"), list) else []:
                if isinstance(title, str) and (ref := common.parse_item_uri(uri)) is not None:
                    titles[ref.key] = title.strip()
    return titles


@dataclass(slots=True)
class NoteHtmlReader(ParagraphReader):
    def text_of(self, raw: str) -> str:
        return common.inline_text(raw, markdown=False)

    def elements(self, block: str, line: int) -> list[Element]:
        found: list[Element] = []
        lines = common.LineCounter(block, line)
        for span in spans(block):
            at = lines.line_at(span.start)
            element = span_element(self, span, at)
            if element is None and span.end != -1:
                element = self.export_span(span)
            if element is not None:
                found.append(element)
        starts = [e.start for e in found]  # in order: spans do not overlap
        images: list[Element] = []
        lines = common.LineCounter(block, line)
        for match in _IMG.finditer(block):
            if inside(found, starts, match.start()):
                continue
            attrs = parse_attrs(match.group(1))
            at = lines.line_at(match.start())
            data: dict[str, Any] | None = {}
            if "data-annotation" in attrs:
                data = self.decode(attrs["data-annotation"], at, "image annotation")
            kind = "anchor" if data is not None else "broken"
            images.append(Element(kind, match.start(), match.end(), data, "", attrs, image=True))
        found = sorted(found + images, key=lambda e: e.start)
        starts = [e.start for e in found]
        links: list[Element] = []
        for match in _OPEN_LINK.finditer(block):
            if not inside(found, starts, match.start()):
                url = html.unescape(match.group(1))
                links.append(Element("link", match.start(), match.end(), None, url))
        found = sorted(found + links, key=lambda e: e.start)
        return _link_data(found)

    def export_span(self, span: Any) -> Element | None:
        """Zotero's HTML export: spans without data; citations keep only their links."""
        classes = span.attrs.get("class", "").split()
        if "highlight" in classes or "underline" in classes:
            text = common.strip_quotes(self.text_of(span.inner))
            return Element("anchor", span.start, span.end, {}, text, span.attrs)
        return None


def _link_data(found: list[Element]) -> list[Element]:
    """Give anchors without data what the citation and open link after them say."""
    out = list(found)
    for index, element in enumerate(out):
        if element.kind != "anchor" or element.data:
            continue
        rest = out[index + 1 : index + 4]
        link = next((e for e in rest if e.kind == "link"), None)
        citation = next((e for e in rest if e.kind == "citation"), None)
        page = None
        if citation is not None and citation.data is not None:
            items = citation.data.get("citationItems") or [{}]
            page = items[0].get("locator") or None
        data = link_data(link.text, page) if link is not None else None
        if data is not None:
            if citation is not None and citation.data:
                data["citationItem"] = (citation.data.get("citationItems") or [{}])[0]
            out[index] = Element(
                element.kind,
                element.start,
                element.end,
                data,
                element.text,
                element.attrs,
                image=element.image,
            )
    return out


def read_text(text: str, path: Path, root: Path) -> tuple[list[Annotation], list[InputError]]:
    """Read one note HTML or Zotero HTML export; never raises on bad input."""
    reader = NoteHtmlReader(path, root.resolve(), text.removeprefix("\ufeff"))
    if (cut := common.unfinished_tag(reader.text)) is not None:
        reader.drop_unfinished_end(cut, block_start(reader.text, cut), "an HTML tag")
    elif len(_DIV_OPEN.findall(reader.text)) > len(_DIV_CLOSE.findall(reader.text)):
        end = len(reader.text.rstrip())
        reader.drop_unfinished_end(end, block_start(reader.text, end), "an unclosed <div>")
    reader.titles.update(titles_of(reader, reader.text))
    return reader.assemble(reader.all_drafts(html_blocks(reader.text))), reader.errors
