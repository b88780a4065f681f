"""Decide what a sync does, as plain data, without writing anything.

The plan compares what the export says (the annotations) with what the vault holds (found
by key, see vault/read.py) and what obsync last wrote (sync/state.py). Only vault/write.py
acts on a plan, so ``--dry-run`` is the plan printed, and tests check decisions without
touching a disk.

For each note the decision is one row of this table (:func:`row`), each row one small
function:

=================  ======================================================================
row                what the planner does
=================  ======================================================================
LEFT_DELETED       no note with its key, and obsync wrote one before: the user deleted it;
                   it stays deleted (unless ``--restore-deleted``)
CREATE             no note with its key: write it
UNREADABLE         its marker line is missing or doubled, or its frontmatter is not YAML:
                   never rewritten, reported
UNCHANGED          its generated part (obsync's properties and the body above the marker)
                   is what obsync would write now: nothing to do
NEW_VERSION        it is what obsync wrote last time, or what it would write now: the new
                   version, keeping the user's properties, tags and all text below the
                   marker byte for byte
USERS_STANDS       the user edited it and Zotero did not change: the user's version stands
CONFLICT           the user edited it and Zotero changed too: the note is left alone and
                   the new version written beside it, as a conflict copy
=================  ======================================================================

An annotation obsync synced before that the export no longer has is marked removed
(``annotation-status: removed``) when the file it came from is still there without it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from obsync.model import NO_PAGE, Annotation, ExportRead, Kind, SourceInfo
from obsync.settings.config import Settings
from obsync.sync.state import Record, Snapshot
from obsync.vault import note, render
from obsync.vault.listing import conflict_copy_of
from obsync.vault.names import FreeNames, attachment_name, literature_stem, safe_stem
from obsync.vault.note import Head, MarkerProblem, Parts
from obsync.vault.read import Found, NoteKey, Notes
from obsync.vault.write import Action, ImageCopy, NoteWrite

_STAMP_FORM = re.compile(r"[0-9a-f]{16}")
STAMP = "obsync"  # the property holding the stamp of the generated part obsync wrote
STATUS = "annotation-status"
# The export file of a record rebuilt from a note marked removed, the state being lost.
REMOVED_BEFORE = ":removed"


@dataclass(frozen=True, slots=True)
class Conflict:
    kind: Kind
    key: str
    path: PurePosixPath
    copy: PurePosixPath


@dataclass(frozen=True, slots=True)
class Problem:
    path: PurePosixPath
    message: str


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    conflicts: int = 0
    deleted: int = 0  # deleted by the user and left deleted

    def add(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)


@dataclass(frozen=True, slots=True)
class Plan:
    writes: tuple[NoteWrite, ...]
    copies: tuple[ImageCopy, ...]
    conflicts: tuple[Conflict, ...]
    problems: tuple[Problem, ...]
    records: tuple[Record, ...]  # the state once the plan is applied
    annotations: Counts
    sources: Counts

    @property
    def empty(self) -> bool:
        return not self.writes and not self.copies


def fingerprint(values: dict[str, Any], body: str) -> str:
    """Identity of a generated part: obsync's properties (tags aside) and the body."""
    canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    normalised = body.replace("\r\n", "\n").strip()
    return hashlib.sha256(f"{canonical}\0{normalised}".encode("utf-8", "surrogatepass")).hexdigest()


def stamp_of(fp: str) -> str:
    """The stamp a note carries of the generated part obsync wrote into it: enough of its
    fingerprint to tell an edit, so obsync knows its own writing without its state."""
    return fp[:16]


def _same(fp: str, written: str) -> bool:
    """Whether a fingerprint is what obsync wrote (a full fingerprint, or a stamp)."""
    return fp == written or (len(written) == 16 and fp.startswith(written))


