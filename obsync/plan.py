"""Decide what a sync does, as plain data, without writing anything.

The plan compares what the export says (the annotations) with what the vault
holds (found by key, see scan.py) and what obsync last wrote (state.py). Only
vault.py acts on a plan, so ``--dry-run`` is the plan printed, and tests can
check decisions without touching a disk.

For each note the decision is:

* no note with its key: create it, unless obsync created it before and the
  user deleted it (then leave it deleted, or restore it when asked);
* the generated part (properties obsync owns and the body above the marker)
  is what obsync would write now: nothing, or only merge tags;
* it is what obsync wrote last time: the user has not touched it, so write the
  new version, keeping the user's own properties, tags and all text below the
  marker byte for byte;
* the user edited it and upstream did not change: the user's version stands;
* the user edited it and upstream changed too: leave the note alone and write
  the new version beside it as a conflict copy;
* a note whose marker line is missing or doubled, or whose frontmatter is not
  YAML, is never rewritten: that is reported.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from obsync import note, render
from obsync.config import Settings
from obsync.model import Annotation, ExportRead, SourceInfo
from obsync.names import safe_stem
from obsync.note import Head, Parts
from obsync.scan import CONFLICT_SUFFIX, Found, VaultIndex
from obsync.state import Record, Snapshot

_STAMP_FORM = re.compile(r"[0-9a-f]{16}")
ANNOTATION = "annotation"
SOURCE = "source"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    MARK_REMOVED = "mark-removed"
    CONFLICT_COPY = "conflict-copy"


@dataclass(frozen=True, slots=True)
class NoteWrite:
    action: Action
    kind: str
    key: str
    path: PurePosixPath  # relative to the vault
    content: str
    expected: str | None  # the note's text the plan was made from (None: must not exist)


@dataclass(frozen=True, slots=True)
class ImageCopy:
    source: Path
    path: PurePosixPath


@dataclass(frozen=True, slots=True)
class Conflict:
    kind: str
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


@dataclass(frozen=True, slots=True)
class _Desired:
    kind: str
    key: str
    rendered: render.Rendered
    managed: tuple[str, ...]


def fingerprint(values: dict[str, Any], body: str) -> str:
    """Identity of a generated part: obsync's properties (tags aside) and the body."""
    canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    normalised = body.replace("\r\n", "\n").strip()
    return hashlib.sha256(f"{canonical}\0{normalised}".encode("utf-8", "surrogatepass")).hexdigest()


STAMP = "obsync"  # the property holding the stamp of the generated part obsync wrote
STATUS = "annotation-status"


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


def _desired_values(desired: _Desired) -> dict[str, Any]:
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in desired.rendered.properties
        if k != "tags"
    }


def _tag_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(t) for t in value if t is not None]
    return []


