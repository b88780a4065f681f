"""Turning the paragraphs of an export into annotations: shared by every format's reader.

Every exporter writes one annotation per paragraph in the same order: an
anchor (the highlight, underline or image), the citation, then the comment;
sticky notes and text boxes are a citation and a comment. A format's reader
only has to find these elements in a paragraph and say how its text is
escaped (``text_of``; ``plain_of`` for a highlight's text, plain in Zotero); assembling
annotations, deriving stable ids for annotations without a key, and finding image files
happen here.
"""

from __future__ import annotations

import functools
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from obsync.export import text as common
from obsync.export import titles
from obsync.export.text import ItemRef
from obsync.model import Annotation, AnnotationType, InputError, Library, Location, SourceInfo
from obsync.settings.colors import normalise
from obsync.vault.names import is_reserved

_IMAGE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")

MAX_ERRORS = 50  # per file: a hostile file cannot flood the report
STOP = "is not read"  # in the errors of a reader that stops reading a file part way


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
    line: int = 0  # its line, when a parser told (else counted from the paragraph's)


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
    # Exporter text (a comment, or quoted text) -> what the user wrote: the format's escaping.
    text_of: Callable[[str], str]
    # Exporter text of a highlight -> its text as Zotero holds it: plain, no formatting marks.
    plain_of: Callable[[str], str]
    errors: list[InputError] = field(default_factory=list)
    seen_ids: Counter[str] = field(default_factory=Counter)
    # item key -> the best title the file gives and its rank (see titles.py)
    titles: dict[str, tuple[str, int]] = field(default_factory=dict)
    shared: dict[SourceInfo, SourceInfo] = field(default_factory=dict)  # one of each paper
    # What quoted text before a citation, with no anchor, is: Better Notes flattens underlines.
    bare_quote: AnnotationType = AnnotationType.HIGHLIGHT
    # Whether highlight spans without data are annotations (Zotero's HTML export strips it).
    spans_without_data: bool = False

    def error(self, line: int | None, message: str) -> None:
        """Report a problem; past ``MAX_ERRORS`` a file's further problems are not listed."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(InputError(self.path, line, message))
        elif len(self.errors) == MAX_ERRORS:
            more = "further problems in this file are not listed"
            self.errors.append(InputError(self.path, line, more))

    # -- helpers for formats ----------------------------------------------------

    def drop_unfinished_end(self, cut: int, block_start: int, what: str) -> None:
        """The file was cut short at ``cut``: report it and read only up to ``block_start``.

        The last paragraph of a file still being written (or cut short) is not
        read, so a half-written annotation is never synced as if it were whole.
        """
        line = self.text.count("\n", 0, cut) + 1
        self.error(line, f"the file ends inside {what} (truncated export?); its end {STOP}")
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

    def drafts(
        self, block: str, elements: list[Element], lines: common.LineCounter
    ) -> Iterator[Draft]:
        """The annotations of one paragraph, given the ``elements`` found in it; ``lines``
        gives the line of an element the finder gave none."""
        current: Draft | None = None
        cursor = 0
        for element in elements:
            between = block[cursor : element.start]
            cursor = element.end
            at = element.line or lines.line_at(element.start)
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

    def parsed_drafts(self, blocks: Iterable[tuple[int, str, list[Element]]]) -> list[Draft]:
        """The annotations of paragraphs (first line, text, elements found in it)."""
        return attach_orphan_citations(
            [
                d
                for line, b, found in blocks
                for d in self.drafts(b, found, common.LineCounter(b, line))
            ]
        )

    def assemble(self, drafts: Iterable[Draft]) -> list[Annotation]:
        return [a for i, d in enumerate(drafts) if (a := self.annotation(d, i)) is not None]

    def annotation(self, draft: Draft, index: int = 0) -> Annotation | None:
        """The annotation a draft is, or None (a broken anchor, a paragraph of the user's)."""
        anchor = draft.anchor
        if anchor is not None and anchor.kind == "broken":
            return None
        found = self.anchorless(draft) if anchor is None else _anchored(anchor)
        if found is None:
            return None
        kind, text, comment, data = found
        comment = comment or self.comment_of(draft)
        citation_text = draft.citation.text if draft.citation else ""
        attachment = self.item_ref(data.get("attachmentURI", data.get("uri")), draft.line)
        parent = citation_parent(data, draft.citation)
        self.check_citation_uris(data, draft)
        page_label = data.get("pageLabel")
        if not isinstance(page_label, str):
            page_label = citation_locator(draft.citation) or ""
        position = data.get("position")
        given_key = self.checked_key(data, draft.line)
        color = self.checked_color(data, draft.line)
        source_ref = self.source_ref(parent or attachment, citation_text, draft.line)
        if source_ref is None:
            return None
        key = given_key or self.stable_key(
            source_ref, attachment, position, kind, page_label, text, comment
        )
        image = self.image_file(anchor, draft.line) if anchor is not None and anchor.url else None
        return Annotation(
            key=key,
            keyed=given_key is not None,
            type=kind,
            text=text,
            comment=comment,
            color=None if color is None else sys.intern(color),
            page_label=sys.intern(page_label),
            zotero_link=_zotero_link(attachment, source_ref, position, given_key),
            citation=sys.intern(citation_text),  # one per page, often
            source=self.source_info(source_ref, data, citation_text),
            image=image,
            location=Location(self.path, draft.line, index),
            page_sort=common.page_sort_index(position, page_label),
        )

    def anchorless(self, draft: Draft) -> tuple[AnnotationType, str, str, dict[str, Any]] | None:
        """Kind, text, comment and (no) data of a paragraph without an anchor, or None.

        Quoted text and a citation, or a citation with a page and a comment, is an
        annotation; a citation without a page in a paragraph of the user's own is not.
        """
        if draft.citation is None:
            return None
        raw = draft.before.strip()
        before = self.plain_of(raw).strip() if raw else ""
        if raw.startswith("<u>") and raw.endswith("</u>"):  # the exporter's underline mark
            return AnnotationType.UNDERLINE, common.strip_quotes(before), "", {}
        if before and (quote := line_quote(before, glued=_from_zotero(draft.citation))):
            return self.bare_quote, common.strip_quotes(quote), "", {}
        if (
            not before
            and citation_locator(draft.citation) is not None
            and (comment := self.comment_of(draft))
        ):
            return AnnotationType.NOTE, "", comment, {}
        return None

    def checked_key(self, data: dict[str, Any], line: int) -> str | None:
        """The annotation key the data gives, if obsync can use it; an unusable one is reported."""
        raw_key = data.get("annotationKey")
        if isinstance(raw_key, str) and valid_key(raw_key):
            return raw_key
        if raw_key is not None:
            self.error(
                line,
                f"annotation key {common.shown(raw_key)} is not a Zotero key; "
                "the annotation is synced under a stable id instead",
            )
        return None

    def checked_color(self, data: dict[str, Any], line: int) -> str | None:
        """The data's colour, normalised; one that is not a hex colour is reported."""
        color = normalise(data.get("color"))
        if data.get("color") is not None and color is None:
            self.error(line, f"colour {common.shown(data['color'])} is not a hex colour; ignored")
        return color

    def source_ref(self, given: ItemRef | None, citation_text: str, line: int) -> ItemRef | None:
        """The paper an annotation belongs to: the item the data names, else a stand-in
        named after the citation text; with neither, the annotation is reported (None)."""
        source_ref = given or self.unknown_source(citation_text)
        if source_ref is None:
            self.error(line, "annotation has neither a citation nor an attachment")
        return source_ref

    def source_info(self, ref: ItemRef, data: dict[str, Any], citation_text: str) -> SourceInfo:
        """The paper's SourceInfo, one for all its annotations.

        A paper's annotations share one SourceInfo, colour and page strings: 100,000
        annotations in memory take a fifth less.
        """
        title, rank = self.title_of(ref.key, data, citation_text)
        source = SourceInfo(
            key=ref.key,
            library=ref.library,
            title=title,
            title_rank=rank,
            citation=titles.LOCATOR.sub("", citation_text).strip(),
        )
        return self.shared.setdefault(source, source)

    def comment_of(self, draft: Draft) -> str:
        return common.clean_comment(self.text_of("".join(draft.comment_parts)))

    def title_of(self, key: str, data: dict[str, Any], citation_text: str) -> tuple[str, int]:
        """The best title known for the paper ``key`` and its rank (see titles.py).

        Never a bare key: a paper nothing names is "Zotero item KEY", ranked lowest.
        """
        best = ("", 0)
        item = data.get("citationItem")
        item_data = item.get("itemData") if isinstance(item, dict) else None
        if isinstance(item_data, dict) and isinstance(item_data.get("title"), str):
            best = (item_data["title"].strip(), titles.FROM_DATA)
        if not best[0] and key in self.titles:
            best = self.titles[key]
        if not best[0]:
            best = (titles.citation_title(citation_text), titles.FROM_CITATION)
        if not best[0]:
            return f"Zotero item {key}", 0
        return best

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
        short = titles.LOCATOR.sub("", citation_text).strip()
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


def line_quote(text: str, *, glued: bool = False) -> str | None:
    """The quote ``text`` ends with, if it starts a line: a user's own line may come above
    it, but a quote inside a sentence of theirs is theirs, unless it is ``glued`` to a
    citation that links to Zotero (a quote and citation pasted from Zotero)."""
    where = common.quote_before(text)
    if where is None or (not glued and text[: where[0]].strip(" \t")[-1:] not in ("", "\n")):
        return None
    return text[where[0] : where[1]]


def _anchored(anchor: Element) -> tuple[AnnotationType, str, str, dict[str, Any]]:
    """Kind, text, (no) comment and data of an anchor (a highlight, underline or image)."""
    data = anchor.data or {}
    if anchor.image:
        kind = AnnotationType.INK if _is_ink(data) else AnnotationType.IMAGE
    elif "underline" in anchor.attrs.get("class", "").split():
        kind = AnnotationType.UNDERLINE
    else:
        kind = AnnotationType.HIGHLIGHT
    return kind, anchor.text, "", data


def _zotero_link(
    attachment: ItemRef | None, source: ItemRef, position: object, key: str | None
) -> str:
    """Where the annotation opens in Zotero: its place in the attachment, else the paper
    (no link for a stand-in paper, which Zotero does not know)."""
    if attachment is not None:
        return common.zotero_open_link(attachment, position, key)
    if source.key.startswith("obs-"):
        return ""
    return f"zotero://select/{source.library.link_part()}/items/{source.key}"


def _from_zotero(citation: Element | None) -> bool:
    return any(item.get("uris") for item in citation_items(citation))


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


def file_titles(
    reader: ParagraphReader,
    drafts: list[Draft],
    fields: Mapping[str, object],
    header_lines: int = 0,
) -> None:
    """Give the paper most of the file's annotations belong to the title the file states.

    ``fields`` is the file's front matter (a Better Notes header's ``parent`` first);
    the text may hold a Dataview ``Title::`` line or a loose ``title:`` line, the text
    above the first annotation a reference line; last comes the file's own name. In a
    note of several papers, a ``## Title`` heading names the paper whose annotations
    follow it. Before all these come the titles the file's citations carry in their item
    data; a title the annotation data gives still wins (see ``title_of``).
    """
    citation_data_titles(reader, drafts)
    papers = _papers_of(reader, drafts)
    if not papers:
        return

    @functools.cache
    def lines() -> list[str]:
        return reader.text.split("\n")

    _title_main_paper(reader, papers.most_common(1)[0][0], drafts, fields, header_lines, lines)
    if len(papers) > 1:
        for draft in drafts:
            key = _paper_of(reader, draft)
            if key and key not in reader.titles and (title := _heading_above(lines(), draft.line)):
                reader.titles[key] = (title, titles.FROM_FILE)


def citation_data_titles(reader: ParagraphReader, drafts: list[Draft]) -> None:
    """Titles the file's citations carry: each item of a ``data-citation`` with ``itemData``
    (Zotero adds it to citations of items dragged or inserted into a note), by its URI."""
    read: set[int] = set()  # a citation's data, once (drafts may share a citation)
    for draft in drafts:
        citation = draft.citation
        if citation is None or not citation.data or id(citation.data) in read:
            continue
        read.add(id(citation.data))
        for item in citation_items(citation):
            item_data = item.get("itemData")
            title = item_data.get("title") if isinstance(item_data, dict) else None
            if isinstance(title, str) and (title := title.strip()):
                _cited_title(reader, item.get("uris"), title)


def _cited_title(reader: ParagraphReader, uris: object, title: str) -> None:
    for uri in uris if isinstance(uris, list) else []:
        ref = common.parse_item_uri(uri)
        if ref is not None and reader.titles.get(ref.key, ("", 0))[1] < titles.FROM_CITATION_DATA:
            reader.titles[ref.key] = (title, titles.FROM_CITATION_DATA)


def _papers_of(reader: ParagraphReader, drafts: list[Draft]) -> Counter[str]:
    """How many of the file's annotations each paper has (notes counted only if no other)."""
    # Counted by the first URI of a highlight's citation data where there is one (the paper
    # it names, as a rule): parsing every annotation's citation would cost more.
    cited: Counter[str] = Counter()
    papers: Counter[str] = Counter()
    marked = [d for d in drafts if d.anchor is not None] or drafts
    for draft in marked:
        if (uri := _cited_uri(draft)) is not None:
            cited[uri] += 1
        else:
            papers[_paper_of(reader, draft)] += 1
    for uri, count in cited.items():
        if (ref := common.parse_item_uri(uri)) is not None:
            papers[ref.key] += count
    papers.pop("", None)
    return papers


def _title_main_paper(
    reader: ParagraphReader,
    main: str,
    drafts: list[Draft],
    fields: Mapping[str, object],
    header_lines: int,
    lines: Callable[[], list[str]],
) -> None:
    """The first title the file states, in order of trust, unless a better one is known."""
    first = min(d.line for d in drafts)

    def body() -> str:
        kept = (line for line in lines()[header_lines:] if "<" not in line and "](" not in line)
        return "\n".join(kept)

    parent = fields.get("parent")
    candidates: tuple[tuple[Callable[[], str], int], ...] = (
        (lambda: parent.strip() if isinstance(parent, str) else "", titles.FROM_HEADER),
        (lambda: titles.front_matter_title(fields), titles.FROM_FILE),
        (lambda: titles.text_title(body()), titles.FROM_FILE),
        (
            lambda: titles.reference_title("\n".join(lines()[header_lines : first - 1])),
            titles.FROM_REFERENCE,
        ),
        (lambda: titles.file_name_title(reader.path), titles.FROM_REFERENCE),
    )
    for title_of, rank in candidates:
        if rank <= reader.titles.get(main, ("", 0))[1]:
            break
        if title := title_of():
            reader.titles[main] = (title, rank)
            break


def _cited_uri(draft: Draft) -> str | None:
    data = draft.anchor.data if draft.anchor is not None else None
    item = data.get("citationItem") if data else None
    uris = item.get("uris") if isinstance(item, dict) else None
    first = uris[0] if isinstance(uris, list) and uris else None
    return first if isinstance(first, str) and common.parse_item_uri(first) else None


def _paper_of(reader: ParagraphReader, draft: Draft) -> str:
    """The key of the paper a draft belongs to, as ``annotation`` will find it ("" if none)."""
    data = draft.anchor.data if draft.anchor is not None and draft.anchor.data else {}
    parent = citation_parent(data, draft.citation)
    if parent is not None:
        return parent.key
    if attachment := common.parse_item_uri(data.get("attachmentURI", data.get("uri"))):
        return attachment.key
    if draft.citation is not None and (ref := reader.unknown_source(draft.citation.text)):
        return ref.key
    return ""


def _heading_above(lines: list[str], line: int) -> str:
    """The title a ``## Title`` line right above ``line`` (blank lines between) gives."""
    above = line - 2
    while above >= 0 and not lines[above].strip():
        above -= 1
    return titles.heading_title(lines[above]) if above >= 0 else ""


def attach_orphan_citations(drafts: list[Draft]) -> list[Draft]:
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