def _written(current: Mapping[str, Any], record: Record | None) -> str | None:
    """What obsync last wrote into a note, as a stamp or a fingerprint: the note's own
    stamp (it moves with the note, survives a kill before the state is saved, a lost
    state and a second computer), else the state's record; None: not known."""
    stamp = current.get(STAMP)
    if isinstance(stamp, str) and _STAMP_FORM.fullmatch(stamp):
        return stamp
    if record is not None and record.fingerprint:
        return record.fingerprint
    return None


def _fingerprint_of(current: Mapping[str, Any], managed: Iterable[str], body: str) -> str:
    """The fingerprint of a note's generated part as it is now."""
    owned = {k: current[k] for k in managed if k in current and k not in ("tags", STAMP)}
    return fingerprint(owned, body)


def _tag_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(t) for t in value if t is not None]
    return []


def _without(head: Head, drop: Set[str | None], add: Iterable[note.Block] = ()) -> str:
    """A head with some of its frontmatter blocks dropped and others added at the end."""
    blocks = [b for b in head.blocks or () if b.key not in drop]
    return "---\n" + "".join(b.text for b in [*blocks, *add]) + "---\n" + head.body


# -- one note: the decision table ---------------------------------------------------------


@dataclass(frozen=True)  # no slots: its fingerprint is worked out once, when asked
class Desired:
    """A note as obsync would write it now, and what its record says besides."""

    kind: Kind
    key: str
    rendered: render.Rendered
    origin: tuple[str, str] = ("", "")  # an annotation's export file and paper

    @property
    def managed(self) -> tuple[str, ...]:
        keys = render.ANNOTATION_KEYS if self.kind == Kind.ANNOTATION else render.SOURCE_KEYS
        return (*keys, STAMP)

    @functools.cached_property
    def fp(self) -> str:
        values = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in self.rendered.properties
            if k != "tags"
        }
        return fingerprint(values, self.rendered.body)

    @property
    def properties(self) -> list[tuple[str, note.Value]]:
        """obsync's properties, its stamp last."""
        return [*self.rendered.properties, (STAMP, stamp_of(self.fp))]

    @property
    def head(self) -> str:
        return note.render_head(self.properties, self.rendered.body)

    def record(self, path: PurePosixPath, fp: str, tags: Iterable[str]) -> Record:
        return Record(self.kind, self.key, str(path), fp, tuple(tags), *self.origin)


@dataclass(frozen=True, slots=True)
class Decision:
    """What planning one note decides."""

    path: PurePosixPath | None  # where the note is, or will be; None: deleted by the user
    record: Record | None  # what the state keeps of it
    count: str  # the field of Counts it adds to
    writes: tuple[NoteWrite, ...] = ()
    problems: tuple[Problem, ...] = ()
    conflicts: tuple[Conflict, ...] = ()


class Row(Enum):
    LEFT_DELETED = "left deleted"
    CREATE = "create"
    UNREADABLE = "unreadable"
    UNCHANGED = "unchanged"
    NEW_VERSION = "new version"
    USERS_STANDS = "the user's version stands"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Existing:
    """A note of obsync's as it is now, beside what obsync would write (``desired``)."""

    desired: Desired
    found: Found
    record: Record | None
    parts: Parts
    head: Head
    current: dict[str, Any]  # its frontmatter's values

    @functools.cached_property
    def fp(self) -> str:
        return _fingerprint_of(self.current, self.desired.managed, self.head.body)

    @property
    def written(self) -> str | None:
        return _written(self.current, self.record)

    @property
    def tags(self) -> list[str]:
        return _tag_list(self.current.get("tags"))

    @property
    def merged_tags(self) -> list[str]:
        """obsync's tags, then the user's, less those obsync set before and no longer does."""
        generated = list(self.desired.rendered.generated_tags)
        stale = set(self.record.tags if self.record else ()) - set(generated)
        return generated + [t for t in self.tags if t not in generated and t not in stale]


