"""What changed in the export since the last sync, and which papers that touches (reads only).

The state keeps every export file's size and mtime as obsync last read it, and the
papers it held. A sync stats the export files: when none changed, there is nothing to
do, because the vault alone never calls for a write (a note the user edited, moved or
deleted is theirs while Zotero says nothing new). When some changed, only their papers
are planned: the files that changed, every other file holding those papers (one paper's
annotations are merged across files), the papers' records in the state, and their notes,
read from where the state says they are. So a sync costs a stat per export file plus
the work of what changed, not a pass over 100,000 notes.

Whenever that narrow view could differ from the whole one, :func:`find_scope` returns
None and the sync looks at everything: no state yet, the last sync did not finish, the
settings or obsync's version changed, a new paper (its note's name must be checked
against every name in the vault), a paper known only by its citation (matched across
papers), a note not where the state says, or most files changed anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from obsync import __version__
from obsync.config import Settings
from obsync.export import (
    UNTRUSTED,
    FileRead,
    ReadCache,
    export_files,
    file_stat,
    merge,
    read_file,
    trusted,
)
from obsync.model import ExportRead
from obsync.note import decode
from obsync.progress import READING, Progress
from obsync.scan import CONFLICT_SUFFIX, Found, VaultIndex, frontmatter_key, listing
from obsync.state import FileRecord, Snapshot, StateStore

_MAX_ROUNDS = 8


def settings_fingerprint(settings: Settings) -> str:
    """What a note's rendering depends on besides the export: a change means a full sync."""
    values = {
        "version": __version__,
        "export": str(settings.export),
        "vault": str(settings.vault),
        "folders": [
            settings.annotations_folder,
            settings.sources_folder,
            settings.attachments_folder,
        ],
        "marker": settings.marker,
        "colors": sorted((k, list(v)) for k, v in settings.colors.items()),
        "templates": [settings.templates.annotation.text, settings.templates.source.text],
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def file_records(reads: Iterable[tuple[FileRead, tuple[int, int]]], root: Path) -> list[FileRecord]:
    """What the state keeps of files just read. A file read with errors is read again at
    every sync, so its errors keep being reported until it is mended."""
    return [
        FileRecord(
            relative(read.path, root),
            UNTRUSTED if read.errors or read.failed else stamp,
            tuple(sorted({a.source.key for a in read.annotations})),
        )
        for read, stamp in reads
    ]


@dataclass(slots=True)
class Scope:
    """The part of the library one sync looks at."""

    export: ExportRead  # the annotations of the papers in scope
    state: Snapshot  # their records
    index: VaultIndex  # their notes
    reads: list[tuple[FileRead, tuple[int, int]]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # files no longer there

    @property
    def empty(self) -> bool:
        return not self.reads and not self.gone


@dataclass(slots=True)
class _Files:
    """The export folder now, against the state's view of it."""

    root: Path
    cache: ReadCache
    now: dict[str, tuple[Path, tuple[int, int]]]
    held: dict[str, Path]
    reads: dict[str, tuple[FileRead, tuple[int, int]]] = field(default_factory=dict)
    held_reads: dict[str, FileRead] = field(default_factory=dict)  # last reads stand in
    progress: Progress | None = None  # told of each file read (how many: not known ahead)

    def read(self, name: str) -> FileRead | None:
        """A file's read, from the cache when unchanged; None for one held back, unread."""
        if name in self.reads:
            return self.reads[name][0]
        if name in self.held:
            cached = self.cache.get(self.held[name])
            if cached is None:
                return None
            self.held_reads[name] = cached[1]
            return cached[1]
        path, stamp = self.now[name]
        cached = self.cache.get(path)
        if cached is not None and cached[0] == stamp:
            result = cached[1]
        else:
            started = time.time_ns()
            result = read_file(path, self.root)
            stamp = trusted(stamp, started)
            self.cache[path] = (stamp, result)
        self.reads[name] = (result, stamp)
        if self.progress is not None:
            self.progress(READING, len(self.reads), None)
        return result


def _restored(settings: Settings, store: StateStore, present: set[str], known: set[str]) -> bool:
    """Whether a note the user deleted is back (Obsidian's trash, an undo) in obsync's
    folders: a full sync takes it up again. Only asked while the user has deleted some,
    and only the names obsync does not know are read."""
    deleted = store.deleted()
    if not deleted:
        return False
    folders = tuple(f"{f}/" for f in (settings.annotations_folder, settings.sources_folder))
    for name in present - known:
        if not name.endswith(".md") or not name.startswith(folders):
            continue
        if name.removesuffix(".md").endswith(CONFLICT_SUFFIX):
            continue
        with contextlib.suppress(OSError):
            found = frontmatter_key(decode((settings.vault / name).read_bytes()))
            kind = "annotation" if found and found[0] == "annotation-key" else "source"
            if found is not None and (kind, found[1]) in deleted:
                return True
    return False


def find_scope(
    settings: Settings,
    store: StateStore,
    cache: ReadCache,
    hold: frozenset[Path] = frozenset(),
    *,
    check_vault: bool = True,
    progress: Progress | None = None,
) -> Scope | None:
    """The papers touched by export changes since the last sync, or None: look at all.

    With ``check_vault``, the vault's folders are listed too (names only, no note is
    read): a note renamed or moved, or a temporary file left by a killed run,
    calls for a full sync, which finds it and mends the links to it."""
    meta = store.load_meta()
    if meta is None or meta.get("complete") != "1":
        return None
    if meta.get("settings") != settings_fingerprint(settings):
        return None
    stored = store.load_files()
    if not stored:
        return None
    if check_vault:
        present, temp_files = listing(settings.vault)
        known = store.note_paths()
        if temp_files or not known <= present or _restored(settings, store, present, known):
            return None
    root = settings.export
    files = _Files(root, cache, {}, {}, progress=progress)
    for path in export_files(root):
        name = relative(path, root)
        if path in hold:
            files.held[name] = path
        elif (stamp := file_stat(path)) is not None:
            files.now[name] = (path, stamp)
    changed = [
        name for name, (_, stamp) in files.now.items()
        if name not in stored or stored[name].stamp != stamp
    ]  # fmt: skip
    gone = [name for name in stored if name not in files.now and name not in files.held]
    if not changed and not gone:
        return Scope(ExportRead(), Snapshot({}, meta), VaultIndex())
    if len(changed) + len(gone) > max(8, len(files.now) // 4):
        return None  # a full sync costs about the same

    holding: dict[str, set[str]] = defaultdict(set)  # paper -> files that held it
    for record in stored.values():
        for source in record.sources:
            holding[source].add(record.path)
    sources = {s for name in changed + gone if name in stored for s in stored[name].sources}
    for name in changed:
        if (read := files.read(name)) is not None:
            sources |= {a.source.key for a in read.annotations}

    for _ in range(_MAX_ROUNDS):
        for name in {n for s in sources for n in holding[s]} - set(gone):
            if name not in files.now and name not in files.held:
                continue
            if (read := files.read(name)) is None:
                return None  # held back and never read: only a full sync can leave it out
            sources |= {a.source.key for a in read.annotations}
        reads = [r for r, _ in files.reads.values()] + list(files.held_reads.values())
        export = _narrow(merge(reads), sources)
        state = store.load_scope(sources, [a.key for a in export.annotations])
        moved = {r.source_key for r in state.records.values() if r.kind == "annotation"}
        if moved <= sources:
            break
        sources |= moved  # an annotation moved between papers: its old paper too
    else:
        return None
    if any(s.startswith("obs-") for s in sources):
        return None
    if any(("source", s) not in state.records for s in {a.source.key for a in export.annotations}):
        return None
    index = _notes(settings, state, export)
    if index is None:
        return None
    return Scope(export, state, index, list(files.reads.values()), gone)


def _narrow(read: ExportRead, sources: set[str]) -> ExportRead:
    """The annotations of some papers. Every file that held them was read, so a file read
    without one of them says it is gone (the plan marks it removed), as in a full sync."""
    return replace(read, annotations=tuple(a for a in read.annotations if a.source.key in sources))


def _notes(settings: Settings, state: Snapshot, export: ExportRead) -> VaultIndex | None:
    """The notes of the records in scope, read where the state says; None if one moved."""
    vault = settings.vault
    index = VaultIndex()
    for record in state.records.values():
        if not record.path:
            continue  # deleted by the user
        relative_path = PurePosixPath(record.path)
        path = vault / relative_path
        try:
            if path.is_symlink():
                return None
            text = decode(path.read_bytes())
        except OSError:
            return None
        wanted = ("annotation-key" if record.kind == "annotation" else "item-key", record.key)
        if frontmatter_key(text) != wanted:
            return None
        table = index.annotations if record.kind == "annotation" else index.sources
        table[record.key] = Found(relative_path, text)
        index.files.add(relative_path)
        index.stems.add(relative_path.stem.casefold())
        copy = relative_path.with_name(f"{relative_path.stem}{CONFLICT_SUFFIX}.md")
        with contextlib.suppress(OSError):
            index.conflict_copies[copy] = decode((vault / copy).read_bytes())
    for annotation in export.annotations:
        if annotation.image is not None:
            name = f"{annotation.key}{annotation.image.suffix.lower()}"
            target = PurePosixPath(settings.attachments_folder) / name
            if (vault / target).is_file():
                index.files.add(target)
    return index