@dataclass(slots=True)
class _Planner:
    settings: Settings
    index: VaultIndex
    state: Snapshot
    restore_deleted: bool
    writes: list[NoteWrite] = field(default_factory=list)
    copies: list[ImageCopy] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)  # casefolded stems allocated in this plan

    @property
    def marker(self) -> str:
        return self.settings.marker

    # -- paths ------------------------------------------------------------------

    def new_path(self, folder: str, stem: str, key: str) -> PurePosixPath:
        """A path for a new note whose name no other note in the vault has."""
        candidate = stem
        if self._stem_taken(candidate):
            candidate = f"{stem} ({key})"
        number = 2
        while self._stem_taken(candidate):
            candidate = f"{stem} ({key}) {number}"
            number += 1
        self.taken.add(candidate.casefold())
        return PurePosixPath(folder) / f"{candidate}.md"

    def _stem_taken(self, stem: str) -> bool:
        folded = stem.casefold()
        return folded in self.index.stems or folded in self.taken

    # -- one note ---------------------------------------------------------------

    def note(
        self,
        desired: _Desired,
        found: Found | None,
        path_if_new: Callable[[], PurePosixPath],
        counts: Counts,
        origin: tuple[str, str] = ("", ""),
    ) -> PurePosixPath | None:
        """Plan one note; returns where it is (or will be), None if deleted by the user."""
        record = self.state.get(desired.kind, desired.key)
        rendered = desired.rendered
        desired_fp = fingerprint(_desired_values(desired), rendered.body)
        properties = [*rendered.properties, (STAMP, stamp_of(desired_fp))]

        def remember(path: PurePosixPath, fp: str, tags: Sequence[str]) -> None:
            self.records.append(
                Record(desired.kind, desired.key, str(path), fp, tuple(tags), *origin)
            )

        if found is None:
            if record is not None and not self.restore_deleted:
                counts.deleted += 1
                self.records.append(replace(record, path=""))  # "": deleted by the user
                return None
            path = path_if_new()
            content = note.join(note.render_head(properties, rendered.body), self.marker + "\n")
            self.writes.append(
                NoteWrite(Action.CREATE, desired.kind, desired.key, path, content, None)
            )
            counts.created += 1
            remember(path, desired_fp, rendered.generated_tags)
            return path

        path = found.path
        parts = note.split(found.text, self.marker)
        if isinstance(parts, note.MarkerProblem):
            self.problems.append(Problem(path, f"{parts.value}: note left as it is"))
            counts.unchanged += 1
            if record is not None:
                self.records.append(record)
            return path
        if parts.head == note.render_head(properties, rendered.body):
            # Exactly what obsync would write, no property of the user's: nothing to parse.
            counts.unchanged += 1
            remember(path, desired_fp, rendered.generated_tags)
            return path
        head = note.parse_head(parts.head)
        try:
            current = head.values()
        except yaml.YAMLError:
            self.problems.append(Problem(path, "frontmatter is not valid YAML: note left as it is"))
            counts.unchanged += 1
            if record is not None:
                self.records.append(record)
            return path
        current_fp = _fingerprint_of(current, desired.managed, head.body)
        written = _written(current, record)  # what obsync last wrote there, if known
        current_tags = _tag_list(current.get("tags"))
        generated = list(rendered.generated_tags)
        stale = set(record.tags if record else ()) - set(generated)
        merged = generated + [t for t in current_tags if t not in generated and t not in stale]
        untouched = written is not None and _same(current_fp, written)
        stamped = current.get(STAMP) == stamp_of(desired_fp)
        if current_fp == desired_fp and set(merged) == set(current_tags) and stamped:
            counts.unchanged += 1  # what obsync writes, in the user's own quoting
            remember(path, desired_fp, generated)
            return path

        if current_fp == desired_fp or untouched:
            # What obsync would write, or what it wrote last and the user left alone:
            # the new version, with the user's properties, tags and text kept.
            properties = [(k, tuple(merged) if k == "tags" else v) for k, v in properties]
            user_blocks = tuple(b for b in head.blocks or () if b.key not in desired.managed)
            new_head = note.render_head(properties, rendered.body, user_blocks)
            content = note.join(new_head, parts.marker_line, parts.tail)
            if content != found.text:
                self.writes.append(
                    NoteWrite(Action.UPDATE, desired.kind, desired.key, path, content, found.text)
                )
                counts.updated += 1
            else:
                counts.unchanged += 1
            remember(path, desired_fp, generated)
            return path

        if written is not None and _same(desired_fp, written):
            # The user edited the generated part and upstream did not change: theirs
            # stands; only a status obsync set, and Zotero no longer says, goes.
            self.drop_status(desired, found, parts, head, current, counts)
            self.records.append(
                replace(record, path=str(path))
                if record is not None
                else Record(desired.kind, desired.key, str(path), desired_fp, (), *origin)
            )
            return path

        # The user edited the generated part, and it changed upstream too.
        self.conflict_copy(desired, path)
        counts.conflicts += 1
        if record is not None:
            self.records.append(replace(record, path=str(path)))
        else:  # unknown: never take the user's version for obsync's own
            remember(path, "", current_tags)
        return path

    def drop_status(
        self,
        desired: _Desired,
        found: Found,
        parts: Parts,
        head: Head,
        current: dict[str, Any],
        counts: Counts,
    ) -> None:
        """A note the user edited keeps their version; an ``annotation-status`` obsync set
        goes once Zotero has the annotation again (the one line, nothing else)."""
        if STATUS not in current or any(k == STATUS for k, _ in desired.rendered.properties):
            counts.unchanged += 1
            return
        blocks = tuple(b for b in head.blocks or () if b.key != STATUS)
        text = "---\n" + "".join(b.text for b in blocks) + "---\n" + head.body
        content = note.join(text, parts.marker_line, parts.tail)
        self.writes.append(
            NoteWrite(Action.UPDATE, desired.kind, desired.key, found.path, content, found.text)
        )
        counts.updated += 1

    def conflict_copy(self, desired: _Desired, path: PurePosixPath) -> None:
        """Plan the new version beside the user's note, keeping what is below its marker."""
        copy = path.with_name(f"{path.stem}{CONFLICT_SUFFIX}.md")
        self.conflicts.append(Conflict(desired.kind, desired.key, path, copy))
        head = note.render_head(desired.rendered.properties, desired.rendered.body)
        existing = self.index.conflict_copies.get(copy)
        content = note.join(head, self.marker + "\n")
        if existing is not None:
            old = note.split(existing, self.marker)
            if isinstance(old, note.MarkerProblem):
                self.problems.append(Problem(copy, f"{old.value}: conflict copy left as it is"))
                return
            content = note.join(head, old.marker_line, old.tail)
        if existing != content:
            self.writes.append(
                NoteWrite(Action.CONFLICT_COPY, desired.kind, desired.key, copy, content, existing)
            )

    def mark_removed(self, record: Record, found: Found, counts: Counts) -> None:
        """Set ``annotation-status: removed`` on a note, changing nothing else (but the
        stamp, on a note the user left as obsync wrote it)."""
        parts = note.split(found.text, self.marker)
        if isinstance(parts, note.MarkerProblem):
            self.problems.append(Problem(found.path, f"{parts.value}: note left as it is"))
            self.records.append(record)
            return
        head = note.parse_head(parts.head)
        try:
            current = head.values()
        except yaml.YAMLError:
            self.problems.append(
                Problem(found.path, "frontmatter is not valid YAML: note left as it is")
            )
            self.records.append(record)
            return
        if current.get(STATUS) == "removed":
            counts.unchanged += 1
            self.records.append(replace(record, path=str(found.path)))
            return
        managed = (*render.ANNOTATION_KEYS, STAMP)
        written = _written(current, record)
        own = written is not None and _same(_fingerprint_of(current, managed, head.body), written)
        fp = ""
        if own:
            fp = _fingerprint_of({**current, STATUS: "removed"}, managed, head.body)
        dropped = (STATUS, STAMP) if own else (STATUS,)
        blocks = [b for b in head.blocks or () if b.key not in dropped]
        blocks.append(note.Block(STATUS, note.property_block(STATUS, "removed")))
        if own:
            blocks.append(note.Block(STAMP, note.property_block(STAMP, stamp_of(fp))))
        text = "---\n" + "".join(b.text for b in blocks) + "---\n" + head.body
        content = note.join(text, parts.marker_line, parts.tail)
        self.writes.append(
            NoteWrite(Action.MARK_REMOVED, ANNOTATION, record.key, found.path, content, found.text)
        )
        counts.removed += 1
        self.records.append(replace(record, path=str(found.path), fingerprint=fp))

    # -- images -----------------------------------------------------------------

    def image(self, annotation: Annotation) -> str | None:
        if annotation.image is None:
            return None
        name = f"{annotation.key}{annotation.image.suffix.lower()}"
        target = PurePosixPath(self.settings.attachments_folder) / name
        if target not in self.index.same_images:
            self.copies.append(ImageCopy(annotation.image, target))
        return name


