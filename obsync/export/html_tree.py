"""HTML read with a real parser (lxml): annotation elements, citations and the text between.

A parser decodes entities and attributes as a browser does, skips comments, and
repairs what is broken without a word: it closes what a file cut mid-way left
open and stops at an absurd nesting depth. Those two are checked here (or by the
readers before parsing) and reported, so hostile input still gets its error.

A paragraph comes out as text in which each element obsync reads (a highlight,
underline, image, citation or "open in Zotero" link) stands as one placeholder
character, and the list of those elements with their offsets in that text: the
shape every format's paragraphs take (see assemble.py). Inline formatting
stays as simple tags (``<b>``, ``<i>``, ``<br>``…) with the text HTML-escaped, so
``common.inline_text`` decodes it exactly once.
"""

from __future__ import annotations

import bisect
import html
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

from lxml import etree

from obsync.export import text as common
from obsync.export.assemble import STOP, Element, ParagraphReader

PLACEHOLDER = "\ufffc"
_BLOCKS = frozenset(
    {
        *("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote", "div"),
        *("hr", "tr", "td", "th", "table", "thead", "tbody", "pre", "body", "html", "head"),
        *("dd", "dt", "dl", "figure", "figcaption", "section", "article", "header", "footer"),
        "main",
    }
)
# Tags inline_text reads as formatting (the rest it drops, keeping their text).
_FORMATTING = ("b", "strong", "i", "em", "u", "sub", "sup", "br")
_KEPT = frozenset(["b", "strong", "i", "em", "u", "sub", "sup", "s", "del", "code"])
_OPEN_KINDS = ("pdf", "epub", "snapshot")
_READ_TAGS = ("span", "img", "a")  # the elements obsync may read; the rest is formatting
_MAY_READ = re.compile(r"<(?:span|img|a)\b", re.IGNORECASE)
# One parser for each thread (a parser is not to be shared between threads; it holds no
# document between parses, so one per thread serves every file).
_PARSERS = threading.local()


def _parser() -> etree.HTMLParser:
    parser: etree.HTMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.HTMLParser(recover=True, no_network=True)
    return parser


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
    __slots__ = ("elements", "escape", "line", "markup", "parts", "size")

    def __init__(self, line: int, *, markdown: bool = False) -> None:
        self.line = line
        self.parts: list[str] = []
        self.elements: list[Element] = []
        self.size = 0
        # Text the parser decoded, and formatting as the parser writes it, for inline_text.
        self.escape: Callable[[str | None], str] = _markdown_escape if markdown else _escape
        self.markup: Callable[[str], str] = _markdown_markup if markdown else str

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
    current.add(current.escape(node.text))
    for child in node:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag.lower() in _BLOCKS:
            done.append(current)
            current = _walk(reader, child, _Paragraph(line_of(child) or current.line), done)
            done.append(current)
            current = _Paragraph(line_of(child) or current.line)
        elif tag:
            _inline(reader, child, current)
        current.add(current.escape(child.tail))
    return current


def _inline(
    reader: ParagraphReader, node: etree._Element, paragraph: _Paragraph, offset: int = 0
) -> None:
    """An inline element: one obsync reads becomes an element; formatting stays as tags.
    ``offset`` is added to the parser's line numbers (a paragraph parsed on its own)."""
    tag = node.tag if isinstance(node.tag, str) else ""  # lower case: the parser's
    if not tag:
        return  # a comment or processing instruction: not content
    if tag in _READ_TAGS:
        found = _element(reader, node, paragraph.size, offset)
        if found is not None:
            paragraph.element(found)
            return
    elif next(node.iter(*_READ_TAGS), None) is None:  # formatting only: as the parser writes it
        paragraph.add(
            paragraph.markup(etree.tostring(node, encoding=str, method="html", with_tail=False))
        )
        return
    if tag == "br":
        paragraph.add("<br>")
        return
    kept = tag in _KEPT
    if kept:
        paragraph.add(f"<{tag}>")
    paragraph.add(paragraph.escape(node.text))
    for child in node:
        _inline(reader, child, paragraph, offset)
        paragraph.add(paragraph.escape(child.tail))
    if kept:
        paragraph.add(f"</{tag}>")


