"""Which export files a daemon's sync must not read yet, and the reads that stand in.

A file renamed into place (Better Notes' atomic write), or closed by its writer, is whole
until it changes: the daemon reads it before the sync, checking it unchanged around the
read, and the sync takes that read from the export folder's cache. Should the file change
meanwhile (its writer began again), the sync holds it back and the read made while it was
whole stands in. Any other file modified in the last ``settle`` seconds may belong to a
writer that stalled (Zotero writes in place, in chunks): it is held back, its last
complete read standing in for it, and a follow-up sync reads it once it has settled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from obsync.export.folder import ExportFolder, export_files, file_stat
from obsync.export.read import read_file

Stamp = tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class Settling:
    """The export files one sync must not read: those that may still be growing, and any
    that changed or appeared since the sync began (a writer starting on it meanwhile),
    asked as the sync comes to each file, just before it looks at its size and time."""

    growing: frozenset[Path]
    seen: Mapping[Path, Stamp]  # every export file's (size, mtime) as the sync began

    def holds(self, path: Path) -> bool:
        return path in self.growing or path not in self.seen or file_stat(path) != self.seen[path]


@dataclass(slots=True)
class Whole:
    """The files known whole (renamed into place or closed by their writer), with their
    (size, mtime) then: whole while unchanged."""

    settle: float
    wall_clock: Callable[[], float]
    stamps: dict[Path, Stamp] = field(default_factory=dict)

    def changed(self, paths: Iterable[Path], whole: Mapping[Path, Stamp]) -> None:
        """Some files changed (a debounced batch); of those, ``whole`` are known whole."""
        for path in paths:
            self.stamps.pop(path, None)
        self.stamps.update(whole)

    def read_into(self, folder: ExportFolder) -> None:
        """Read the files known whole into the folder's cache, each unchanged around its
        read, so the sync takes these reads and reads none of these files itself. One that
        changed is whole no longer."""
        for path, stamp in list(self.stamps.items()):
            if stamp is None or folder.remembered(path) == stamp:
                continue
            if file_stat(path) == stamp:
                read = read_file(path, folder.root)
                if file_stat(path) == stamp:
                    folder.remember(path, stamp, read)
                    continue
            del self.stamps[path]

    def unsettled(self, root: Path) -> tuple[Settling, float]:
        """What the next sync must not read, and the seconds until the files that may still
        be growing have settled: those modified in the last ``settle`` seconds, unless known
        whole and unchanged since. A modification time far in the future (a skewed network
        clock) says nothing: such a file counts as settled."""
        now = self.wall_clock()
        recent: set[Path] = set()
        wait = 0.0
        seen = {path: file_stat(path) for path in export_files(root)}
        for path, stat in seen.items():
            if stat is None or self.stamps.get(path, ()) == stat:
                continue
            age = now - stat[1] / 1e9
            if -self.settle < age < self.settle:
                recent.add(path)
                wait = max(wait, self.settle - age + 0.05)
        for path in set(self.stamps) - set(seen):
            del self.stamps[path]
        return Settling(frozenset(recent), seen), wait
