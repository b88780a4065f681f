"""Reader for Better Notes Markdown exports (all versions, SPEC §1, FORMATS.md §2.3).

Better Notes keeps Zotero's annotation spans as raw HTML lines inside Markdown
(``ztype="zhighlight"``, ``ztype="zcitation"``) and image annotations as
``![\\<img … ztype="zimage"> | width](attachments/KEY.png)``; comments are
Markdown escaped by remark, with ``\\`` at a line end for a line break.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

from obsync.export import common, zotero_links
from obsync.export.html_bits import Span, first_tag, spans
from obsync.export.markdown import HEADER, front_matter, markdown_blocks
from obsync.export.paragraphs import Element, ParagraphReader, file_titles
from obsync.model import Annotation, AnnotationType, InputError

_ZIMAGE = 'ztype="zimage"'
_ZIMAGE_AT = re.compile(re.escape(_ZIMAGE))
# An image's alt text never holds another "![" (its data is URL-encoded): an unclosed
# one then costs only the text up to the next, keeping hostile lines linear.
_IMAGE = re.compile(r"!\[((?:\\[^!\n]|!(?!\[)|[^\\\]!\n])*)\]\((<[^>\n]*>|[^)\s]*)\)")


def looks_like(text: str) -> bool:
    """Better Notes leaves ``ztype="z…"`` markers, or ``$itemKey``/``itemKey`` in its header."""
    if 'ztype="z' in text:
        return True
    header = HEADER.match(text)
    return header is not None and _ITEM_KEY.search(header.group(1)) is not None


# ``$itemKey: ABCD2345`` (``itemKey`` before Better Notes 1.1.4), or in a one-line JSON header.
_ITEM_KEY = re.compile(r"""^[ \t]*["']?\$?itemKey["']?[ \t]*:|["']\$?itemKey["'][ \t]*:""", re.M)


@dataclass(slots=True)
class BetterNotesReader(ParagraphReader):
    bare_quote: AnnotationType = AnnotationType.UNDERLINE

    def text_of(self, raw: str) -> str:
        return common.markdown_text(raw)

    def elements(self, block: str, line: int) -> list[Element]:
        found: list[Element] = []
        lines = common.LineCounter(block, line)
        for span in spans(block):
            element = span_element(self, span, lines.line_at(span.start))
            if element is not None:
                found.append(element)
        starts = [e.start for e in found]  # in order: spans do not overlap
        images: list[Element] = []
        lines = common.LineCounter(block, line)
        read = 0  # Better Notes' image markers in images that were read (annotations or not)
        for match in _IMAGE.finditer(block):
            if inside(found, starts, match.start()):
                continue
            read += match.group(1).count(_ZIMAGE)
            element = self.image_element(match, lines.line_at(match.start()))
            if element is not None:
                images.append(element)
        if _ZIMAGE in block:
            markers = [m.start() for m in _ZIMAGE_AT.finditer(block)]
            markers = [at for at in markers if not inside(found, starts, at)]
            if len(markers) > read:
                self.error(
                    common.LineCounter(block, line).line_at(markers[0]),
                    "a Better Notes image is not a well-formed Markdown image: not read",
                )
        found = sorted(found + images, key=lambda e: e.start)
        if zotero_links.has_links(block):  # Zotero's Markdown links, pasted in
            parts: list[str] = []
            cursor = 0
            for element in found:  # what the elements hold is blanked, offsets kept
                parts += (block[cursor : element.start], " " * (element.end - element.start))
                cursor = element.end
            text = "".join(parts) + block[cursor:]
            pasted = zotero_links.anchor_quotes(self, text, zotero_links.link_elements(text))
            found += [
                e for e in pasted if e.kind != "citation" or _quoted_or_linked(e, pasted, text)
            ]
            found.sort(key=lambda e: e.start)
        return found

    def image_element(self, match: re.Match[str], line: int) -> Element | None:
        alt = common.inline_text(match.group(1), markdown=True)
        if "zimage" not in alt:
            return None
        attrs = first_tag(alt, "img") or {}
        if "data-annotation" not in attrs:
            return None  # a pasted image, not an annotation
        data = self.decode(attrs["data-annotation"], line, "image annotation")
        kind = "anchor" if data is not None else "broken"
        url = match.group(2).strip("<>")
        return Element(kind, match.start(), match.end(), data, "", attrs, image=True, url=url)


def _quoted_or_linked(citation: Element, pasted: list[Element], text: str) -> bool:
    """A pasted citation that belongs to a quote or an open link, not one in running text:
    a Better Notes file's own notes have Better Notes' citations."""
    if text[: citation.start].rstrip()[-1:] in _CLOSING_QUOTES:
        return True
    at = pasted.index(citation)
    before = pasted[at - 1] if at > 0 else None
    after = pasted[at + 1] if at + 1 < len(pasted) else None
    return (before is not None and before.kind == "anchor") or (
        after is not None and after.kind == "link"
    )


_CLOSING_QUOTES = frozenset(common.QUOTE_PAIRS.values())


def inside(found: list[Element], starts: list[int], pos: int) -> bool:
    """Whether ``pos`` is inside one of ``found`` (sorted, not overlapping, ``starts`` theirs)."""
    index = bisect.bisect_right(starts, pos) - 1
    return index >= 0 and pos < found[index].end


def span_element(reader: ParagraphReader, span: Span, at: int) -> Element | None:
    """A highlight, underline or citation ``<span>`` (Better Notes' or Zotero's note HTML)."""
    ztype = span.attrs.get("ztype", "")
    classes = span.attrs.get("class", "").split()
    if span.end == -1:
        if ztype or "data-annotation" in span.attrs:
            reader.error(at, "an annotation's <span> is never closed (truncated export?)")
        return None
    if ztype == "zcitation" or "citation" in classes:
        data = reader.decode(span.attrs.get("data-citation"), at, "citation")
        text = common.inline_text(span.inner, markdown=False).strip()
        if text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        if "data-citation" not in span.attrs:  # Zotero's HTML export keeps only the links
            data = common.citation_from_links(span.inner, text)
        return Element("citation", span.start, span.end, data, text, span.attrs)
    if ztype == "zhighlight" or (
        {"highlight", "underline"} & set(classes) and "data-annotation" in span.attrs
    ):
        data = reader.decode(span.attrs.get("data-annotation"), at, "annotation")
        if data is None:  # reported; the span still owns its citation and comment
            return Element("broken", span.start, span.end, None, "", span.attrs)
        text = common.strip_quotes(common.inline_text(span.inner, markdown=False))
        return Element("anchor", span.start, span.end, data, text, span.attrs)
    return None


def read_text(text: str, path: Path, root: Path) -> tuple[list[Annotation], list[InputError]]:
    """Read one Better Notes Markdown file's text; never raises on bad input."""
    reader = BetterNotesReader(path, root.resolve(), text.removeprefix("\ufeff"))
    fields, body_line = front_matter(reader)
    if (cut := common.unfinished_tag(reader.text, markdown=True)) is not None:
        start = common.paragraph_start(reader.text, cut)
        reader.drop_unfinished_end(cut, start, "an HTML tag")
    drafts = reader.all_drafts(markdown_blocks(reader.text, body_line))
    file_titles(reader, drafts, fields, body_line - 1)
    return reader.assemble(drafts), reader.errors