# The Markdown of a Better Notes paragraph stands aside while the parser reads its raw HTML:
# outside the elements Better Notes writes as HTML, every "\\" and "&", and the "<" of a
# Markdown escape ("\\<") or of a link's address ("](<"), become private-use characters, one
# for one, so the parser decodes no entity and reads no tag in Markdown, and they are put back
# in the whole text at the end without moving any element. Whatever "\\", "&" or "<" the parser
# gives back as text then came from raw HTML, decoded once, and is escaped for Markdown.
_BACKSLASH, _AMP, _LT = "\ue000", "\ue001", "\ue002"
_PUT_BACK = str.maketrans({_BACKSLASH: "\\", _AMP: "&", _LT: "<"})
# Elements Better Notes writes as raw HTML (hast-util-to-html): their content is HTML, with
# entities and no Markdown escapes (highlights, citations, colour spans, links to notes).
_RAW = frozenset({"span", "a"})
# Elements Better Notes writes with their text as it is, neither escaped for HTML nor for
# Markdown (its u, sub and sup handlers write "<u>" + toText(node) + "</u>").
_LITERAL = frozenset({"u", "sub", "sup"})
_HAS_LITERAL = re.compile(r"<(?:u|sub|sup)>")
_SCAN = re.compile(
    r"<(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9]*)\b(?:[^<>\"']|\"[^<\"]*\"|'[^<']*')*?/?>"
    r"|\\[!-/:-@\[-`{-~]?|&|\]\(<"
)


# Each paragraph's container: a name no export can hold (it changes with every process),
# so none can close it early.
_CONTAINER = f"obsync-{secrets.token_hex(6)}"
# A paragraph with this many tags is read on its own: were it nested past the parser's
# limit, the parser would stop there and lose the paragraphs after it.
_ALONE_FROM = 200


def markdown_paragraphs(
    reader: ParagraphReader, blocks: list[tuple[int, str]]
) -> list[tuple[int, str, list[Element]]]:
    """Markdown paragraphs holding raw HTML (Better Notes'), read with the parser.

    Each comes back as Markdown text in which each element read is a placeholder (as
    in ``paragraphs``); everything else stays as the exporter wrote it, but for
    formatting tags (written as the parser writes them). The paragraphs with elements
    to read are parsed as one document (or a few, for a large file), each in a
    container of its own that closes whatever it leaves open; a paragraph of hundreds
    of tags is parsed alone (see _ALONE_FROM).
    """
    out: list[tuple[int, str, list[Element]]] = [(line, block, []) for line, block in blocks]
    batch: list[int] = []
    size = 0
    for index, (line, block) in enumerate(blocks):
        if "<" not in block:
            continue
        if _MAY_READ.search(block) is None:  # no element to read: formatting stays for inline_text
            if _HAS_LITERAL.search(block):
                out[index] = (line, _put_back(markdown_aside(block)), [])
            continue
        if block.count("<") >= _ALONE_FROM:
            _parse_into(reader, blocks, [index], out)
            continue
        batch.append(index)
        size += len(block)
        if size >= _BATCH_BYTES:
            _parse_into(reader, blocks, batch, out)
            batch, size = [], 0
    if batch:
        _parse_into(reader, blocks, batch, out)
    return out


# Paragraphs parsed in one document up to about this size: one parse per export, as a rule,
# and a bounded tree for a file of many megabytes.
_BATCH_BYTES = 4 << 20


def _parse_into(
    reader: ParagraphReader,
    blocks: list[tuple[int, str]],
    indices: list[int],
    out: list[tuple[int, str, list[Element]]],
) -> None:
    for index, parsed in zip(indices, _parsed(reader, [blocks[i] for i in indices]), strict=True):
        out[index] = parsed  # one for each paragraph, read or (past a parser's stop) empty


def markdown_aside(block: str) -> str:
    """A Better Notes paragraph with its Markdown set aside for the parser (see _BACKSLASH),
    and the text of its literal elements (see _LITERAL) written as Markdown escapes."""
    out: list[str] = []
    depth, pos = 0, 0  # depth: inside how many raw HTML elements
    unclosed: set[str] = set()  # literal elements with no closing tag after here
    while (match := _SCAN.search(block, pos)) is not None:
        out.append(block[pos : match.start()])
        pos = match.end()
        token = match.group(0)
        name = (match.group("name") or "").lower()
        if name:
            out.append(token)
            if name in _RAW and not token.endswith("/>"):
                depth = max(0, depth + (-1 if match.group("close") else 1))
            elif depth == 0 and token[1:-1] in _LITERAL and token[1:-1] not in unclosed:
                pos = _literal(block, pos, token[1:-1], out, unclosed)
        else:
            out.append(token if depth else _hidden(token))
    out.append(block[pos:])
    return "".join(out)


