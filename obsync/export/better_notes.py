"""Reader for Better Notes Markdown exports (all versions, SPEC §1, FORMATS.md §2.3)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from obsync.colors import normalise
from obsync.export import common
from obsync.export.common import ItemRef
from obsync.export.html_bits import Span, first_tag, spans
from obsync.model import Annotation, AnnotationType, InputError, Location, SourceInfo

_HEADER = re.compile(r"\A---[ \t]*\r?\n((?:.*\r?\n)*?)---[ \t]*(?:\r?\n|\Z)")
_PREFIX = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?(?:#{1,6}[ \t]+)?")
_IMAGE = re.compile(r"!\[((?:\\.|[^\\\]\n])*)\]\((<[^>\n]*>|[^)\s]*)\)")
_LOCATOR = re.compile(r",\s*pp?\.\s*[^,;]*$")

TITLE_FROM_HEADER = 3
TITLE_FROM_CITATION = 1


def looks_like(text: str) -> bool:
    """Better Notes leaves ``ztype="z…"`` markers, or ``$itemKey``/``itemKey`` in its header."""
    if 'ztype="z' in text:
        return True
    header = _HEADER.match(text)
    return header is not None and re.search(r"^\$?itemKey:", header.group(1), re.M) is not None


@dataclass(frozen=True, slots=True)
class _Element:
    kind: str  # "anchor" (highlight, underline or image), "citation", or "broken" (bad data)
    start: int
    end: int
    data: dict[str, Any] | None  # decoded data-annotation / data-citation
    text: str  # visible text (anchor) or citation string
    attrs: dict[str, str]
    url: str = ""  # image URL


@dataclass(slots=True)
class _Draft:
    """An annotation being assembled from one paragraph."""

    line: int
    anchor: _Element | None
    citation: _Element | None = None
    before: str = ""  # plain text before a citation in an anchor-less paragraph
    comment_parts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Reader:
    path: Path
    root: Path
    text: str
    errors: list[InputError] = field(default_factory=list)
    seen_ids: Counter[str] = field(default_factory=Counter)
    main_parent: str | None = None  # the item most annotations in the file belong to

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(InputError(self.path, line, message))

    # -- the file -------------------------------------------------------------

    def header(self) -> tuple[dict[str, str], int]:
        """The YAML header's string values and the line the body starts on."""
        match = _HEADER.match(self.text)
        if match is None:
            return {}, 1
        body_line = 1 + match.group(0).count("\n")
        try:
            loaded = yaml.load(match.group(1), Loader=yaml.BaseLoader)  # YAML 1.2-like: all strings
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = 2 + mark.line if mark is not None else 1
            self.error(line, f"YAML header is not valid YAML ({getattr(exc, 'problem', exc)})")
            return {}, body_line
        if not isinstance(loaded, dict):
            return {}, body_line
        return {str(k): v for k, v in loaded.items() if isinstance(v, str)}, body_line

    def blocks(self, start_line: int) -> Iterator[tuple[int, str]]:
        """Paragraphs (runs of non-blank lines) with container prefixes removed."""
        lines = self.text.split("\n")
        block: list[str] = []
        first = 0
        for number, raw in enumerate(lines[start_line - 1 :], start=start_line):
            line = raw.rstrip("\r")
            if line.strip() == "":
                if block:
                    yield first, "\n".join(block)
                    block = []
                continue
            if not block:
                first = number
            block.append(_PREFIX.sub("", line, count=1))
        if block:
            yield first, "\n".join(block)

    # -- elements of a paragraph ------------------------------------------------

    def elements(self, block: str, line: int) -> list[_Element]:
        found: list[_Element] = []
        for span in spans(block):
            element = self.span_element(span, block, line)
            if element is not None:
                found.append(element)
        for match in _IMAGE.finditer(block):
            if any(e.start <= match.start() < e.end for e in found):
                continue
            element = self.image_element(match, line + block.count("\n", 0, match.start()))
            if element is not None:
                found.append(element)
        return sorted(found, key=lambda e: e.start)

    def span_element(self, span: Span, block: str, line: int) -> _Element | None:
        at = line + block.count("\n", 0, span.start)
        ztype = span.attrs.get("ztype", "")
        classes = span.attrs.get("class", "").split()
        if span.end == -1:
            if ztype or "data-annotation" in span.attrs:
                self.error(at, "an annotation's <span> is never closed (truncated export?)")
            return None
        if ztype == "zcitation" or "citation" in classes:
            data = self.decode(span.attrs.get("data-citation"), at, "citation")
            text = common.inline_text(span.inner, markdown=False).strip()
            if text.startswith("(") and text.endswith(")"):
                text = text[1:-1].strip()
            return _Element("citation", span.start, span.end, data, text, span.attrs)
        if ztype == "zhighlight" or (
            {"highlight", "underline"} & set(classes) and "data-annotation" in span.attrs
        ):
            data = self.decode(span.attrs.get("data-annotation"), at, "annotation")
            if data is None:  # reported; the span still owns its citation and comment
                return _Element("broken", span.start, span.end, None, "", span.attrs)
            text = common.strip_quotes(common.inline_text(span.inner, markdown=False))
            return _Element("anchor", span.start, span.end, data, text, span.attrs)
        return None

    def image_element(self, match: re.Match[str], line: int) -> _Element | None:
        alt = common.inline_text(match.group(1), markdown=True)
        if "zimage" not in alt:
            return None
        attrs = first_tag(alt, "img") or {}
        if "data-annotation" not in attrs:
            return None  # a pasted image, not an annotation
        data = self.decode(attrs["data-annotation"], line, "image annotation")
        if data is None:
            return _Element("broken", match.start(), match.end(), None, "", attrs)
        url = match.group(2).strip("<>")
        return _Element("anchor", match.start(), match.end(), data, "", attrs, url=url)

    def decode(self, value: str | None, line: int, what: str) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            data = common.decode_json_attr(value)
        except ValueError as exc:
            self.error(line, f"{what} data is not valid JSON ({exc})")
            return None
        if not isinstance(data, dict):
            self.error(line, f"{what} data is not a JSON object")
            return None
        return data

    # -- assembling annotations ------------------------------------------------

    def drafts(self, block: str, line: int) -> Iterator[_Draft]:
        elements = self.elements(block, line)
        current: _Draft | None = None
        cursor = 0
        for element in elements:
            between = block[cursor : element.start]
            cursor = element.end
            at = line + block.count("\n", 0, element.start)
            if element.kind in ("anchor", "broken"):
                if current is not None:
                    current.comment_parts.append(between)
                    yield current
                current = _Draft(at, element)
            elif current is not None and current.citation is None and not between.strip(" \\\n"):
                current.citation = element
            else:
                if current is not None:
                    current.comment_parts.append(between)
                    yield current
                current = _Draft(at, None, element, before=between)
        if current is not None:
            current.comment_parts.append(block[cursor:])
            yield current

    def annotation(self, draft: _Draft, header: dict[str, str]) -> Annotation | None:
        comment = common.clean_comment(common.markdown_text("".join(draft.comment_parts)))
        citation_text = draft.citation.text if draft.citation else ""
        locator = _citation_locator(draft.citation)
        anchor = draft.anchor
        if anchor is not None and anchor.kind == "broken":
            return None
        if anchor is None:
            if draft.citation is None or locator is None:
                return None  # a manual citation, not an annotation
            before = common.markdown_text(draft.before).strip()
            if before and common.is_quoted(common.inline_text(before, markdown=False)):
                kind, text = AnnotationType.UNDERLINE, common.strip_quotes(before)
            elif before.startswith("<u>") and before.endswith("</u>"):
                kind, text = AnnotationType.UNDERLINE, common.strip_quotes(before[3:-4])
            elif not before:
                kind, text = AnnotationType.NOTE, ""
                if not comment:
                    return None
            else:
                return None
            data: dict[str, Any] = {}
        else:
            data = anchor.data or {}
            text = anchor.text
            if anchor.url:
                kind = AnnotationType.INK if _is_ink(data) else AnnotationType.IMAGE
            elif "underline" in anchor.attrs.get("class", "").split():
                kind = AnnotationType.UNDERLINE
            else:
                kind = AnnotationType.HIGHLIGHT

        attachment = common.parse_item_uri(data.get("attachmentURI", data.get("uri")))
        parent = _citation_parent(data, draft.citation)
        page_label = data.get("pageLabel")
        if not isinstance(page_label, str):
            page_label = locator or ""
        position = data.get("position")
        raw_key = data.get("annotationKey")
        keyed = isinstance(raw_key, str) and re.fullmatch(r"[A-Za-z0-9]{1,32}", raw_key) is not None
        source_ref = parent or attachment
        if source_ref is None:
            self.error(draft.line, "annotation has neither a citation nor an attachment; skipped")
            return None
        if keyed:
            key = str(raw_key)
        else:
            basis: tuple[str, ...]
            if anchor is not None and position is not None:
                basis = (
                    source_ref.key,
                    attachment.key if attachment else "",
                    common.canonical_json(position),
                )
            else:
                basis = (source_ref.key, kind.value, page_label, text or comment)
            key = common.stable_id(*basis)
            self.seen_ids[key] += 1
            if self.seen_ids[key] > 1:
                key = f"{key}-{self.seen_ids[key]}"
        if attachment is not None:
            link = common.zotero_open_link(attachment, position, key if keyed else None)
        else:
            link = f"zotero://select/{source_ref.library.link_part()}/items/{source_ref.key}"
        image = self.image_file(anchor, draft.line) if anchor is not None and anchor.url else None
        title, rank = _citation_title(citation_text), TITLE_FROM_CITATION
        if parent is not None and header.get("parent") and self.main_parent == parent.key:
            title, rank = header["parent"].strip(), TITLE_FROM_HEADER
        source = SourceInfo(
            key=source_ref.key,
            library=source_ref.library,
            title=title or source_ref.key,
            title_rank=rank if title else 0,
            citation=_LOCATOR.sub("", citation_text).strip(),
        )
        return Annotation(
            key=key,
            keyed=keyed,
            type=kind,
            text=text,
            comment=comment,
            color=normalise(data.get("color")),
            page_label=page_label,
            zotero_link=link,
            citation=citation_text,
            source=source,
            image=image,
            location=Location(self.path, draft.line),
            sort_index=common.position_sort_key(position, page_label),
            attachment_key=attachment.key if attachment else "",
        )

    def image_file(self, anchor: _Element, line: int) -> Path | None:
        """The image's file: the Markdown URL, else the ``src`` in the alt text.

        Each is tried relative to the export file's folder, then the export
        root; a path that leaves the export root is never followed.
        """
        candidates = [anchor.url, unquote(anchor.url), anchor.attrs.get("src", "")]
        for candidate in dict.fromkeys(c for c in candidates if c):
            relative = candidate.lstrip("/")
            for base in (self.path.parent, self.root):
                target = (base / relative).resolve()
                if target.is_relative_to(self.root) and target.is_file():
                    return target
        self.error(line, f"image file not found: {anchor.url or anchor.attrs.get('src', '')}")
        return None