@functools.lru_cache(maxsize=4096)  # a file's annotations ask for its name in turn
def _export_name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def make_plan(
    export: ExportRead,
    index: VaultIndex,
    state: Snapshot,
    settings: Settings,
    *,
    restore_deleted: bool = False,
    paths_of_sources: Mapping[str, PurePosixPath] | None = None,
) -> Plan:
    """The plan for one sync. Files read with errors cannot mark annotations removed: they
    may only look incomplete. (Files still being written are held back before reading.)
    ``paths_of_sources``: where the literature notes are or will be, when a plan in parts
    gave every paper its name first (as this plan does, before naming annotation notes)."""
    planner = _Planner(settings, index, state, restore_deleted)
    annotation_counts, source_counts = Counts(), Counts()

    by_source: dict[str, list[Annotation]] = defaultdict(list)
    sources: dict[str, SourceInfo] = {}
    for annotation in export.annotations:
        by_source[annotation.source.key].append(annotation)
        sources[annotation.source.key] = annotation.source
    live = {a.key for a in export.annotations}
    # Only a file read without errors can say an annotation is gone from it.
    present = {_export_name(p, settings.export) for p in export.files if p not in export.failed}

    # Annotations the export no longer has: still listed in their literature note.
    gone: dict[str, list[Record]] = defaultdict(list)
    for record in state.records.values():
        if record.kind == ANNOTATION and record.key not in live:
            gone[record.source_key].append(record)

    # Where each literature note is, or will be: annotation notes link to it.
    if paths_of_sources is None:
        source_paths = _source_paths(planner, sources)
    else:
        source_paths = {key: paths_of_sources[key] for key in sources}
        planner.taken |= {path.stem.casefold() for path in source_paths.values()}

    for key in sorted(sources):
        source = sources[key]
        source_stem = source_paths[key].stem
        entries: list[render.Entry] = []
        folder = f"{settings.annotations_folder}/{safe_stem(source_stem, fallback=key)}"
        for annotation in sorted(by_source[key], key=lambda a: a.key):
            image_name = planner.image(annotation)
            rendered = render.annotation_note(
                annotation,
                source_stem=source_stem,
                image_name=image_name,
                colors=settings.colors,
                marker=settings.marker,
                template=settings.templates.annotation,
            )
            found = index.annotations.get(annotation.key)
            path = planner.note(
                _Desired(ANNOTATION, annotation.key, rendered, (*render.ANNOTATION_KEYS, STAMP)),
                found,
                partial(planner.new_path, folder, annotation.key, annotation.key),
                annotation_counts,
                (_export_name(annotation.location.file, settings.export), key),
            )
            if path is None:
                continue
            link = render.entry_link(annotation, path.stem, settings.marker)
            sort = (*annotation.sort_index, annotation.location.line, annotation.key)
            page, color = annotation.page_label, annotation.color
            entries.append(render.Entry(sort, link, page, color))
            planner.records[-1] = replace(
                planner.records[-1], entry=link, sort=sort, page=page, color=color or ""
            )
        for record in gone.pop(key, []):
            _plan_gone(planner, record, present, annotation_counts, entries)
        rendered = render.source_note(
            source, entries, marker=settings.marker, template=settings.templates.source
        )
        planner.note(
            _Desired(SOURCE, key, rendered, (*render.SOURCE_KEYS, STAMP)),
            index.sources.get(key),
            partial(source_paths.__getitem__, key),
            source_counts,
        )
    # Annotations of sources the export no longer mentions at all.
    for records in gone.values():
        for record in records:
            _plan_gone(planner, record, present, annotation_counts, [])
    for record in state.records.values():
        if record.kind == SOURCE and record.key not in sources:
            planner.records.append(record)

    return Plan(
        writes=tuple(planner.writes),
        copies=tuple(planner.copies),
        conflicts=tuple(planner.conflicts),
        problems=tuple(planner.problems),
        records=tuple(planner.records),
        annotations=annotation_counts,
        sources=source_counts,
    )