def _hidden(token: str) -> str:
    """A Markdown escape, "&" or "](<", as the characters that stand aside for it."""
    if token == "](<":
        return "](" + _LT
    if token == "&":
        return _AMP
    return _BACKSLASH + {"<": _LT, "&": _AMP, "\\": _BACKSLASH}.get(token[1:], token[1:])


def _literal(block: str, pos: int, name: str, out: list[str], unclosed: set[str]) -> int:
    """The text of a literal element opened before ``pos``, as escapes standing aside, and its
    closing tag; where its text ends."""
    end = block.find(f"</{name}>", pos)
    if end == -1:
        unclosed.add(name)  # none later either: not looked for again
        return pos
    out.append(_LITERAL_TEXT.sub(lambda m: _hidden("\\" + m.group(0)), block[pos:end]))
    out.append(f"</{name}>")
    return end + len(name) + 3


# What the Markdown after the parser would read as more than text: escapes, references,
# tags, and the emphasis marks a highlight's plain text drops (see common.is_mark).
_LITERAL_TEXT = re.compile(r"[\\&<*_~]")


def _parsed(
    reader: ParagraphReader, blocks: list[tuple[int, str]]
) -> Iterator[tuple[int, str, list[Element]]]:
    sources, starts, at = [], [], 1  # each container's first line in the document
    for _line, block in blocks:
        block = _unfinished_as_text(markdown_aside(block))
        sources.append(f"<{_CONTAINER}>{block}</{_CONTAINER}>\n")
        starts.append(at)
        at += block.count("\n") + 1
    parser = _parser()
    root = _parse_quietly("".join(sources), parser)
    for entry in parser.error_log:
        if "depth" in entry.message.lower():
            index = max(0, bisect.bisect_right(starts, entry.line) - 1)
            where = blocks[index][0] + entry.line - starts[index]
            reader.error(where, f"HTML nested too deeply to read: the rest of the file {STOP}")
            break
    containers = [] if root is None else list(root.iterfind(f"body/{_CONTAINER}"))
    for (line, _block), start, node in zip(blocks, starts, containers, strict=False):
        paragraph = _Paragraph(line, markdown=True)
        paragraph.add(paragraph.escape(node.text))
        for child in node:
            _inline(reader, child, paragraph, line - start)
            paragraph.add(paragraph.escape(child.tail))
        yield line, _put_back("".join(paragraph.parts)), paragraph.elements
    for line, _block in blocks[len(containers) :]:
        yield line, "", []  # the parser stopped before it (reported above)


def first_img(source: str) -> dict[str, str]:
    """The attributes of the first ``<img>`` in ``source`` (an image's alt text), or none."""
    if "<" not in source:
        return {}
    root = _parse_quietly(source)
    image = root.find(".//img") if root is not None else None
    if image is None:
        return {}
    return {str(k).lower(): str(v) for k, v in image.items()}


def _markdown_escape(text: str | None) -> str:
    """Text the parser gave back, in a Markdown paragraph: every "\\", "&" and "<" in it is
    text (the Markdown's own stood aside), escaped so that inline_text reads it as text."""
    if not text:
        return ""
    return _MARKDOWN_SPECIAL.sub(r"\\\g<0>", text) if _MARKDOWN_SPECIAL.search(text) else text


_MARKDOWN_SPECIAL = re.compile(r"[\\&<]")


def _markdown_markup(markup: str) -> str:
    """Formatting as the parser writes it, in a Markdown paragraph: a "\\" is text."""
    return markup.replace("\\", "\\\\")


def _put_back(text: str) -> str:
    return text.translate(_PUT_BACK)


def inner_source(node: etree._Element) -> str:
    """An element's content as HTML (as the parser writes it): what ``common.inline_text``
    reads; links keep their addresses."""
    parts = [_escape(node.text)]
    parts += (etree.tostring(child, encoding=str, method="html") for child in node)
    return "".join(parts)


def inner_text(node: etree._Element) -> str:
    """An element's text, formatting marked as ``common.inline_text`` marks it."""
    if next(node.iter(*_FORMATTING), None) is None:
        return "".join(cast(Iterator[str], node.itertext()))  # plain: the parser decoded it
    return common.inline_text(inner_source(node), markdown=False)


def plain_text(node: etree._Element) -> str:
    """An element's text as plain text: line breaks kept, formatting tags dropped."""
    if next(node.iter("br"), None) is None:
        return "".join(cast(Iterator[str], node.itertext()))  # the parser decoded it
    return common.inline_text(inner_source(node), markdown=False, plain=True)


