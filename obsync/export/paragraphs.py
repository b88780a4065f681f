"""Turning the paragraphs of an export into annotations: shared by every format's reader.

Every exporter writes one annotation per paragraph in the same order: an
anchor (the highlight, underline or image), the citation, then the comment;
sticky notes and text boxes are a citation and a comment. A format's reader
only has to find these elements in a paragraph (``elements``) and say how its
text is escaped (``text_of``); assembling annotations, deriving stable ids for
annotations without a key, and finding image files happen here.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from obsync.colors import normalise
from obsync.export import common
from obsync.export.common import ItemRef
from obsync.model import Annotation, AnnotationType, InputError, Library, Location, SourceInfo
from obsync.names import is_reserved

_LOCATOR = re.compile(r",\s*pp?\.\s*[^,;]*$")

_IMAGE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")

MAX_ERRORS = 50  # per file: a hostile file cannot flood the report

TITLE_FROM_FILE = 3  # a header or the note's own item data names the paper
TITLE_FROM_CITATION = 1


@dataclass(frozen=True, slots=True)
class Element:
    """Something found in a paragraph.

    ``kind``: ``anchor`` (highlight, underline or image), ``citation``,
    ``broken`` (an anchor whose data could not be read: reported, skipped with
    its citation and comment) or ``link`` (an "open in Zotero" link, not text).
    """

    kind: str
    start: int
    end: int
    data: dict[str, Any] | None  # annotation or citation data (decoded, or built from links)
    text: str = ""  # the anchor's text, or the citation's visible text
    attrs: dict[str, str] = field(default_factory=dict)
    image: bool = False
    url: str = ""  # where an image's file is, if the export says


@dataclass(slots=True)
class Draft:
    """An annotation being assembled from one paragraph."""

    line: int
    anchor: Element | None
    citation: Element | None = None
    before: str = ""  # raw text before a citation in an anchor-less paragraph
    comment_parts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ParagraphReader:
    path: Path
    root: Path
    text: str
    errors: list[InputError] = field(default_factory=list)
    seen_ids: Counter[str] = field(default_factory=Counter)
    titles: dict[str, str] = field(default_factory=dict)  # item key -> title the file gives
    shared: dict[SourceInfo, SourceInfo] = field(default_factory=dict)  # one of each paper
    # What quoted text before a citation, with no anchor, is: Better Notes flattens underlines.
    bare_quote: AnnotationType = AnnotationType.HIGHLIGHT

    def error(self, line: int | None, message: str) -> None:
        """Report a problem; past ``MAX_ERRORS`` a file's further problems are not listed."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(InputError(self.path, line, message))
        elif len(self.errors) == MAX_ERRORS:
            more = "further problems in this file are not listed"
            self.errors.append(InputError(self.path, line, more))

    # -- what a format says -----------------------------------------------------

    def elements(self, block: str, line: int) -> list[Element]:
        raise NotImplementedError

    def text_of(self, raw: str) -> str:
        """Exporter text (a comment, or quoted text) -> what the user wrote."""
        raise NotImplementedError

    # -- helpers for formats ----------------------------------------------------

    def drop_unfinished_end(self, cut: int, block_start: int, what: str) -> None:
        """The file was cut short at ``cut``: report it and read only up to ``block_start``.

        The last paragraph of a file still being written (or cut short) is not
        read, so a half-written annotation is never synced as if it were whole.
        """
        line = self.text.count("\n", 0, cut) + 1
        self.error(line, f"the file ends inside {what} (truncated export?); its end is not read")
        self.text = self.text[:block_start]

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

    # -- assembling ---------------------------------------------------------------

    def drafts(self, block: str, line: int) -> Iterator[Draft]:
        current: Draft | None = None
        cursor = 0
        lines = common.LineCounter(block, line)
        for element in self.elements(block, line):
            between = block[cursor : element.start]
            cursor = element.end
            at = lines.line_at(element.start)
            if element.kind == "link":
                if current is not None:
                    current.comment_parts.append(between)
            elif element.kind in ("anchor", "broken"):
                if current is not None:
                    current.comment_parts.append(between)
                    yield current
                current = Draft(at, element)
            elif (
                current is not None
                and current.citation is None
                and not self.text_of(between).strip()
            ):
                current.citation = element
            else:
                if current is not None:
                    current.comment_parts.append(between)
                    yield current
                current = Draft(at, None, element, before=between)
        if current is not None:
            current.comment_parts.append(block[cursor:])
            yield current

    def all_drafts(self, blocks: Iterable[tuple[int, str]]) -> list[Draft]:
        return _attach_orphan_citations([d for line, b in blocks for d in self.drafts(b, line)])

    def assemble(self, drafts: Iterable[Draft]) -> list[Annotation]:
        return [a for d in drafts if (a := self.annotation(d)) is not None]

    def annotation(self, draft: Draft) -> Annotation | None:
        comment = common.clean_comment(self.text_of("".join(draft.comment_parts)))
        citation_text = draft.citation.text if draft.citation else ""
        locator = citation_locator(draft.citation)
        anchor = draft.anchor
        if anchor is not None and anchor.kind == "broken":
            return None
        data: dict[str, Any]
        if anchor is None:
            # Quoted text and a citation, or a citation with a page and a comment; a citation
            # without a page in a paragraph of the user's own is not an annotation.
            before = self.text_of(draft.before).strip()
            if draft.citation is None:
                return None
            if before.startswith("<u>") and before.endswith("</u>"):
                kind, text = AnnotationType.UNDERLINE, common.strip_quotes(before[3:-4])
            elif common.is_quoted(before):
                kind, text = self.bare_quote, common.strip_quotes(before)
            elif not before and comment and locator is not None:
                kind, text = AnnotationType.NOTE, ""
            else:
                return None
            data = {}
        else:
            data = anchor.data or {}
            text = anchor.text
            if anchor.image:
                kind = AnnotationType.INK if _is_ink(data) else AnnotationType.IMAGE
            elif "underline" in anchor.attrs.get("class", "").split():
                kind = AnnotationType.UNDERLINE
            else:
                kind = AnnotationType.HIGHLIGHT

        attachment = self.item_ref(data.get("attachmentURI", data.get("uri")), draft.line)
        parent = citation_parent(data, draft.citation)
        self.check_citation_uris(data, draft)
        page_label = data.get("pageLabel")
        if not isinstance(page_label, str):
            page_label = locator or ""
        position = data.get("position")
        raw_key = data.get("annotationKey")
        keyed = isinstance(raw_key, str) and valid_key(raw_key)
        if raw_key is not None and not keyed:
            self.error(
                draft.line,
                f"annotation key {common.shown(raw_key)} is not a Zotero key; "
                "the annotation is synced under a stable id instead",
            )
        color = normalise(data.get("color"))
        if data.get("color") is not None and color is None:
            self.error(
                draft.line, f"colour {common.shown(data['color'])} is not a hex colour; ignored"
            )
        source_ref = parent or attachment
        if source_ref is None:
            source_ref = self.unknown_source(citation_text)
            if source_ref is None:
                self.error(draft.line, "annotation has neither a citation nor an attachment")
                return None
        if keyed:
            key = str(raw_key)
        else:
            key = self.stable_key(source_ref, attachment, position, kind, page_label, text, comment)
        if attachment is not None:
            link = common.zotero_open_link(attachment, position, key if keyed else None)
        elif source_ref.key.startswith("obs-"):
            link = ""
        else:
            link = f"zotero://select/{source_ref.library.link_part()}/items/{source_ref.key}"
        image = self.image_file(anchor, draft.line) if anchor is not None and anchor.url else None
        title, rank = citation_title(citation_text), TITLE_FROM_CITATION
        if source_ref.key in self.titles:
            title, rank = self.titles[source_ref.key], TITLE_FROM_FILE
        source = SourceInfo(
            key=source_ref.key,
            library=source_ref.library,
            title=title or source_ref.key,
            title_rank=rank if title else 0,
            citation=_LOCATOR.sub("", citation_text).strip(),
        )
        # A paper's annotations share one SourceInfo, colour and page strings: 100,000
        # annotations in memory take a fifth less.
        source = self.shared.setdefault(source, source)
        return Annotation(
            key=key,
            keyed=keyed,
            type=kind,
            text=text,
            comment=comment,
            color=None if color is None else sys.intern(color),
            page_label=sys.intern(page_label),
            zotero_link=link,
            citation=sys.intern(citation_text),  # one per page, often
            source=source,
            image=image,
            location=Location(self.path, draft.line),
            sort_index=common.position_sort_key(position, page_label),
            attachment_key=attachment.key if attachment else "",
        )

    def item_ref(self, uri: object, line: int) -> ItemRef | None:
        """A Zotero item URI from annotation data; one that is there but unusable is reported."""
        if uri is None:
            return None
        ref = common.parse_item_uri(uri)
        if ref is None:
            self.error(line, f"{common.shown(uri)} is not a Zotero item URI; ignored")
        return ref

    def check_citation_uris(self, data: dict[str, Any], draft: Draft) -> None:
        """Report citation URIs that are not Zotero item URIs (they cannot name a paper)."""
        item = data.get("citationItem")
        uris: list[object] = []
        if isinstance(item, dict) and isinstance(item.get("uris"), list):
            uris.extend(item["uris"])
        for cited in citation_items(draft.citation):
            if isinstance(cited.get("uris"), list):
                uris.extend(cited["uris"])
        for uri in dict.fromkeys(u for u in uris if isinstance(u, str)):
            if common.parse_item_uri(uri) is None:
                self.error(draft.line, f"citation {common.shown(uri)} is not a Zotero item URI")

    def unknown_source(self, citation_text: str) -> ItemRef | None:
        """A stand-in for the paper when the export names it only by its citation text."""
        short = _LOCATOR.sub("", citation_text).strip()
        if not short:
            return None
        return ItemRef(Library(), common.stable_id("source", short))

    def stable_key(
        self,
        source: ItemRef,
        attachment: ItemRef | None,
        position: object,
        kind: AnnotationType,
        page_label: str,
        text: str,
        comment: str,
    ) -> str:
        """The id of an annotation without a key (documented in the README)."""
        basis: tuple[str, ...]
        if attachment is not None and isinstance(position, dict) and "rects" in position:
            basis = (source.key, attachment.key, common.canonical_json(position))
        else:
            basis = (source.key, kind.value, page_label, text or comment)
        key = common.stable_id(*basis)
        self.seen_ids[key] += 1
        return key if self.seen_ids[key] == 1 else f"{key}-{self.seen_ids[key]}"

    def image_file(self, anchor: Element, line: int) -> Path | None:
        """The image's file: the export's URL, else the ``src`` it gives.

        Each is tried relative to the export file's folder, then the export
        root; a path that leaves the export root is never followed. The copy
        in the vault is named after the key and this file's extension, so an
        extension that is not plain letters and digits is refused.
        """
        candidates = [anchor.url, unquote(anchor.url), anchor.attrs.get("src", "")]
        for candidate in dict.fromkeys(c for c in candidates if c):
            if (target := self._find_image(candidate.lstrip("/"))) is None:
                continue
            if _IMAGE_SUFFIX.fullmatch(target.suffix) is None:
                self.error(line, f"image file {common.shown(target.name)} has no usable extension")
                return None
            return target
        where = common.shown(anchor.url or anchor.attrs.get("src", ""))
        self.error(line, f"image file not found: {where}")
        return None

    def _find_image(self, relative: str) -> Path | None:
        for base in (self.path.parent, self.root):
            try:
                target = (base / relative).resolve()
                if target.is_relative_to(self.root) and target.is_file():
                    return target
            except (OSError, ValueError):
                continue
        return None