def read_existing(
    desired: Desired, found: Found, record: Record | None, marker: str
) -> Existing | Problem | Decision:
    """A note's parts: a problem when it is unreadable; a decision at once when its
    generated part is exactly what obsync would write (nothing to parse)."""
    parts = note.split(found.text, marker)
    if isinstance(parts, MarkerProblem):
        return Problem(found.path, f"{parts.value}: note left as it is")
    if parts.head == desired.head:
        rendered = desired.rendered
        record_now = desired.record(found.path, desired.fp, rendered.generated_tags)
        return Decision(found.path, record_now, "unchanged")
    head = note.parse_head(parts.head)
    try:
        current = head.values()
    except yaml.YAMLError:
        return Problem(found.path, "frontmatter is not valid YAML: note left as it is")
    return Existing(desired, found, record, parts, head, current)


def row(note_now: Existing) -> Row:
    """Which row of the table an existing, readable note is in."""
    desired = note_now.desired
    same = note_now.fp == desired.fp
    stamped = note_now.current.get(STAMP) == stamp_of(desired.fp)
    if same and stamped and set(note_now.merged_tags) == set(note_now.tags):
        return Row.UNCHANGED  # what obsync writes, in the user's own quoting
    written = note_now.written
    if same or (written is not None and _same(note_now.fp, written)):
        return Row.NEW_VERSION
    if written is not None and _same(desired.fp, written):
        return Row.USERS_STANDS
    return Row.CONFLICT


def left_deleted(record: Record) -> Decision:
    return Decision(None, replace(record, path=""), "deleted")  # "": deleted by the user


def create(desired: Desired, path: PurePosixPath, marker: str) -> Decision:
    content = note.join(desired.head, marker + "\n")
    write = NoteWrite(Action.CREATE, desired.kind, desired.key, path, content, None)
    record = desired.record(path, desired.fp, desired.rendered.generated_tags)
    return Decision(path, record, "created", (write,))


def unreadable(problem: Problem, record: Record | None, count: str = "unchanged") -> Decision:
    return Decision(problem.path, record, count, problems=(problem,))


def unchanged(note_now: Existing) -> Decision:
    desired, path = note_now.desired, note_now.found.path
    record = desired.record(path, desired.fp, desired.rendered.generated_tags)
    return Decision(path, record, "unchanged")


def new_version(note_now: Existing) -> Decision:
    """The new version, with the user's properties, tags and text kept."""
    desired, found = note_now.desired, note_now.found
    merged = note_now.merged_tags
    properties = [(k, tuple(merged) if k == "tags" else v) for k, v in desired.properties]
    users = tuple(b for b in note_now.head.blocks or () if b.key not in desired.managed)
    head = note.render_head(properties, desired.rendered.body, users)
    content = note.join(head, note_now.parts.marker_line, note_now.parts.tail)
    record = desired.record(found.path, desired.fp, desired.rendered.generated_tags)
    if content == found.text:
        return Decision(found.path, record, "unchanged")
    write = NoteWrite(Action.UPDATE, desired.kind, desired.key, found.path, content, found.text)
    return Decision(found.path, record, "updated", (write,))


def users_stands(note_now: Existing) -> Decision:
    """The user's version stands; only an ``annotation-status`` obsync set, and Zotero no
    longer says, goes (the one line, nothing else)."""
    desired, found, record = note_now.desired, note_now.found, note_now.record
    path = found.path
    kept = (
        replace(record, path=str(path)) if record is not None
        else desired.record(path, desired.fp, ())
    )  # fmt: skip
    said = any(k == STATUS for k, _ in desired.rendered.properties)
    if STATUS not in note_now.current or said:
        return Decision(path, kept, "unchanged")
    content = note.join(
        _without(note_now.head, {STATUS}), note_now.parts.marker_line, note_now.parts.tail
    )
    write = NoteWrite(Action.UPDATE, desired.kind, desired.key, path, content, found.text)
    return Decision(path, kept, "updated", (write,))