PAPERS_PER_PART = 50


class plan_parts:
    """The plan of a sync in parts of ``papers`` papers each, made one part at a time, so
    a sync of 100,000 notes never holds every note's new text at once (None: one part).

    Each part is :func:`make_plan` over some papers: their annotations, and the records of
    those annotations (by the paper each is in now, else the one it was in) and of the
    papers; a last part holds the records of papers the export no longer has. Together
    the parts decide what one plan over everything would: names given in a part are
    taken for the next (``index.stems``), and so are images copied.
    """

    def __init__(
        self,
        export: ExportRead,
        index: VaultIndex,
        state: Snapshot,
        settings: Settings,
        *,
        restore_deleted: bool = False,
        papers: int | None = PAPERS_PER_PART,
    ) -> None:
        # Its own copy of the names: the parts take names as they go, the caller's stay.
        index = replace(index, stems=set(index.stems), same_images=set(index.same_images))
        self.export, self.index, self.state, self.size = export, index, state, papers
        self.by_paper: dict[str, list[Annotation]] = defaultdict(list)
        for annotation in export.annotations:
            self.by_paper[annotation.source.key].append(annotation)
        self.papers = len(self.by_paper)
        self.papers_done = 0
        # Every paper named first, as one plan would, before any annotation note is.
        sources = {a.source.key: a.source for a in export.annotations}
        namer = _Planner(settings, index, state, restore_deleted)
        source_paths = _source_paths(namer, sources)
        index.stems.update(path.stem.casefold() for path in source_paths.values())
        self._plan = partial(
            make_plan,
            settings=settings,
            restore_deleted=restore_deleted,
            paths_of_sources=source_paths,
        )

    def parts(self) -> Iterator[Part]:
        """The parts, in order: some papers each, with their annotations and records."""
        if self.size is None:
            yield Part(tuple(sorted(self.by_paper)), self.export, self.state)
            return
        now = {a.key: a.source.key for a in self.export.annotations}
        records: dict[str, dict[tuple[str, str], Record]] = defaultdict(dict)
        for (kind, key), record in self.state.records.items():
            paper = now.get(key, record.source_key) if kind == ANNOTATION else key
            records[paper][(kind, key)] = record
        papers = sorted(self.by_paper)
        groups = [papers[i : i + self.size] for i in range(0, len(papers), self.size)]
        gone = sorted(set(records) - set(self.by_paper))
        for group in [*groups, gone] if gone else groups:
            annotations = tuple(a for paper in group for a in self.by_paper.get(paper, ()))
            state = {k: r for p in group for k, r in records[p].items()}
            yield Part(
                tuple(group),
                replace(self.export, annotations=annotations),
                Snapshot(state, self.state.meta),
            )

    def plan(self, part: Part, notes: VaultIndex | None = None) -> Plan:
        """The plan of one part; ``notes``: its notes, when the index given holds names
        and places only (the vault read a part at a time)."""
        index = self.index
        if notes is not None:
            index = replace(notes, stems=index.stems, same_images=index.same_images)
        result = self._plan(part.export, state=part.state, index=index)
        self.index.stems.update(
            w.path.stem.casefold() for w in result.writes if w.action is Action.CREATE
        )
        self.index.same_images.update(copy.path for copy in result.copies)
        self.papers_done += sum(1 for paper in part.papers if paper in self.by_paper)
        return result

    def __iter__(self) -> Iterator[Plan]:
        for part in self.parts():
            yield self.plan(part)


