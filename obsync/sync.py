"""One sync, the same for every sync: look, decide the scope, read, plan, apply, commit.

1. Look cheaply at both sides: a stat listing of the export folder, the state's record of
   each export file, and (for ``obsync sync``, the daemon's start and rescans) the names
   of the vault's files, no note read.
2. Decide the scope: a pure function (changes.py); "everything" is the widest scope.
3. Read the export files in scope (one reader, one cache), widening the scope by what the
   papers read need, until it no longer grows.
4. Read the notes of the scope's records where the state says they are; a note not there
   is looked for by key before it counts as deleted.
5. Plan in parts of a few papers (plan.py: pure), apply each part (vault.py: the one
   writer), and commit each part's records to the state at once (state.py: one way).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from obsync import export, obsidian_base
from obsync.changes import Contents, Request, Scope, restamped, scope, settings_fingerprint, widen
from obsync.config import Settings
from obsync.export.folder import ExportFolder, Seen, Stamp
from obsync.model import ExportRead
from obsync.plan import (
    ANNOTATION,
    PAPERS_PER_PART,
    SOURCE,
    Counts,
    Plan,
    combine,
    literature_stem,
    outcome,
    plan_parts,
)
from obsync.progress import PLANNING, SYNCING, Progress
from obsync.scan import (
    Found,
    Names,
    VaultIndex,
    conflict_copy,
    list_names,
    locate,
    read_keyed,
    read_notes,
    same_images,
)
from obsync.state import Commit, FileRecord, Snapshot, StateStore
from obsync.templating import DEFAULT as DEFAULT_TEMPLATES
from obsync.vault import Applied, apply, remove_temp_files
from obsync.zotero import source as zotero

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Report:
    export: ExportRead
    plan: Plan
    applied: Applied | None  # None for a dry run
    scope: str = "all"  # "all" notes looked at, the papers "changed", or "nothing" changed
    notes_read: int = 0  # what this sync cost in the vault

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = [
            {"file": str(e.file), "line": e.line, "message": e.message} for e in self.export.errors
        ]
        errors += [
            {"file": str(p.path), "line": None, "message": p.message} for p in self.plan.problems
        ]
        if self.applied is not None:
            errors += [
                {"file": str(path), "line": None, "message": f"not written: {why}"}
                for path, why in self.applied.failed
            ]
        return errors

    @property
    def exit_code(self) -> int:
        failed = self.applied is not None and bool(self.applied.failed)
        return 1 if self.export.errors or failed else 0

    def as_json(self) -> dict[str, Any]:
        def counts(c: Counts, *, annotations: bool) -> dict[str, int]:
            out = {"created": c.created, "updated": c.updated, "unchanged": c.unchanged}
            if annotations:
                out |= {"removed": c.removed, "conflicts": c.conflicts}
            return out

        return {
            "annotations": counts(self.plan.annotations, annotations=True),
            "sources": counts(self.plan.sources, annotations=False),
            "files": {"read": self.export.files_read, "failed": self.export.files_failed},
            "errors": self.errors,
            "conflicts": [
                {"note": str(c.path), "copy": str(c.copy), "key": c.key}
                for c in self.plan.conflicts
            ],
            "dry_run": self.applied is None,
            "scope": self.scope,
        }

    def summary(self) -> str:
        if self.scope == "nothing":
            return "nothing changed in the export since the last sync"
        a, s = self.plan.annotations, self.plan.sources
        papers = "changed papers: " if self.scope == "changed" else ""
        return (
            f"{papers}annotations: {a.created} created, {a.updated} updated, "
            f"{a.unchanged} unchanged, {a.removed} marked removed, {a.conflicts} conflicts; "
            f"sources: {s.created} created, {s.updated} updated, {s.unchanged} unchanged; "
            f"files: {self.export.files_read} read, {self.export.files_failed} with errors"
        )


def run_sync(
    settings: Settings,
    *,
    dry_run: bool = False,
    restore_deleted: bool = False,
    full: bool = False,
    check_vault: bool = True,
    cache: export.ReadCache | None = None,
    unsettled: frozenset[Path] = frozenset(),
    stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> Report:
    """Sync what the export and the vault say changed since the last sync; everything
    when asked (``full``) or when the state cannot say. ``check_vault=False`` skips
    listing the vault's names unless a new note needs them (the daemon, between rescans).
    ``cache``: export reads kept from sync to sync (the daemon's). ``unsettled``: export
    files still being written, not read now. ``progress`` is told of each export file read
    and each note written (the command line's bar; see progress.py)."""
    store = StateStore(settings.state_file)
    if not dry_run:
        obsidian_base.write_once(settings, store)  # the vault's Base, once ever
    folder = ExportFolder(settings.export, {} if cache is None else cache)
    vault = _Vault(
        settings,
        list_names(settings.vault) if check_vault else None,
        (f"{settings.annotations_folder}/", f"{settings.sources_folder}/"),
    )
    # Zotero's Web API, when configured: what it changed calls for a look at everything
    # (it lists what changed since a version: its papers could narrow the scope instead).
    pulled = zotero.pull(settings.zotero, store) if settings.zotero is not None else None
    full = full or (pulled is not None and pulled.changed)
    request = Request(full=full, restore_deleted=restore_deleted)
    scoped = _look_and_read(settings, request, store, folder, vault, unsettled, progress)
    wanted, read = scoped.scope, scoped.read
    if not wanted.empty:
        read = zotero.merged(read, pulled, None if wanted.everything else scoped.records)
    for error in read.errors:
        log.warning("%s", error)
    if wanted.empty:
        if not dry_run:
            if vault.names is not None and vault.names.temp_files:
                remove_temp_files(settings.vault, vault.names.temp_files)
            store.commit(Commit(meta=(("last_sync", _now()),), files=scoped.files))
        return Report(read, combine([]), None if dry_run else Applied(), "nothing")
    if progress is not None:
        progress(PLANNING, 0, None)
    index = vault.find(wanted, scoped.records, read, store, restore_deleted)
    if not dry_run:
        settings.vault.mkdir(parents=True, exist_ok=True)
        remove_temp_files(settings.vault, index.temp_files)
    same_images(settings.vault, _images(settings, read), index)
    looked_at = "all" if wanted.everything else "changed"

    def parts() -> plan_parts:
        return plan_parts(read, index, scoped.records, settings, restore_deleted=restore_deleted)

    if dry_run:
        planned = parts()
        dry = [planned.plan(part, vault.notes(part.notes)) for part in planned.parts()]
        return Report(read, combine(dry), None, looked_at, vault.read)
    if settings.templates != DEFAULT_TEMPLATES:
        # The user's templates may fail on one paper's data only: try every note before
        # the first part is written, so none is written with a template that fails.
        trial = parts()
        if trial.papers > PAPERS_PER_PART:  # in one part, every note is planned first
            for part in trial.parts():
                trial.plan(part, vault.notes(part.notes))
    plan, applied, kept = _write(settings, store, vault, parts(), scoped, stop, progress)
    report = Report(read, plan, applied, looked_at, vault.read)
    incomplete = kept is None or bool(applied.failed or applied.skipped)
    meta = {
        "last_sync": _now(),
        "last_report": json.dumps(report.as_json(), ensure_ascii=False),
        "vault": str(settings.vault),
        "export": str(settings.export),
        "settings": settings_fingerprint(settings),
        "complete": "0" if incomplete else "1",  # a sync cut short: everything next time
    }
    store.commit(
        Commit(
            meta=tuple(meta.items()),
            files=scoped.files,
            files_gone=tuple(sorted(wanted.gone)),
            # A sync of everything that went to the end forgets what it did not keep.
            kept=frozenset(kept) if wanted.everything and kept is not None else None,
        )
    )
    if kept is not None:
        zotero.synced(pulled)
    return report


@dataclass(frozen=True, slots=True)
class _Scoped:
    """What a sync looks at, once the export is read: its scope, the export's annotations
    of the scope's papers, their records, and what the state will keep of the files."""

    scope: Scope
    read: ExportRead
    records: Snapshot
    files: tuple[FileRecord, ...]


def _look_and_read(
    settings: Settings,
    request: Request,
    store: StateStore,
    folder: ExportFolder,
    vault: _Vault,
    unsettled: frozenset[Path],
    progress: Progress | None,
) -> _Scoped:
    """Look at both sides, decide the scope, read the export files in it, widening it by
    what they hold until it no longer grows."""
    looked_at_ns = time.time_ns()
    meta = store.load_meta()
    stored = store.load_files() if meta else {}
    listing = folder.list(hold=unsettled)
    held = set(folder.held)
    digests = folder.digests(n for n in restamped(listing, stored) if n in stored)
    deleted = store.deleted() if meta else {}
    wanted = scope(
        request, listing, stored, meta, settings_fingerprint(settings),
        held=held, digests=digests, deleted_papers=frozenset(deleted.values()),
    )  # fmt: skip
    if not wanted.everything and vault.names is not None:
        wanted = widen(wanted, {}, stored, listing, _vault_says(store, vault, deleted))
    seen: dict[str, Seen] = {}
    while True:
        seen |= folder.read(listing, wanted.files - seen.keys(), progress)
        contents = {n: Contents(s.papers, s.citations) for n, s in seen.items()}
        wider = widen(wanted, contents, stored, listing)
        if wider == wanted:
            records = _records(store, wanted, seen)
            if wanted.everything:
                break
            # An annotation that moved papers takes its former paper along.
            moved = {r.source_key for r in records.records.values() if r.kind == ANNOTATION}
            wider = widen(wanted, contents, stored, listing, moved - wanted.papers)
            if wider == wanted:
                break
        wanted = wider
    standing_in = folder.cached(
        n
        for n in held
        if wanted.everything or (n in stored and set(stored[n].sources) & wanted.papers)
    )
    read = export.merge([s.read for s in (seen | standing_in).values()])
    if not wanted.everything:
        annotations = tuple(a for a in read.annotations if a.source.key in wanted.papers)
        read = replace(read, annotations=annotations)
    log.debug("scope: %s; %d files read (%d parsed), %d gone, %d papers",
              ", ".join(wanted.reasons) or "what changed", len(seen), folder.parsed,
              len(wanted.gone), len(wanted.papers))  # fmt: skip
    files = _file_records(seen, stored, listing, wanted.same, looked_at_ns)
    return _Scoped(wanted, read, records, tuple(files))


def _write(
    settings: Settings,
    store: StateStore,
    vault: _Vault,
    planned: plan_parts,
    scoped: _Scoped,
    stop: Callable[[], bool],
    progress: Progress | None,
) -> tuple[Plan, Applied, set[tuple[str, str]] | None]:
    """Plan a part, write it, commit its records; part after part. Returns the plan's
    outcome, what was written, and the (kind, key) of every record kept: None when
    stopped before the last part (the papers left are the next sync's)."""
    records = scoped.records
    plans: list[Plan] = []
    applied = Applied()
    kept: set[tuple[str, str]] = set()
    started = False
    for batch in planned.parts():
        if plans and stop():
            return combine(plans), applied, None
        step = planned.plan(batch, vault.notes(batch.notes))
        _log_findings(step)
        if not started and not step.empty:
            store.commit(Commit(meta=(("complete", "0"),)))  # cut short: everything next
            started = True
        everything = scoped.scope.everything
        done = apply(step, settings.vault, stop, None if everything else progress)
        applied.extend(done)
        if everything and progress is not None:
            progress(SYNCING, planned.papers_done, planned.papers)
        # What was written is remembered at once. A note not written keeps its record;
        # a note written and not remembered (a kill here) carries its own stamp.
        not_done = {path for path, _ in done.failed} | {path for path, _ in done.skipped}
        undone = {(w.kind, w.key) for w in step.writes if w.path in not_done}
        new = [r if (r.kind, r.key) not in undone else records.get(r.kind, r.key)
               for r in step.records]  # fmt: skip
        kept.update((r.kind, r.key) for r in new if r is not None)
        changed = tuple(r for r in new if r is not None and records.get(r.kind, r.key) != r)
        if changed:
            store.commit(Commit(records=changed))
        plans.append(outcome(step))
    return combine(plans), applied, kept


def _images(settings: Settings, read: ExportRead) -> list[tuple[Path, PurePosixPath]]:
    """Each image annotation's image and the attachment it is copied to."""
    folder = PurePosixPath(settings.attachments_folder)
    return sorted(
        {(a.image, folder / f"{a.key}{a.image.suffix.lower()}")
         for a in read.annotations if a.image is not None}
    )  # fmt: skip


def _records(store: StateStore, wanted: Scope, seen: Mapping[str, Seen]) -> Snapshot:
    """The state's records of the scope: of its papers, and of the annotations read."""
    if wanted.everything:
        return store.load()
    keys = [a.key for s in seen.values() for a in s.read.annotations]
    return store.load_scope(wanted.papers, keys)


def _vault_says(
    store: StateStore, vault: _Vault, deleted: Mapping[tuple[str, str], str]
) -> set[str]:
    """The papers whose notes the vault's names say moved (or are gone), or came back
    after the user deleted them: their notes are looked for by key and their papers
    planned, so the links to them are mended."""
    assert vault.names is not None
    places = store.paths()
    absent = places - vault.names.paths
    papers = store.papers_at(absent) if absent else set()
    if deleted:
        found = VaultIndex()
        locate(vault.root, set(deleted), vault.in_folders(), found, known=places)
        vault.read += found.read
        back = {("annotation", k) for k in found.annotations}
        back |= {("source", k) for k in found.sources}
        papers |= {deleted[k] for k in back}
    return papers


@dataclass(slots=True)
class _Vault:
    """The vault as this sync reads it: its names, listed once, when needed; where each
    note of the scope is, by key; the notes' texts, read a part at a time."""

    settings: Settings
    names: Names | None
    folders: tuple[str, ...]  # obsync's own: where a deleted note is looked for
    where: dict[tuple[str, str], PurePosixPath] = field(default_factory=dict)
    texts: dict[tuple[str, str], Found] = field(default_factory=dict)  # read while looking
    read: int = 0  # notes read: what tests count

    @property
    def root(self) -> Path:
        return self.settings.vault

    def listed(self) -> Names:
        if self.names is None:
            self.names = list_names(self.root)
        return self.names

    def in_folders(self) -> Names:
        """The names in obsync's folders (where a note the user deleted comes back)."""
        return Names({p for p in self.listed().paths if p.startswith(self.folders)}, [])

    def find(
        self,
        wanted: Scope,
        records: Snapshot,
        read: ExportRead,
        store: StateStore,
        restore_deleted: bool,
    ) -> VaultIndex:
        """Where the scope's notes are, found by key, and the names new notes are chosen
        against; no note's text is kept but those read to find them."""
        recorded = {k: PurePosixPath(r.path) for k, r in records.records.items() if r.path}
        index = VaultIndex()
        if wanted.everything:
            # Every name; every note not where the state says is read for its key.
            self.names = None
            names = self.listed()
            self.where = {k: p for k, p in recorded.items() if str(p) in names.paths}
            known = {str(p) for p in self.where.values()}
            self._look(Names(names.paths - known, []), None)
            if missing := recorded.keys() - self.where.keys():  # moved while listed?
                self.names = None
                self._look(Names(self.listed().paths - names.paths, []), missing)
        else:
            self.where = dict(recorded)
            # Not where the state says (the names say so, or a literature note is not
            # there: annotation notes link it by name): looked for by key now.
            absent = {
                k for k, p in recorded.items()
                if (str(p) not in self.names.paths if self.names is not None
                    else k[0] == SOURCE and not (self.root / p).is_file())
            }  # fmt: skip
            if absent:  # among the names no other note of obsync's has
                for k in absent:
                    del self.where[k]
                known = store.paths() | {str(p) for p in recorded.values()}
                self._look(Names(self.listed().paths - known, []), absent)
            deleted = {k for k, r in records.records.items() if not r.path}
            if deleted and self.names is not None:  # brought back (Obsidian's trash, an undo)?
                self._look(self.in_folders(), deleted)
            new = {(ANNOTATION, a.key) for a in read.annotations} - records.records.keys()
            papers = {a.source.key: a.source for a in read.annotations}
            new_papers = {(SOURCE, k) for k in papers} - records.records.keys()
            if new or new_papers:  # written by obsync on another computer, unknown here?
                hints = {f"{key}.md" for _kind, key in new}
                for _kind, key in new_papers:
                    stem = literature_stem(papers[key], self.settings)
                    hints |= {f"{stem}.md", f"{stem} ({key}).md"}
                named = {p for p in self.listed().paths if p.rsplit("/", 1)[-1] in hints}
                self._look(Names(named, []), new | new_papers)
            new_paper = bool(new_papers)
            if not (restore_deleted or new_paper or new or self.names is not None):
                return index
        names = self.listed()
        index.stems = names.stems
        index.temp_files = names.temp_files
        for (kind, key), path in self.where.items():
            if kind == SOURCE:  # where the literature notes are: annotation notes link them
                index.sources[key] = Found(path, "")
        return index

    def _look(self, names: Names, keys: set[tuple[str, str]] | None) -> None:
        """Read notes among ``names`` for their keys: those in ``keys`` (None: any)."""
        found = VaultIndex()
        if keys is None:
            read_keyed(self.root, names.paths, found)
        else:
            locate(self.root, keys, names, found)
        self.read += found.read
        for kind, table in ((ANNOTATION, found.annotations), (SOURCE, found.sources)):
            for key, note in table.items():
                if (kind, key) not in self.where:
                    self.where[(kind, key)] = note.path
                    self.texts[(kind, key)] = note

    def notes(self, keys: set[tuple[str, str]]) -> VaultIndex:
        """The texts of some notes of the scope, read where they were found; a note not
        there any more is looked for by key before it counts as deleted."""
        index = VaultIndex()
        wanted = []
        for kind, key in sorted(keys):
            if (kind, key) in self.texts:
                note = self.texts.pop((kind, key))
                index.add(_FIELD[kind], key, note)
                index.conflict_copies.update(conflict_copy(self.root, note.path, self.names))
            elif (kind, key) in self.where:
                wanted.append((kind, key, str(self.where[(kind, key)])))
        missing = read_notes(self.root, wanted, index, self.names)
        if missing:  # moved meanwhile: look again
            self.names = None
            known = {str(p) for k, p in self.where.items() if k not in missing}
            locate(self.root, missing, self.listed(), index, known=known,
                   hints=[p for k, key, p in wanted if (k, key) in missing])  # fmt: skip
        self.read += index.read
        return index


_FIELD = {ANNOTATION: "annotation-key", SOURCE: "item-key"}


def _file_records(
    seen: Mapping[str, Seen],
    stored: Mapping[str, FileRecord],
    listing: Mapping[str, Stamp],
    same: Iterable[str],
    looked_at_ns: int,
) -> list[FileRecord]:
    """What the state keeps of the export files this sync read, or found written again
    with the same bytes. A file read with errors is read again at every sync, so its
    errors keep being reported until it is mended."""
    records = [
        FileRecord(name, s.stamp, tuple(sorted(s.papers)), s.digest, tuple(sorted(s.citations)))
        for name, s in seen.items()
    ]
    for name in sorted(set(same) - seen.keys()):
        old = stored[name]
        stamp = export.trusted(listing[name], looked_at_ns)
        records.append(replace(old, stamp=stamp))
    return records


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _log_findings(plan: Plan) -> None:
    for problem in plan.problems:
        log.warning("%s: %s", problem.path, problem.message)
    for conflict in plan.conflicts:
        log.warning(
            "conflict: %s was edited above the marker and changed in Zotero; new version in %s",
            conflict.path,
            conflict.copy,
        )