def conflict(note_now: Existing, copy_text: str | None, marker: str) -> Decision:
    """The new version beside the user's note, keeping what is below the copy's marker."""
    desired, path, record = note_now.desired, note_now.found.path, note_now.record
    kept = (
        replace(record, path=str(path)) if record is not None
        else desired.record(path, "", note_now.tags)  # unknown: never taken for obsync's
    )  # fmt: skip
    copy = conflict_copy_of(path)
    found = Conflict(desired.kind, desired.key, path, copy)
    head = note.render_head(desired.rendered.properties, desired.rendered.body)
    content = note.join(head, marker + "\n")
    if copy_text is not None:
        old = note.split(copy_text, marker)
        if isinstance(old, MarkerProblem):
            problem = Problem(copy, f"{old.value}: conflict copy left as it is")
            return Decision(path, kept, "conflicts", problems=(problem,), conflicts=(found,))
        content = note.join(head, old.marker_line, old.tail)
    writes: tuple[NoteWrite, ...] = ()
    if copy_text != content:
        writes = (NoteWrite(Action.CONFLICT_COPY, desired.kind, desired.key, copy, content,
                            copy_text),)  # fmt: skip
    return Decision(path, kept, "conflicts", writes, conflicts=(found,))


def decide(
    desired: Desired,
    found: Found | None,
    record: Record | None,
    *,
    marker: str,
    restore_deleted: bool,
    path_if_new: Callable[[], PurePosixPath],
    copies: Mapping[PurePosixPath, str],
) -> Decision:
    """Plan one note: the row it is in, and that row's decision."""
    if found is None:
        if record is not None and not restore_deleted:
            return left_deleted(record)
        return create(desired, path_if_new(), marker)
    existing = read_existing(desired, found, record, marker)
    if isinstance(existing, Problem):
        return unreadable(existing, record)
    if isinstance(existing, Decision):
        return existing
    match row(existing):
        case Row.UNCHANGED:
            return unchanged(existing)
        case Row.NEW_VERSION:
            return new_version(existing)
        case Row.USERS_STANDS:
            return users_stands(existing)
        case _:
            return conflict(existing, copies.get(conflict_copy_of(found.path)), marker)


def mark_removed(record: Record, found: Found, marker: str) -> Decision:
    """``annotation-status: removed`` on a note, nothing else changed (but the stamp, on a
    note the user left as obsync wrote it)."""
    parts = note.split(found.text, marker)
    if isinstance(parts, MarkerProblem):
        return unreadable(Problem(found.path, f"{parts.value}: note left as it is"), record, "")
    head = note.parse_head(parts.head)
    try:
        current = head.values()
    except yaml.YAMLError:
        problem = Problem(found.path, "frontmatter is not valid YAML: note left as it is")
        return unreadable(problem, record, "")
    if current.get(STATUS) == "removed":
        return Decision(found.path, replace(record, path=str(found.path)), "unchanged")
    managed = (*render.ANNOTATION_KEYS, STAMP)
    written = _written(current, record)
    own = written is not None and _same(_fingerprint_of(current, managed, head.body), written)
    fp = _fingerprint_of({**current, STATUS: "removed"}, managed, head.body) if own else ""
    added = [note.Block(STATUS, note.property_block(STATUS, "removed"))]
    if own:
        added.append(note.Block(STAMP, note.property_block(STAMP, stamp_of(fp))))
    text = _without(head, {STATUS, STAMP} if own else {STATUS}, added)
    content = note.join(text, parts.marker_line, parts.tail)
    write = NoteWrite(Action.MARK_REMOVED, Kind.ANNOTATION, record.key, found.path, content,
                      found.text)  # fmt: skip
    return Decision(found.path, replace(record, path=str(found.path), fingerprint=fp),
                    "removed", (write,))  # fmt: skip