@dataclass(frozen=True, slots=True)
class Part:
    """Some papers of a sync: their annotations and their records."""

    papers: tuple[str, ...]
    export: ExportRead
    state: Snapshot

    @property
    def notes(self) -> set[tuple[str, str]]:
        """The (kind, key) of every note the part's plan looks at."""
        keys = {(ANNOTATION, a.key) for a in self.export.annotations}
        keys |= {(SOURCE, a.source.key) for a in self.export.annotations}
        return keys | set(self.state.records)


def outcome(plan: Plan) -> Plan:
    """What a plan leaves for the report once it is written and its records saved: counts,
    conflicts and problems, without the notes, their texts and the records."""
    return replace(plan, writes=(), copies=(), records=())


def combine(plans: Sequence[Plan]) -> Plan:
    """The parts of a plan as one."""

    def total(counts: Iterable[Counts]) -> Counts:
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


def literature_name(source: SourceInfo, rule: str) -> str:
    """A new literature note's name by the configured rule: the paper's title (the readers
    rank where it came from, see export/titles.py), its citation, or its item key."""
    if rule == "key":
        return source.key
    if rule == "citation" and source.citation:
        return source.citation
    return source.title


def _source_paths(planner: _Planner, sources: Mapping[str, SourceInfo]) -> dict[str, PurePosixPath]:
    """Where each paper's literature note is, or will be (a new name, free in the vault)."""
    paths: dict[str, PurePosixPath] = {}
    for key in sorted(sources):
        found = planner.index.sources.get(key)
        if found is not None:
            paths[key] = found.path
        else:
            stem = literature_stem(sources[key], planner.settings)
            paths[key] = planner.new_path(planner.settings.sources_folder, stem, key)
    return paths


def literature_stem(source: SourceInfo, settings: Settings) -> str:
    """The name a new literature note is given, before any free-name suffix."""
    name = literature_name(source, settings.literature_name)
    return safe_stem(name, fallback=f"Zotero item {source.key}")


def _plan_gone(
    planner: _Planner,
    record: Record,
    present: set[str],
    counts: Counts,
    entries: list[render.Entry],
) -> None:
    """An annotation obsync synced before that the export no longer has."""
    found = planner.index.annotations.get(record.key)
    if found is None:  # deleted by the user: forget nothing, show nothing
        planner.records.append(replace(record, path=""))
        return
    removed = record.export_file in present  # its file is there, without it
    if removed:
        planner.mark_removed(record, found, counts)
    else:
        planner.records.append(record)
    entries.append(
        render.Entry(record.sort, record.entry, record.page, record.color or None, removed)
    )


def describe(plan: Plan) -> Iterable[str]:
    """The plan as lines for ``--dry-run``."""
    for write in plan.writes:
        yield f"{write.action.value:13} {write.kind:10} {write.path}"
    for copy in plan.copies:
        yield f"{'copy':13} {'image':10} {copy.path}"
    for conflict in plan.conflicts:
        yield f"{'conflict':13} {conflict.kind:10} {conflict.path} (new version: {conflict.copy})"
    for problem in plan.problems:
        yield f"{'problem':13} {'note':10} {problem.path}: {problem.message}"
