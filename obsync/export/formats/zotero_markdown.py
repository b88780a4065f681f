"""Reader for Zotero's own "Export Note → Markdown", with or without links (docs/formats.md §2).

With "Include Zotero Links" each highlight is followed by its citation
``([Zhao et al., 2023, p. 1](zotero://select/…))`` and an open link
``([pdf](zotero://open-pdf/…?page=1&annotation=KEY))``: the key, attachment and
page come from that link (see links.py). Without links, only the quoted
text and the citation ``(Zhao et al., 2023, p. 1)`` remain: such annotations get
stable ids. No format here carries colours or image files.
"""

from __future__ import annotations

import re
from pathlib import Path

from obsync.export import links as zotero_links
from obsync.export import text as common
from obsync.export.assemble import (
    Draft,
    Element,
    ParagraphReader,
    attach_orphan_citations,
    file_titles,
    line_quote,
)
from obsync.export.markdown import front_matter, markdown_blocks
from obsync.model import Annotation, InputError

# A citation without links: (Zhao et al., 2023, p. 1), (“Title”, p. 3), (Zhao et al., 2023)
PLAIN_CITATION = re.compile(
    r"\(((?:[^()\n]*?,\s*)?(?:\d{4}[a-z]?|n\.d\.)(?:,\s*pp?\.\s*[^()\n]+)?"
    r"|[^()\n]+?,\s*pp?\.\s*[^()\n]+)\)"
)
# An Obsidian footnote holding a pasted annotation: ``[](“quote” ([cite](…)) ([pdf](…)) comment)``.
_EMPTY_LINK_AROUND = re.compile(r"\A\[\]\((.*)\)\s*\Z", re.DOTALL)


def looks_like(text: str) -> bool:
    if zotero_links.has_links(text):
        return True
    return any(_plain_annotation(block) for _line, block in markdown_blocks(text))


def _plain_annotation(block: str) -> bool:
    match = PLAIN_CITATION.search(block)
    if match is None:
        return False
    before = block[: match.start()].strip()
    return not before or line_quote(before) is not None


_ESCAPED_ANYWHERE = re.compile(r"\\([*`\[\]_\\])")
_ESCAPED_AT_START = re.compile(r"^\\([-+=#>])|^(\d+)\\(\.)", re.M)


def markdown_text(raw: str) -> str:
    """Zotero Markdown -> text: hard breaks (two spaces) and turndown's escapes undone."""
    return _ESCAPED_ANYWHERE.sub(r"\1", _unescaped_starts(raw))


# Zotero escapes every "*" of text: an unescaped run is turndown's emphasis ("*", "**").
_ESCAPED_OR_MARK = re.compile(r"\\([*`\[\]_\\])|\*+")


def plain_text(raw: str) -> str:
    """A highlight's text in Zotero Markdown: ``markdown_text`` without the emphasis marks
    turndown wrote for bold and italics (a run that is no mark is text, see ``is_mark``)."""

    def replace(match: re.Match[str]) -> str:
        if (escaped := match.group(1)) is not None:
            return escaped
        mark = common.is_mark(match.string, match.start(), match.end())
        return "" if mark else match.group(0)

    return _ESCAPED_OR_MARK.sub(replace, _unescaped_starts(raw))


def _unescaped_starts(raw: str) -> str:
    """Hard breaks as newlines, and the escapes at a line's start undone."""
    text = re.sub(r" {2,}\r?\n", "\n", raw.lstrip(" "))
    return _ESCAPED_AT_START.sub(lambda m: m.group(1) or m.group(2) + m.group(3), text)


def _paragraph_drafts(reader: ParagraphReader, block: str, line: int) -> list[Draft]:
    """The annotations of one paragraph, read inside the footnote that holds it if it
    is one (its lines counted in the paragraph as written, as they always were)."""
    inner = _EMPTY_LINK_AROUND.match(block)
    paragraph = block if inner is None else inner.group(1)
    found = _elements(reader, paragraph)
    return list(reader.drafts(paragraph, found, common.LineCounter(block, line)))


def _elements(reader: ParagraphReader, block: str) -> list[Element]:
    """Citations, open links and the quotes before them in one paragraph."""
    found = zotero_links.link_elements(block)
    if "zotero://" not in block:
        for match in PLAIN_CITATION.finditer(block):
            text = match.group(1).strip()
            data = common.citation_from_links("", text)
            found.append(Element("citation", match.start(), match.end(), data, text))
        found.sort(key=lambda e: e.start)
    return zotero_links.anchor_quotes(reader, block, found)


def read_text(text: str, path: Path, root: Path) -> tuple[list[Annotation], list[InputError]]:
    """Read one Zotero Markdown export; never raises on bad input."""
    reader = ParagraphReader(
        path, root.resolve(), text.removeprefix("\ufeff"), markdown_text, plain_text
    )
    if (cut := common.unfinished_link(reader.text)) is not None:
        start = common.paragraph_start(reader.text, cut)
        reader.drop_unfinished_end(cut, start, "a Zotero link")
    fields, body_line = front_matter(reader)
    blocks = markdown_blocks(reader.text, body_line)
    drafts = attach_orphan_citations(
        [d for line, block in blocks for d in _paragraph_drafts(reader, block, line)]
    )
    file_titles(reader, drafts, fields, body_line - 1)
    return reader.assemble(drafts), reader.errors