def decide_gone(
    record: Record, found: Found | None, present: Set[str], marker: str
) -> tuple[Decision, render.Entry | None]:
    """An annotation obsync synced before that the export no longer has, and its line in
    the literature note (None: the user deleted its note too: nothing is shown)."""
    if found is None:  # deleted by the user: forget nothing, show nothing
        return Decision(None, replace(record, path=""), ""), None
    # its file is there, without it; or its note was marked removed when the state was lost
    removed = record.export_file in present or record.export_file == REMOVED_BEFORE
    decision = mark_removed(record, found, marker) if removed else Decision(
        found.path, record, "")  # fmt: skip
    entry = render.Entry(record.sort, record.entry, record.page, record.color or None, removed)
    return decision, entry


# -- the plan of some papers --------------------------------------------------------------


def zotero_order(annotations: Iterable[Annotation], export: Path) -> dict[str, str]:
    """Each annotation's place in Zotero's order, by key, as the ``order`` property says it:
    Zotero's own sort index where the source holds it; else its page's, then a number that
    counts its page's annotations in the order they stand in their export files."""
    orders: dict[str, str] = {}
    by_page: dict[str, list[Annotation]] = defaultdict(list)
    for annotation in annotations:
        if annotation.sort_index:
            orders[annotation.key] = annotation.sort_index
        else:
            by_page[annotation.page_sort].append(annotation)
    for page, listed in by_page.items():
        listed.sort(key=lambda a: (export_name(a.location.file, export), a.location.index, a.key))
        for number, annotation in enumerate(listed):
            orders[annotation.key] = f"{page}|{number:06d}"
    return orders


@dataclass(slots=True)
class _Collected:
    """The decisions of a plan, as they are made."""

    writes: list[NoteWrite] = field(default_factory=list)
    copies: list[ImageCopy] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    annotations: Counts = field(default_factory=Counts)
    sources: Counts = field(default_factory=Counts)

    def add(self, decision: Decision, counts: Counts) -> None:
        self.writes += decision.writes
        self.conflicts += decision.conflicts
        self.problems += decision.problems
        if decision.record is not None:
            self.records.append(decision.record)
        if decision.count:
            counts.add(decision.count)

    def plan(self) -> Plan:
        return Plan(
            tuple(self.writes), tuple(self.copies), tuple(self.conflicts), tuple(self.problems),
            tuple(self.records), self.annotations, self.sources,
        )  # fmt: skip


@functools.lru_cache(maxsize=4096)  # a file's annotations ask for its name in turn
def export_name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True, slots=True)
class Seen:
    """The vault as a plan sees it: the notes read, and the names and pictures there."""

    notes: Notes
    taken: Set[str] = frozenset()  # note names in use, casefolded
    same_images: frozenset[PurePosixPath] = frozenset()  # attachments up to date


def make_plan(
    export: ExportRead,
    seen: Seen,
    state: Snapshot,
    settings: Settings,
    *,
    restore_deleted: bool = False,
    sources: Mapping[str, PurePosixPath] | None = None,
) -> Plan:
    """The plan for some papers (pure). Files read with errors cannot mark annotations
    removed: they may only look incomplete. ``sources``: where each literature note is or
    will be, when a plan in parts named every paper first; else named here."""
    names = FreeNames(set(seen.taken))
    papers: dict[str, list[Annotation]] = defaultdict(list)
    for annotation in export.annotations:
        papers[annotation.source.key].append(annotation)
    infos = {a.source.key: a.source for a in export.annotations}
    if sources is None:
        found = {key: f.path for key, f in seen.notes.sources.items()}
        sources = source_paths(infos, found, names, settings)
    else:
        sources = {key: sources[key] for key in infos}
        for path in sources.values():
            names.take(path.stem)
    live = {a.key for a in export.annotations}
    # Only a file read without errors can say an annotation is gone from it.
    present = {export_name(p, settings.export) for p in export.files if p not in export.failed}
    gone: dict[str, list[Record]] = defaultdict(list)
    for record in state.records.values():
        if record.kind == Kind.ANNOTATION and record.key not in live:
            gone[record.source_key].append(record)
    planner = _Paper(settings, seen, state, names, restore_deleted, _Collected())
    for key in sorted(infos):
        planner.paper(infos[key], sources[key], papers[key], gone.pop(key, []), present)
    for records in gone.values():  # annotations of papers the export no longer has at all
        for record in records:
            planner.out.add(decide_gone(record, seen.notes.annotations.get(record.key),
                                        present, settings.marker)[0],
                            planner.out.annotations)  # fmt: skip
    planner.out.records += [
        r for r in state.records.values() if r.kind == Kind.SOURCE and r.key not in infos
    ]
    return planner.out.plan()