def _is_ink(data: dict[str, Any]) -> bool:
    position = data.get("position")
    return isinstance(position, dict) and "paths" in position


def _citation_items(citation: _Element | None) -> list[dict[str, Any]]:
    if citation is None or citation.data is None:
        return []
    items = citation.data.get("citationItems")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _citation_locator(citation: _Element | None) -> str | None:
    for item in _citation_items(citation):
        locator = item.get("locator")
        if isinstance(locator, str) and locator:
            return locator
    return None


def _citation_parent(data: dict[str, Any], citation: _Element | None) -> ItemRef | None:
    sources: list[object] = []
    item = data.get("citationItem")
    if isinstance(item, dict) and isinstance(item.get("uris"), list):
        sources.extend(item["uris"])
    for cited in _citation_items(citation):
        if isinstance(cited.get("uris"), list):
            sources.extend(cited["uris"])
    for uri in sources:
        if (ref := common.parse_item_uri(uri)) is not None:
            return ref
    return None


def _citation_title(citation: str) -> str:
    """``Zhao et al., 2023, p. 1`` -> ``Zhao et al., 2023``; ``“Title”, p. 3`` -> ``Title``."""
    short = _LOCATOR.sub("", citation).strip()
    return common.strip_quotes(short) if common.is_quoted(short.split(",")[0]) else short


