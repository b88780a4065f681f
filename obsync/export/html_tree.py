"""HTML read with a real parser (lxml): annotation elements, citations and the text between.

A parser decodes entities and attributes as a browser does, skips comments, and
repairs what is broken without a word: it closes what a file cut mid-way left
open and stops at an absurd nesting depth. Those two are checked here (or by the
readers before parsing) and reported, so hostile input still gets its error.

A paragraph comes out as text in which each element obsync reads (a highlight,
underline, image, citation or "open in Zotero" link) stands as one placeholder
character, and the list of those elements with their offsets in that text: the
shape every format's paragraphs take (see paragraphs.py). Inline formatting
stays as simple tags (``<b>``, ``<i>``, ``<br>``…) with the text HTML-escaped, so
``common.inline_text`` decodes it exactly once.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from lxml import etree

from obsync.export import common
from obsync.export.paragraphs import STOP, Element, ParagraphReader

PLACEHOLDER = "\ufffc"
_BLOCKS = frozenset(
    {
        *("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote", "div"),
        *("hr", "tr", "td", "th", "table", "thead", "tbody", "pre", "body", "html", "head"),
        *("dd", "dt", "dl", "figure", "figcaption", "section", "article", "header", "footer"),
        "main",
    }
)
_KEPT = frozenset(["b", "strong", "i", "em", "u", "sub", "sup", "s", "del", "code"])
_OPEN_KINDS = ("pdf", "epub", "snapshot")


def parse(reader: ParagraphReader, text: str) -> etree._Element | None:
    """The document's tree; nesting past the parser's limit is reported with its line."""
    parser = etree.HTMLParser(recover=True, no_network=True, remove_blank_text=False)
    try:
        root = etree.fromstring(text, parser) if text.strip() else None
    except (etree.ParserError, ValueError) as exc:
        reader.error(None, f"the HTML cannot be read ({exc})")
        return None
    for entry in parser.error_log:
        if "depth" in entry.message.lower():
            reader.error(entry.line, f"HTML nested too deeply to read: the rest of the file {STOP}")
            break
    return root


class _Paragraph:
    __slots__ = ("elements", "line", "parts", "size")

    def __init__(self, line: int) -> None:
        self.line = line
        self.parts: list[str] = []
        self.elements: list[Element] = []
        self.size = 0

    def add(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.size += len(text)

    def element(self, element: Element) -> None:
        self.elements.append(element)
        self.add(PLACEHOLDER)


def paragraphs(
    reader: ParagraphReader, root: etree._Element
) -> Iterator[tuple[int, str, list[Element]]]:
    """Every block's text and elements, in document order, with the line it starts on."""
    done: list[_Paragraph] = []
    _walk(reader, root, _Paragraph(line_of(root) or 1), done)
    for paragraph in done:
        text = "".join(paragraph.parts)
        if text.strip():
            yield paragraph.line, text, _with_link_parentheses(text, paragraph.elements)


def _walk(
    reader: ParagraphReader, node: etree._Element, current: _Paragraph, done: list[_Paragraph]
) -> _Paragraph:
    """Add ``node``'s content to ``current``; block children start paragraphs of their own."""
    current.add(_escape(node.text))
    for child in node:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag.lower() in _BLOCKS:
            done.append(current)
            current = _walk(reader, child, _Paragraph(line_of(child) or current.line), done)
            done.append(current)
            current = _Paragraph(line_of(child) or current.line)
        elif tag:
            _inline(reader, child, current)
        current.add(_escape(child.tail))
    return current