def removed_before(
    notes: Mapping[NoteKey, Found],
    papers: Mapping[str, PurePosixPath],
    state: Snapshot,
    live: Set[str],
    marker: str,
) -> Snapshot:
    """``state`` with a record for each note marked removed that it does not know (it was
    lost), so its line stays in its literature note: the paper is the one whose literature
    note (``papers``, by key) the note's ``source`` links; the line is taken from that
    literature note as it is."""
    by_stem = {path.stem: key for key, path in papers.items()}
    texts = {key: found.text for (kind, key), found in notes.items() if kind == Kind.SOURCE}
    records = dict(state.records)
    for (kind, key), found in notes.items():
        if kind != Kind.ANNOTATION or key in live or (kind, key) in records:
            continue
        values = _removed_values(found, marker)
        link = values.get("source") if values else None
        paper = by_stem.get(link[2:-2]) if isinstance(link, str) and link[:2] == "[[" else None
        if values is None or paper is None:
            continue
        records[(kind, key)] = _removed_record(key, found, paper, texts.get(paper, ""), values)
    return replace(state, records=records)


def _removed_record(
    key: str, found: Found, paper: str, literature: str, values: Mapping[str, Any]
) -> Record:
    line = re.search(re.escape(f"[[{found.path.stem}") + r"(?:\|[^\]\n]*)?\]\]", literature)
    entry = line.group(0) if line else render.wikilink(found.path.stem)
    order, page, color = (values.get(name) for name in ("order", "page", "color"))
    return Record(
        Kind.ANNOTATION, key, str(found.path), "", (), REMOVED_BEFORE, paper, entry,
        (order if isinstance(order, str) else NO_PAGE, key),
        page if isinstance(page, str) else "", color if isinstance(color, str) else "",
    )  # fmt: skip


def _removed_values(found: Found, marker: str) -> dict[str, Any] | None:
    """A note's properties if it is marked removed, else None."""
    if f"{STATUS}: removed" not in found.text:
        return None
    parts = note.split(found.text, marker)
    if isinstance(parts, MarkerProblem):
        return None
    try:
        values = note.parse_head(parts.head).values()
    except yaml.YAMLError:
        return None
    return values if values.get(STATUS) == "removed" else None


