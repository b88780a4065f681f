"""Reader for HTML exports: Zotero's note HTML and "Export Note → HTML" (docs/formats.md §1, §3).

Note HTML (``<div data-schema-version=…>``) carries everything Better Notes
does: ``data-annotation`` on highlight, underline and image elements and
``data-citation`` on citations, plus the papers' titles in
``data-citation-items``. Zotero's HTML export strips both data attributes;
keys then survive only in ``zotero://open-pdf/…&annotation=KEY`` links (an
option that is off by default), and annotations without them get stable ids.

The file is read with lxml's HTML parser (see html_tree.py): comments are not
content, entities and attributes are decoded as a browser would.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lxml import etree

from obsync.export import html_tree, titles
from obsync.export import text as common
from obsync.export.assemble import Element, ParagraphReader, file_titles
from obsync.export.links import link_data
from obsync.model import Annotation, InputError

_BLOCK_TAG = re.compile(
    r"</?(?:p|h[1-6]|li|ul|ol|blockquote|div|hr|tr|td|th|table|pre|body|html|head)\b[^>]*>",
    re.IGNORECASE,
)
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


def titles_of(reader: ParagraphReader, root: etree._Element) -> None:
    """Item key -> title, from the note's ``data-citation-items`` (CSL-JSON)."""
    for holder in root.iterfind(".//*[@data-citation-items]"):
        line = html_tree.line_of(holder) or 1
        try:
            items = common.load_json(unquote(holder.get("data-citation-items", "")))
        except ValueError as exc:
            reader.error(line, f"data-citation-items is not valid JSON ({exc})")
            continue
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("itemData"), dict):
                continue
            title = item["itemData"].get("title")
            if not isinstance(title, str) or not (title := title.strip()):
                continue  # the paper's own title, as it is: the data is Zotero's, not a guess
            for uri in item.get("uris", []) if isinstance(item.get("uris"), list) else []:
                if (ref := common.parse_item_uri(uri)) is not None:
                    reader.titles[ref.key] = (title, titles.FROM_DATA)


def _html_text(raw: str) -> str:
    """Note HTML -> text, formatting marked as ``inline_text`` marks it."""
    return common.inline_text(raw, markdown=False)


def _plain_html_text(raw: str) -> str:
    """Note HTML of a highlight -> its text, plain: formatting tags dropped."""
    return common.inline_text(raw, markdown=False, plain=True)


def _link_data(found: list[Element]) -> list[Element]:
    """Give anchors without data what the citation and open link after them say."""
    out = list(found)
    pasted: list[int] = []
    for index, element in enumerate(out):
        if element.kind != "anchor" or element.data:
            continue
        rest = out[index + 1 : index + 4]
        link = next((e for e in rest if e.kind == "link"), None)
        citation = next((e for e in rest if e.kind == "citation"), None)
        if element.image and link is None and citation is None:
            pasted.append(index)  # a picture pasted into the note: no annotation
            continue
        out[index] = _with_link_data(element, link, citation)
    return [e for index, e in enumerate(out) if index not in pasted]


def _first_cited(citation: Element | None) -> Any:
    """The first item of a citation's data (``{}`` if it has none), or None without data."""
    if citation is None or citation.data is None:
        return None
    return (citation.data.get("citationItems") or [{}])[0]


def _with_link_data(anchor: Element, link: Element | None, citation: Element | None) -> Element:
    """An anchor given the data its open link says, with its citation's item (if any)."""
    cited = _first_cited(citation)
    page = cited.get("locator") or None if cited is not None else None
    data = link_data(link.text, page) if link is not None else None
    if data is None:
        return anchor
    if cited is not None and citation is not None and citation.data:
        data["citationItem"] = cited
    return Element(
        anchor.kind,
        anchor.start,
        anchor.end,
        data,
        anchor.text,
        anchor.attrs,
        image=anchor.image,
        line=anchor.line,
    )


def read_text(text: str, path: Path, root: Path) -> tuple[list[Annotation], list[InputError]]:
    """Read one note HTML or Zotero HTML export; never raises on bad input."""
    text = text.removeprefix("\ufeff")
    # Zotero's HTML export strips the data off highlight spans: they are annotations still.
    reader = ParagraphReader(
        path, root.resolve(), text, _html_text, _plain_html_text, spans_without_data=True
    )
    if (cut := common.unfinished_tag(reader.text)) is not None:
        reader.drop_unfinished_end(cut, block_start(reader.text, cut), "an HTML tag")
    elif len(_DIV_OPEN.findall(reader.text)) > len(_DIV_CLOSE.findall(reader.text)):
        end = len(reader.text.rstrip())
        reader.drop_unfinished_end(end, block_start(reader.text, end), "an unclosed <div>")
    tree = html_tree.parse(reader, reader.text)
    if tree is None:
        return [], reader.errors
    titles_of(reader, tree)
    paragraphs = [
        (line, block, _link_data(found))
        for line, block, found in html_tree.paragraphs(reader, tree)
    ]
    drafts = reader.parsed_drafts(paragraphs)
    file_titles(reader, drafts, {})
    return reader.assemble(drafts), reader.errors