def _inline(reader: ParagraphReader, node: etree._Element, paragraph: _Paragraph) -> None:
    """An inline element: one obsync reads becomes an element; formatting stays as tags."""
    tag = node.tag.lower() if isinstance(node.tag, str) else ""
    if not tag:
        return  # a comment or processing instruction: not content
    found = _element(reader, node, paragraph.size)
    if found is not None:
        paragraph.element(found)
        return
    if tag == "br":
        paragraph.add("<br>")
        return
    kept = tag in _KEPT
    if kept:
        paragraph.add(f"<{tag}>")
    paragraph.add(_escape(node.text))
    for child in node:
        _inline(reader, child, paragraph)
        paragraph.add(_escape(child.tail))
    if kept:
        paragraph.add(f"</{tag}>")


def inner_source(node: etree._Element) -> str:
    """An element's content as simple HTML: text escaped, formatting and link tags kept."""
    parts = [_escape(node.text)]
    for child in node:
        tag = child.tag.lower() if isinstance(child.tag, str) else ""
        if tag == "br":
            parts.append("<br>")
        elif tag == "a":
            href = html.escape(child.get("href", ""))
            parts.append(f'<a href="{href}">{inner_source(child)}</a>')
        elif tag in _KEPT:
            parts.append(f"<{tag}>{inner_source(child)}</{tag}>")
        elif tag:
            parts.append(inner_source(child))
        parts.append(_escape(child.tail))
    return "".join(parts)


def _element(reader: ParagraphReader, node: etree._Element, at: int) -> Element | None:
    tag = node.tag.lower()
    line = line_of(node)
    attrs = {str(k).lower(): str(v) for k, v in node.attrib.items()}
    classes = attrs.get("class", "").split()
    if tag == "img":
        data: dict[str, Any] | None = {}
        if "data-annotation" in attrs:
            data = reader.decode(attrs["data-annotation"], line, "image annotation")
        kind = "anchor" if data is not None else "broken"
        return Element(kind, at, at + 1, data, "", attrs, image=True, line=line)
    if tag == "a":
        href = attrs.get("href", "")
        label = "".join(str(t) for t in node.itertext()).strip()
        if href.startswith("zotero://open-pdf/") and label in _OPEN_KINDS:
            return Element("link", at, at + 1, None, href, line=line)
        return None
    if tag != "span":
        return None
    ztype = attrs.get("ztype", "")
    if ztype == "zcitation" or "citation" in classes:
        source = inner_source(node)
        text = common.inline_text(source, markdown=False).strip()
        if text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        if "data-citation" in attrs:
            data = reader.decode(attrs["data-citation"], line, "citation")
        else:  # Zotero's HTML export keeps only the links
            data = common.citation_from_links(source, text)
        return Element("citation", at, at + 1, data, text, attrs, line=line)
    if ztype == "zhighlight" or ({"highlight", "underline"} & set(classes)):
        text = common.strip_quotes(common.inline_text(inner_source(node), markdown=False))
        if "data-annotation" not in attrs:  # Zotero's HTML export: the links give the data
            return Element("anchor", at, at + 1, {}, text, attrs, line=line)
        data = reader.decode(attrs["data-annotation"], line, "annotation")
        if data is None:  # reported; the span still owns its citation and comment
            return Element("broken", at, at + 1, None, "", attrs, line=line)
        return Element("anchor", at, at + 1, data, text, attrs, line=line)
    return None


def _with_link_parentheses(text: str, elements: list[Element]) -> list[Element]:
    """An open link is written ``(<a …>pdf</a>)``: its parentheses belong to it, not the text."""
    out: list[Element] = []
    for element in elements:
        if element.kind == "link":
            start, end = element.start, element.end
            before = text[:start].rstrip()
            after = text[end:]
            if before.endswith("(") and after.lstrip().startswith(")"):
                start = len(before) - 1
                end = end + len(after) - len(after.lstrip()) + 1
            element = Element("link", start, end, None, element.text, line=element.line)
        out.append(element)
    return out


def line_of(node: etree._Element) -> int:
    """The line an element starts on, as the parser counted (0 when it could not)."""
    line = node.sourceline
    return line if isinstance(line, int) else 0


def _escape(text: str | None) -> str:
    return html.escape(text, quote=False) if text else ""