def valid_key(key: str) -> bool:
    """A key obsync can use as a note's name: letters, digits, ``_``, ``-``; no device name."""
    return common.KEY.fullmatch(key) is not None and not is_reserved(key)


def _is_ink(data: dict[str, Any]) -> bool:
    position = data.get("position")
    return isinstance(position, dict) and "paths" in position


def citation_items(citation: Element | None) -> list[dict[str, Any]]:
    if citation is None or citation.data is None:
        return []
    items = citation.data.get("citationItems")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def citation_locator(citation: Element | None) -> str | None:
    for item in citation_items(citation):
        locator = item.get("locator")
        if isinstance(locator, str) and locator:
            return locator
    return None


def citation_parent(data: dict[str, Any], citation: Element | None) -> ItemRef | None:
    sources: list[object] = []
    item = data.get("citationItem")
    if isinstance(item, dict) and isinstance(item.get("uris"), list):
        sources.extend(item["uris"])
    for cited in citation_items(citation):
        if isinstance(cited.get("uris"), list):
            sources.extend(cited["uris"])
    for uri in sources:
        if (ref := common.parse_item_uri(uri)) is not None:
            return ref
    return None


def citation_title(citation: str) -> str:
    """``Zhao et al., 2023, p. 1`` -> ``Zhao et al., 2023``; ``“Title”, p. 3`` -> ``Title``."""
    short = _LOCATOR.sub("", citation).strip()
    return common.strip_quotes(short) if common.is_quoted(short.split(",")[0]) else short


def main_parent(drafts: Iterable[Draft]) -> str | None:
    """The item most annotations of a file belong to."""
    parents = Counter(
        ref.key
        for d in drafts
        if (ref := citation_parent(d.anchor.data or {} if d.anchor else {}, d.citation))
    )
    return parents.most_common(1)[0][0] if parents else None


def _attach_orphan_citations(drafts: list[Draft]) -> list[Draft]:
    """Blockquote templates put the citation and comment in the paragraph after the highlight."""
    out: list[Draft] = []
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