@dataclass(slots=True)
class _Paper:
    """Plans one paper after another: its annotations' notes, then its literature note."""

    settings: Settings
    seen: Seen
    state: Snapshot
    names: FreeNames
    restore_deleted: bool
    out: _Collected

    def decide(self, desired: Desired, found: Found | None,
               path_if_new: Callable[[], PurePosixPath]) -> Decision:  # fmt: skip
        return decide(
            desired, found, self.state.get(desired.kind, desired.key),
            marker=self.settings.marker, restore_deleted=self.restore_deleted,
            path_if_new=path_if_new, copies=self.seen.notes.conflict_copies,
        )  # fmt: skip

    def paper(
        self,
        source: SourceInfo,
        path: PurePosixPath,
        annotations: list[Annotation],
        gone: list[Record],
        present: Set[str],
    ) -> None:
        settings = self.settings
        folder = f"{settings.annotations_folder}/{safe_stem(path.stem, fallback=source.key)}"
        orders = zotero_order(annotations, settings.export)
        entries = [
            entry
            for annotation in sorted(annotations, key=lambda a: a.key)
            if (entry := self.annotation(annotation, path.stem, folder, orders)) is not None
        ]
        for record in gone:
            decision, entry = decide_gone(
                record, self.seen.notes.annotations.get(record.key), present, settings.marker
            )
            self.out.add(decision, self.out.annotations)
            if entry is not None:
                entries.append(entry)
        rendered = render.source_note(
            source, entries, marker=settings.marker, template=settings.templates.source
        )
        found = self.seen.notes.sources.get(source.key)
        self.out.add(
            self.decide(Desired(Kind.SOURCE, source.key, rendered), found, lambda: path),
            self.out.sources,
        )

    def annotation(
        self, annotation: Annotation, source_stem: str, folder: str, orders: Mapping[str, str]
    ) -> render.Entry | None:
        """Plan one annotation's note (and its picture); its line in the literature note."""
        settings = self.settings
        order = orders[annotation.key]
        rendered = render.annotation_note(
            annotation,
            order=order,
            tag_prefix=settings.tag_prefix,
            source_stem=source_stem,
            image_name=self.image(annotation),
            colors=settings.colors,
            marker=settings.marker,
            template=settings.templates.annotation,
            comment_links=settings.comment_links,
        )
        origin = (export_name(annotation.location.file, settings.export), annotation.source.key)
        desired = Desired(Kind.ANNOTATION, annotation.key, rendered, origin)
        found = self.seen.notes.annotations.get(annotation.key)
        decision = self.decide(
            desired, found, partial(self.names.claim, folder, annotation.key, annotation.key)
        )
        if decision.path is None:
            self.out.add(decision, self.out.annotations)
            return None
        link = render.entry_link(annotation, decision.path.stem, settings.marker)
        sort = (order, annotation.key)
        page, color = annotation.page_label, annotation.color
        if decision.record is not None:  # its record keeps its line in the literature note
            listed = replace(decision.record, entry=link, sort=sort, page=page, color=color or "")
            # (the constructor, not replace(): this runs for every annotation of a sync)
            decision = Decision(decision.path, listed, decision.count, decision.writes,
                                decision.problems, decision.conflicts)  # fmt: skip
        self.out.add(decision, self.out.annotations)
        return render.Entry(sort, link, page, color)

    def image(self, annotation: Annotation) -> str | None:
        if annotation.image is None:
            return None
        name = attachment_name(annotation.key, annotation.image)
        target = PurePosixPath(self.settings.attachments_folder) / name
        if target not in self.seen.same_images:
            self.out.copies.append(ImageCopy(annotation.image, target))
        return name


def source_paths(
    sources: Mapping[str, SourceInfo],
    found: Mapping[str, PurePosixPath],
    names: FreeNames,
    settings: Settings,
) -> dict[str, PurePosixPath]:
    """Where each paper's literature note is (``found``), or will be (a new name, free in
    the vault)."""
    paths: dict[str, PurePosixPath] = {}
    for key in sorted(sources):
        if key in found:
            paths[key] = found[key]
        else:
            stem = literature_stem(sources[key], settings.literature_name)
            paths[key] = names.claim(settings.sources_folder, stem, key)
    return paths


def outcome(plan: Plan) -> Plan:
    """What a plan leaves for the report once it is written and its records saved: counts,
    conflicts and problems, without the notes, their texts and the records."""
    return replace(plan, writes=(), copies=(), records=())


def combine(plans: Iterable[Plan]) -> Plan:
    """The parts of a plan as one."""
    plans = list(plans)

    def total(counts: Iterator[Counts]) -> Counts:
        out = Counts()
        for c in counts:
            for name in (f.name for f in fields(Counts)):
                setattr(out, name, getattr(out, name) + getattr(c, name))
        return out

    return Plan(
        writes=tuple(w for p in plans for w in p.writes),
        copies=tuple(c for p in plans for c in p.copies),
        conflicts=tuple(c for p in plans for c in p.conflicts),
        problems=tuple(x for p in plans for x in p.problems),
        records=tuple(r for p in plans for r in p.records),
        annotations=total(p.annotations for p in plans),
        sources=total(p.sources for p in plans),
    )