def _attach_orphan_citations(drafts: list[_Draft]) -> list[_Draft]:
    """Blockquote templates put the citation and comment in the paragraph after the highlight."""
    out: list[_Draft] = []
    for draft in drafts:
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.anchor is not None
            and previous.citation is None
            and not "".join(previous.comment_parts).strip()
            and draft.anchor is None
            and draft.citation is not None
            and not draft.before.strip()
        ):
            previous.citation = draft.citation
            previous.comment_parts = draft.comment_parts
            continue
        out.append(draft)
    return out


def read_text(text: str, path: Path, root: Path) -> tuple[list[Annotation], list[InputError]]:
    """Read one Better Notes Markdown file's text; never raises on bad input."""
    reader = _Reader(path, root.resolve(), text.removeprefix("\ufeff"))
    header, body_line = reader.header()
    drafts = _attach_orphan_citations(
        [d for line, block in reader.blocks(body_line) for d in reader.drafts(block, line)]
    )
    parents = Counter(
        ref.key
        for d in drafts
        if (ref := _citation_parent(d.anchor.data or {} if d.anchor else {}, d.citation))
    )
    reader.main_parent = parents.most_common(1)[0][0] if parents else None
    annotations = [a for d in drafts if (a := reader.annotation(d, header)) is not None]
    return annotations, reader.errors
