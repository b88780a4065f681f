"""Reader for Better Notes Markdown exports, every version (docs/formats.md §4).

Better Notes keeps Zotero's annotation spans as raw HTML lines inside Markdown
(``ztype="zhighlight"``, ``ztype="zcitation"``) and image annotations as
``![\\<img … ztype="zimage"> | width](attachments/KEY.png)``; comments are
Markdown escaped by remark, with ``\\`` at a line end for a line break.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from obsync.export import html_tree
from obsync.export import links as zotero_links
from obsync.export import text as common
from obsync.export.assemble import Element, ParagraphReader, file_titles
from obsync.export.markdown import HEADER, front_matter, markdown_blocks
from obsync.model import Annotation, AnnotationType, InputError

_ZIMAGE = 'ztype="zimage"'
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

    def paragraph_read(
        self, line: int, text: str, found: list[Element]
    ) -> tuple[int, str, list[Element]]:
        """One Markdown paragraph, its raw HTML read by the parser (see
        html_tree.markdown_paragraphs): its images and any of Zotero's Markdown links
        pasted in are added to what the parser found."""
        if "![" not in text and _ZIMAGE not in text and "](zotero://" not in text:
            return line, text, found  # most paragraphs: nothing more to find
        lines = common.LineCounter(text, line)
        read = 0  # Better Notes' image markers in images that were read (annotations or not)
        for match in _IMAGE.finditer(text):
            read += match.group(1).count(_ZIMAGE)
            element = self.image_element(match, lines.line_at(match.start()))
            if element is not None:
                found.append(element)
        if _ZIMAGE in text and text.count(_ZIMAGE) > read:
            self.error(
                common.LineCounter(text, line).line_at(text.index(_ZIMAGE)),
                "a Better Notes image is not a well-formed Markdown image: not read",
            )
        found.sort(key=lambda e: e.start)
        if zotero_links.has_links(text) and _PASTED.search(text):  # Zotero's links, pasted
            pasted = zotero_links.anchor_quotes(self, text, zotero_links.link_elements(text))
            found += [
                e for e in pasted if e.kind != "citation" or _quoted_or_linked(e, pasted, text)
            ]
            found.sort(key=lambda e: e.start)
        return line, text, found

    def image_element(self, match: re.Match[str], line: int) -> Element | None:
        alt = common.inline_text(match.group(1), markdown=True)
        if "zimage" not in alt:
            return None
        attrs = html_tree.first_img(alt)
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
# What a pasted Zotero link reads only beside: a whole open link, or a quote's closing mark
# right before a citation's "[" (else a Better Notes file's link is text of the user's).
_PASTED = re.compile(
    rf"{zotero_links.OPEN_LINK.pattern}|[{''.join(sorted(_CLOSING_QUOTES))}]\s*\(?\[[^\]\n]*\]\(zotero://select/"
)


_ANNOTATION_SPAN = re.compile(r"<span\b[^<>]*(?:ztype=|data-annotation=)[^<>]*>", re.IGNORECASE)
_SPAN_START = re.compile(r"<span\b[^<>]*>", re.IGNORECASE)
_SPAN_END = re.compile(r"</span\s*>", re.IGNORECASE)


def _unclosed_span(block: str) -> int | None:
    """Where the outermost ``<span>`` starts that no ``</span>`` closes, if an annotation's
    span is among those left open (a cut file): the parser would close it at the
    paragraph's end, and a half-written annotation would be read as whole."""
    opened = block.count("<span")  # lower case, as Better Notes writes; others are rare
    if (opened <= block.count("</span") and "<SPAN" not in block and "<Span" not in block) or (
        not _ANNOTATION_SPAN.search(block)
    ):
        return None
    edges = sorted(
        [(m.start(), 1) for m in _SPAN_START.finditer(block)]
        + [(m.start(), -1) for m in _SPAN_END.finditer(block)]
    )
    depth, outer = 0, 0
    for at, step in edges:
        if depth == 0 and step == 1:
            outer = at
        depth = max(0, depth + step)
    if depth == 0 or _ANNOTATION_SPAN.search(block, outer) is None:
        return None
    return outer


def read_text(text: str, path: Path, root: Path) -> tuple[list[Annotation], list[InputError]]:
    """Read one Better Notes Markdown file's text; never raises on bad input."""
    reader = BetterNotesReader(
        path,
        root.resolve(),
        text.removeprefix("\ufeff"),
        common.markdown_text,
        common.plain_markdown_text,
    )
    fields, body_line = front_matter(reader)
    if (cut := common.unfinished_tag(reader.text, markdown=True)) is not None:
        start = common.paragraph_start(reader.text, cut)
        reader.drop_unfinished_end(cut, start, "an HTML tag")
    blocks = list(markdown_blocks(reader.text, body_line))
    # A file cut short opens more spans than it closes (counted once for the file).
    cut_short = reader.text.count("<span") > reader.text.count("</span") or "<S" in reader.text
    for index, (line, block) in enumerate(blocks if cut_short else ()):
        if (cut := _unclosed_span(block)) is not None:
            at = line + block.count("\n", 0, cut)
            reader.error(at, "an annotation's <span> is never closed (truncated export?)")
            blocks[index] = (line, block[:cut])
    parsed = html_tree.markdown_paragraphs(reader, blocks)
    drafts = reader.parsed_drafts(reader.paragraph_read(*p) for p in parsed)
    file_titles(reader, drafts, fields, body_line - 1)
    return reader.assemble(drafts), reader.errors
