"""Zotero's Markdown links: citations, "open in Zotero" links, and the quotes before them.

Zotero's "Export Note → Markdown" (with links) writes a highlight as its quoted
text, a citation ``([Zhao et al., 2023, p. 1](zotero://select/…))`` and an open
link ``([pdf](zotero://open-pdf/…?page=1&annotation=KEY))``. The same links turn
up pasted into Better Notes files. This module finds them in a paragraph; the
Markdown readers share it.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from obsync.export import text as common
from obsync.export.assemble import Element, ParagraphReader

# A URL holds balanced parentheses (``?sel=p%3Anth-child(147)``, EPUB CFIs), one level deep.
_URL = r"(?:[^()\s]|\([^()\s]{0,500}\)){0,4000}"
OPEN_LINK = re.compile(rf"\(\s*\[(?:pdf|epub|snapshot)\]\((zotero://open-pdf/{_URL})\)\s*\)")
# Bounded lengths: unbounded runs made a line of unclosed links take quadratic time.
# A label holds no "[": a "[" before it is the quoted text's ("see [1, 2” ([Zhao…](…))").
_ITEM_LINK = r"\[([^\[\]\n]{0,2000})\]\((zotero://select/[^)\s(\[\]]{0,500})\)"
CITATION_LINKS = re.compile(rf"\(({_ITEM_LINK}(?:;\s*{_ITEM_LINK})*)\)")
ONE_ITEM = re.compile(_ITEM_LINK)
_IMAGE = re.compile(r"\[image\]")
_OPEN = re.compile(r"zotero://open-pdf/(?:library|groups/(?P<group>[^/]+))/items/(?P<key>[^/?#]+)")


def has_links(text: str) -> bool:
    return "](zotero://open-pdf/" in text or "](zotero://select/" in text


def link_data(url: str, page_label: str | None) -> dict[str, Any] | None:
    """An ``open-pdf`` link as the annotation data Zotero's note HTML would carry.

    The page label is the citation's locator when there is one: the link's
    ``page=`` is the physical page (``pageIndex + 1``), which differs from the
    printed label in most books.
    """
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
    elif page_label is not None:
        data["pageLabel"] = page_label
    return data


def link_elements(block: str) -> list[Element]:
    """Citations, open links and ``[image]`` placeholders in a paragraph, in order.

    A citation is ``([A; B](zotero://select/…))``, or a bare ``[“Title”, p. 51](zotero://select/…)``
    glued to the text before it, as users paste them.
    """
    found: list[Element] = []
    taken: list[tuple[int, int]] = []
    for match in CITATION_LINKS.finditer(block):
        found.append(_citation(match.group(1), match.start(), match.end()))
        taken.append(match.span())
    for match in ONE_ITEM.finditer(block):
        if not any(start <= match.start() < end for start, end in taken):
            found.append(_citation(match.group(0), match.start(), match.end()))
    found += [
        Element("link", m.start(), m.end(), None, m.group(1)) for m in OPEN_LINK.finditer(block)
    ]
    found += [
        Element("anchor", m.start(), m.end(), {}, "", image=True) for m in _IMAGE.finditer(block)
    ]
    return sorted(found, key=lambda e: e.start)


def _citation(source: str, start: int, end: int) -> Element:
    data, text = _citation_of(source)
    return Element("citation", start, end, data, text)


@functools.lru_cache(maxsize=1024)  # a paper's citations repeat, page after page
def _citation_of(source: str) -> tuple[dict[str, Any], str]:
    text = "; ".join(label for label, _url in ONE_ITEM.findall(source))
    return common.citation_from_links(source, text), text


def anchor_quotes(reader: ParagraphReader, block: str, found: list[Element]) -> list[Element]:
    """Make anchors of the quoted text before citations and open links.

    A quote then a citation is a highlight; the open link after the citation (or,
    for a PDF without a parent item, right after the quote) gives its key,
    attachment and page. Text with an open link but no quote marks (the user
    removed them) is a highlight too: an open link is written only for one.
    """
    out: list[Element] = []
    for index, element in enumerate(found):
        following = found[index + 1] if index + 1 < len(found) else None
        start = out[-1].end if out else 0
        out += _with_anchor(reader, block, start, element, following)
    return _image_page_labels(out)


def _with_anchor(
    reader: ParagraphReader, block: str, start: int, element: Element, following: Element | None
) -> list[Element]:
    """``element``, after the anchor the quoted text between ``start`` and it makes, if any;
    an ``[image]`` placeholder is given the data of the open link ``following`` it."""
    link = following if following is not None and following.kind == "link" else None
    if element.kind == "citation":
        page = common.locator_of(element.text)
        anchor = _quoted(reader, block, start, element.start, link, page)
    elif element.kind == "link" and block[start : element.start].strip():
        anchor = _quoted(reader, block, start, element.start, element, None)
    elif element.kind == "anchor" and element.image:
        # [image] ([pdf](…)) then the citation on the next line.
        data = link_data(link.text, None) if link else None
        return [Element("anchor", element.start, element.end, data or {}, "", image=True)]
    else:
        anchor = None
    return [element] if anchor is None else [anchor, element]


def _image_page_labels(out: list[Element]) -> list[Element]:
    """Give images their page label: their citation's locator, which comes after their link."""
    for index, element in enumerate(out):
        if element.image and element.data and index + 2 < len(out):
            citation = out[index + 2] if out[index + 1].kind == "link" else out[index + 1]
            page = common.locator_of(citation.text) if citation.kind == "citation" else None
            if page is not None:
                data = {**element.data, "pageLabel": page}
                out[index] = Element("anchor", element.start, element.end, data, "", image=True)
    return out


def _quoted(
    reader: ParagraphReader,
    block: str,
    start: int,
    end: int,
    link: Element | None,
    page: str | None,
) -> Element | None:
    segment = block[start:end]
    data = link_data(link.text, page) if link is not None else None
    where = common.quote_before(segment)
    if where is not None:
        quote_start, quote_end = start + where[0], start + where[1]
    elif data is not None and "annotationKey" in data:
        quote_start = start + len(segment) - len(segment.lstrip())
        quote_end = start + len(segment.rstrip())
    else:
        return None
    if data is None:
        return None  # quoted text and a citation only: the reader makes it a keyless highlight
    text = common.strip_quotes(reader.plain_of(block[quote_start:quote_end]))
    return Element("anchor", quote_start, quote_end, data, text)
