"""Reader for Zotero's own "Export Note → Markdown" (FORMATS.md §2.1), with or without links.

With "Include Zotero Links" each highlight is followed by its citation
``([Zhao et al., 2023, p. 1](zotero://select/…))`` and an open link
``([pdf](zotero://open-pdf/…?page=1&annotation=KEY))``: the key, attachment and
page come from that link. Without links, only the quoted text and the
citation ``(Zhao et al., 2023, p. 1)`` remain: such annotations get stable ids.
No format here carries colours or image files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from obsync.export import common
from obsync.export.better_notes import markdown_blocks
from obsync.export.paragraphs import Element, ParagraphReader
from obsync.model import Annotation, InputError

_URL = r"(?:[^()\s]|\([^()\s]*\))*"
OPEN_LINK = re.compile(rf"\(\[(?:pdf|epub|snapshot)\]\((zotero://open-pdf/{_URL})\)\)")
# Bounded lengths: unbounded runs made a line of unclosed links take quadratic time.
_ITEM_LINK = r"\[([^\]\n]{0,2000})\]\((zotero://select/[^)\s(\[\]]{0,500})\)"
CITATION_LINKS = re.compile(rf"\(({_ITEM_LINK}(?:;\s*{_ITEM_LINK})*)\)")
_ONE_ITEM = re.compile(_ITEM_LINK)
# A citation without links: (Zhao et al., 2023, p. 1), (“Title”, p. 3), (Zhao et al., 2023)
PLAIN_CITATION = re.compile(
    r"\(((?:[^()\n]*?,\s*)?(?:\d{4}[a-z]?|n\.d\.)(?:,\s*pp?\.\s*[^()\n]+)?"
    r"|[^()\n]+?,\s*pp?\.\s*[^()\n]+)\)"
)
_IMAGE = re.compile(r"\[image\]")
_OPEN = re.compile(r"zotero://open-pdf/(?:library|groups/(?P<group>[^/]+))/items/(?P<key>[^/?#]+)")
QUOTES = "“„«»‘‚\"'"


def looks_like(text: str) -> bool:
    if "](zotero://open-pdf/" in text or "](zotero://select/" in text:
        return True
    return any(_plain_annotation(block) for _line, block in markdown_blocks(text))


def _plain_annotation(block: str) -> bool:
    match = PLAIN_CITATION.search(block)
    if match is None:
        return False
    before = block[: match.start()].strip()
    return not before or (before[0] in QUOTES and common.is_quoted(before))


def link_data(url: str, page_label: str | None) -> dict[str, Any] | None:
    """An ``open-pdf`` link as the annotation data Zotero's note HTML would carry."""
    match = _OPEN.match(url)
    if match is None:
        return None
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    data: dict[str, Any] = {
        "attachmentURI": common.item_uri(match.group("group"), match.group("key"))
    }
    if key := query.get("annotation", [""])[0]:
        data["annotationKey"] = key
    page = query.get("page", [""])[0]
    if page.isdigit():
        data["position"] = {"pageIndex": int(page) - 1}
        data["pageLabel"] = page_label if page_label is not None else page
    elif cfi := query.get("cfi", [""])[0]:
        data["position"] = {"type": "FragmentSelector", "value": unquote(cfi)}
        data["pageLabel"] = page_label or ""
    elif sel := query.get("sel", [""])[0]:
        data["position"] = {"type": "CssSelector", "value": unquote(sel)}
        data["pageLabel"] = page_label or ""
    return data


_ESCAPED_ANYWHERE = re.compile(r"\\([*`\[\]_\\])")
_ESCAPED_AT_START = re.compile(r"^\\([-+=#>])|^(\d+)\\(\.)", re.M)


def markdown_text(raw: str) -> str:
    """Zotero Markdown -> text: hard breaks (two spaces) and turndown's escapes undone."""
    text = re.sub(r" {2,}\r?\n", "\n", raw.lstrip(" "))
    text = _ESCAPED_AT_START.sub(lambda m: m.group(1) or m.group(2) + m.group(3), text)
    return _ESCAPED_ANYWHERE.sub(r"\1", text)


@dataclass(slots=True)
class ZoteroMarkdownReader(ParagraphReader):
    def text_of(self, raw: str) -> str:
        return markdown_text(raw)

    def elements(self, block: str, line: int) -> list[Element]:
        found: list[Element] = []
        for match in CITATION_LINKS.finditer(block):
            text = "; ".join(label for label, _url in _ONE_ITEM.findall(match.group(1)))
            data = common.citation_from_links(match.group(1), text)
            found.append(Element("citation", match.start(), match.end(), data, text))
        if not found and "zotero://" not in block:
            for match in PLAIN_CITATION.finditer(block):
                text = match.group(1).strip()
                data = common.citation_from_links("", text)
                found.append(Element("citation", match.start(), match.end(), data, text))
        links = [
            Element("link", m.start(), m.end(), None, m.group(1)) for m in OPEN_LINK.finditer(block)
        ]
        found += links
        found += [
            Element("anchor", m.start(), m.end(), {}, "", image=True)
            for m in _IMAGE.finditer(block)
        ]
        found.sort(key=lambda e: e.start)
        return self._anchor_highlights(block, found)

    def _anchor_highlights(self, block: str, found: list[Element]) -> list[Element]:
        """Quoted text before a citation is a highlight; the open link after gives its data."""
        out: list[Element] = []
        for index, element in enumerate(found):
            following = found[index + 1] if index + 1 < len(found) else None
            link = following if following is not None and following.kind == "link" else None
            if element.kind == "citation":
                start = out[-1].end if out else 0
                quoted = block[start : element.start].strip()
                page = common.locator_of(element.text)
                if quoted and common.is_quoted(self.text_of(quoted)):
                    data = link_data(link.text, page) if link else None
                    if data is not None:
                        offset = block.index(quoted, start)
                        text = common.strip_quotes(self.text_of(quoted))
                        out.append(Element("anchor", offset, offset + len(quoted), data, text))
                out.append(element)
            elif element.kind == "anchor" and element.image:
                # [image] ([pdf](…)) then the citation on the next line.
                data = link_data(link.text, None) if link else None
                out.append(
                    Element("anchor", element.start, element.end, data or {}, "", image=True)
                )
            else:
                out.append(element)
        # An image's page label is its citation's locator, which comes after its link.
        for index, element in enumerate(out):
            if element.image and element.data and index + 2 < len(out):
                citation = out[index + 2] if out[index + 1].kind == "link" else out[index + 1]
                page = common.locator_of(citation.text) if citation.kind == "citation" else None
                if page is not None:
                    out[index] = Element(
                        "anchor",
                        element.start,
                        element.end,
                        {**element.data, "pageLabel": page},
                        "",
                        image=True,
                    )
        return out


def read_text(text: str, path: Path, root: Path) -> tuple[list[Annotation], list[InputError]]:
    """Read one Zotero Markdown export; never raises on bad input."""
    reader = ZoteroMarkdownReader(path, root.resolve(), text.removeprefix("\ufeff"))
    if (cut := common.unfinished_link(reader.text)) is not None:
        start = common.paragraph_start(reader.text, cut)
        reader.drop_unfinished_end(cut, start, "a Zotero link")
    return reader.assemble(reader.all_drafts(markdown_blocks(reader.text))), reader.errors