def _element(
    reader: ParagraphReader, node: etree._Element, at: int, offset: int = 0
) -> Element | None:
    """The element an HTML node is (an image, open link, citation or highlight), or None."""
    tag = node.tag
    line = line_of(node) + offset
    attrs = {str(k): str(v) for k, v in node.items()}  # names lower-cased by the parser
    classes = attrs.get("class", "").split()
    if tag == "img":
        return _image(reader, attrs, at, line)
    if tag == "a":
        return _open_link(node, attrs, at, line)
    if tag != "span":
        return None
    ztype = attrs.get("ztype", "")
    if ztype == "zcitation" or "citation" in classes:
        return _citation(reader, node, attrs, at, line)
    if ztype == "zhighlight" or ({"highlight", "underline"} & set(classes)):
        return _highlight(reader, node, attrs, at, line)
    return None


def _image(reader: ParagraphReader, attrs: dict[str, str], at: int, line: int) -> Element:
    """An ``<img>``: an image annotation, broken if its data cannot be read."""
    data: dict[str, Any] | None = {}
    if "data-annotation" in attrs:
        data = reader.decode(attrs["data-annotation"], line, "image annotation")
    kind = "anchor" if data is not None else "broken"
    return Element(kind, at, at + 1, data, "", attrs, image=True, line=line)


def _open_link(node: etree._Element, attrs: dict[str, str], at: int, line: int) -> Element | None:
    """An ``<a>`` that opens an annotation in Zotero (labelled pdf, epub…), else None."""
    href = attrs.get("href", "")
    label = "".join(str(t) for t in node.itertext()).strip()
    if href.startswith("zotero://open-pdf/") and label in _OPEN_KINDS:
        return Element("link", at, at + 1, None, href, line=line)
    return None


def _citation(
    reader: ParagraphReader, node: etree._Element, attrs: dict[str, str], at: int, line: int
) -> Element:
    """A citation span: its text without parentheses, its data or the links it holds."""
    text = inner_text(node).strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if "data-citation" in attrs:
        data = reader.decode(attrs["data-citation"], line, "citation")
    else:  # Zotero's HTML export keeps only the links
        data = common.citation_from_links(inner_source(node), text)
    return Element("citation", at, at + 1, data, text, attrs, line=line)


def _highlight(
    reader: ParagraphReader, node: etree._Element, attrs: dict[str, str], at: int, line: int
) -> Element | None:
    """A highlight or underline span: an anchor, broken if its data is lost or unreadable."""
    ztype = attrs.get("ztype", "")
    if not ztype and not reader.spans_without_data and "data-annotation" not in attrs:
        return None  # text in a highlight's colours, no more
    text = common.strip_quotes(plain_text(node))
    if "data-annotation" not in attrs:
        if ztype:  # Better Notes' highlight that lost its data: no annotation to make
            return Element("broken", at, at + 1, None, "", attrs, line=line)
        return Element("anchor", at, at + 1, {}, text, attrs, line=line)  # links give data
    data = reader.decode(attrs["data-annotation"], line, "annotation")
    if data is None:  # reported; the span still owns its citation and comment
        return Element("broken", at, at + 1, None, "", attrs, line=line)
    return Element("anchor", at, at + 1, data, text, attrs, line=line)


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


def _unfinished_as_text(block: str) -> str:
    """``block`` with each "<" whose tag never ends (no ">" before the next "<") written as
    ``&lt;``: Markdown takes it for text, and so must the parser, which would read a tag
    up to the next "<"."""
    cuts: list[int] = []
    at = block.find("<")
    while at != -1:
        closing = block.find(">", at + 1)
        if closing == -1:  # no ">" left: every "<" from here is text (found once, not per "<")
            while at != -1:
                cuts.append(at)
                at = block.find("<", at + 1)
            break
        following = block.find("<", at + 1)
        while following != -1 and following < closing:
            cuts.append(at)  # another "<" before this one's ">"
            at, following = following, block.find("<", following + 1)
        at = following
    if not cuts:
        return block
    parts: list[str] = []
    start = 0
    for cut in cuts:
        parts += (block[start:cut], "&lt;")
        start = cut + 1
    return "".join(parts) + block[start:]


def _parse_quietly(text: str, parser: etree.HTMLParser | None = None) -> etree._Element | None:
    """The tree of ``text``, or None where lxml refuses it (an XML declaration, say)."""
    try:
        return etree.fromstring(text, parser or _parser())
    except (etree.ParserError, ValueError):
        return None


def line_of(node: etree._Element) -> int:
    """The line an element starts on, as the parser counted (0 when it could not)."""
    line = node.sourceline
    return line if isinstance(line, int) else 0


def _escape(text: str | None) -> str:
    return html.escape(text, quote=False) if text else ""
