"""The first steps of a sync: look cheaply at both sides, decide the scope, read the export.

A stat listing of the export folder and the state's record of each export file decide the
scope (sync/scope.py, pure); the export files in scope are read through the one cache
(export/folder.py), widening the scope by what the papers read need, until it no longer
grows. Where the scope's notes are in the vault is asked of the vault's reader.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from obsync.export.folder import NO_HOLD, ExportFolder, Hold, Seen, Stamp, trusted
from obsync.export.merge import merge
from obsync.model import ExportRead, Kind
from obsync.progress import Progress
from obsync.settings.config import Settings
from obsync.sync.scope import (
    Contents,
    Request,
    Scope,
    restamped,
    scope,
    settings_fingerprint,
    widen,
)
from obsync.sync.state import FileRecord, Snapshot, StateStore
from obsync.vault.names import attachment_name, literature_stem
from obsync.vault.read import Located, NoteKey, Notes, VaultReader, Wanted, locate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Looked:
    """What a sync looks at, once the export is read: its scope, the export's annotations
    of the scope's papers, their records, and what the state will keep of the files."""

    scope: Scope
    read: ExportRead
    records: Snapshot
    files: tuple[FileRecord, ...]


def look(
    settings: Settings,
    request: Request,
    store: StateStore,
    folder: ExportFolder,
    vault: VaultReader,
    *,
    hold: Hold = NO_HOLD,
    progress: Progress | None = None,
) -> Looked:
    """Look at both sides, decide the scope, read the export files in it."""
    looked_at_ns = time.time_ns()
    meta = store.load_meta()
    stored = store.load_files() if meta else {}
    listing = folder.list(hold)
    held = set(folder.held)
    digests = folder.digests(n for n in restamped(listing, stored) if n in stored)
    deleted = store.deleted() if meta else {}
    wanted = scope(
        request, listing, stored, meta, settings_fingerprint(settings),
        held=held, digests=digests, deleted_papers=frozenset(deleted.values()),
    )  # fmt: skip
    if not wanted.everything and vault.listed:
        wanted = widen(wanted, {}, stored, listing, _vault_says(store, vault, deleted))
    wanted, seen, records = _read(store, folder, wanted, stored, listing, progress)
    standing_in = folder.cached(
        n
        for n in held
        if wanted.everything or (n in stored and set(stored[n].sources) & wanted.papers)
    )
    read = merge([s.read for s in (seen | standing_in).values()])
    if not wanted.everything:
        annotations = tuple(a for a in read.annotations if a.source.key in wanted.papers)
        read = replace(read, annotations=annotations)
    log.debug("scope: %s; %d files read (%d parsed), %d gone, %d papers",
              ", ".join(wanted.reasons) or "what changed", len(seen), folder.parsed,
              len(wanted.gone), len(wanted.papers))  # fmt: skip
    files = _file_records(seen, stored, listing, wanted.same, looked_at_ns)
    return Looked(wanted, read, records, tuple(files))


def _read(
    store: StateStore,
    folder: ExportFolder,
    wanted: Scope,
    stored: Mapping[str, FileRecord],
    listing: Mapping[str, Stamp],
    progress: Progress | None,
) -> tuple[Scope, dict[str, Seen], Snapshot]:
    """Read the scope's files, widening it by what they hold, until it no longer grows;
    an annotation that moved papers takes its former paper along."""
    seen: dict[str, Seen] = {}
    while True:
        seen |= folder.read(listing, wanted.files - seen.keys(), progress)
        contents = {n: Contents(s.papers, s.citations) for n, s in seen.items()}
        wider = widen(wanted, contents, stored, listing)
        if wider == wanted:
            records = _records(store, wanted, seen)
            if wanted.everything:
                return wanted, seen, records
            moved = {r.source_key for r in records.records.values() if r.kind == Kind.ANNOTATION}
            wider = widen(wanted, contents, stored, listing, moved - wanted.papers)
            if wider == wanted:
                return wanted, seen, records
        wanted = wider


def _records(store: StateStore, wanted: Scope, seen: Mapping[str, Seen]) -> Snapshot:
    """The state's records of the scope: of its papers, and of the annotations read."""
    if wanted.everything:
        return store.load()
    keys = [a.key for s in seen.values() for a in s.read.annotations]
    return store.load_scope(wanted.papers, keys)


def _vault_says(store: StateStore, vault: VaultReader, deleted: Mapping[NoteKey, str]) -> set[str]:
    """The papers whose notes the vault's names say moved (or are gone), or came back
    after the user deleted them: their notes are looked for by key and their papers
    planned, so the links to them are mended."""
    places = store.paths()
    absent = places - vault.names().paths
    papers = store.papers_at(absent) if absent else set()
    if deleted:
        found = Notes()
        locate(vault.root, set(deleted), vault.in_folders(), found, known=places)
        vault.read += found.read
        back = {(kind, key) for kind in Kind for key in found.table(kind)}
        papers |= {deleted[k] for k in back}
    return papers


def locate_notes(
    settings: Settings, looked: Looked, store: StateStore, vault: VaultReader, request: Request
) -> Located:
    """Where the scope's notes are in the vault, and the names new notes are chosen against."""
    records = looked.records.records
    recorded = {k: PurePosixPath(r.path) for k, r in records.items() if r.path}
    if looked.scope.everything:
        return vault.find_every(recorded)
    read = looked.read
    new: set[NoteKey] = {(Kind.ANNOTATION, a.key) for a in read.annotations} - records.keys()
    papers = {a.source.key: a.source for a in read.annotations}
    new_papers = {(Kind.SOURCE, k) for k in papers} - records.keys()
    hints = {f"{key}.md" for _kind, key in new}
    for _kind, key in new_papers:
        stem = literature_stem(papers[key], settings.literature_name)
        hints |= {f"{stem}.md", f"{stem} ({key}).md"}
    return vault.find(
        Wanted(
            recorded,
            deleted=frozenset(k for k, r in records.items() if not r.path),
            new=frozenset(new | new_papers),
            hints=frozenset(hints),
            known=store.paths,
            restore=request.restore_deleted,
        )
    )


def images(settings: Settings, read: ExportRead) -> list[tuple[Path, PurePosixPath]]:
    """Each image annotation's image and the attachment it is copied to."""
    folder = PurePosixPath(settings.attachments_folder)
    return sorted(
        {(a.image, folder / attachment_name(a.key, a.image))
         for a in read.annotations if a.image is not None}
    )  # fmt: skip


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
        records.append(replace(old, stamp=trusted(listing[name], looked_at_ns)))
    return records
