"""The export folder as one sync sees it: a stat listing, digests, and the one read cache.

A file is named by its path relative to the export folder (``/``-separated). Its stamp is
its (size, mtime in ns); its digest is a hash of its bytes, which tells a file written
again with the same bytes (Better Notes rewrites every export at Zotero's start-up) from
one that changed, without parsing it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from obsync.export.read import FileRead, read_files
from obsync.progress import Progress

Stamp = tuple[int, int]
EXPORT_SUFFIXES = (".md", ".markdown", ".html", ".htm")


def is_export_file(name: str) -> bool:
    """Export files by name: hidden files and the ``*.tmp`` of atomic writes are not."""
    return not name.startswith(".") and name.lower().endswith(EXPORT_SUFFIXES)


def export_files(root: Path) -> Iterator[Path]:
    """Every export file below ``root``, in a stable order; hidden folders skipped."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if is_export_file(name):
                yield Path(folder) / name


# path -> ((size, mtime_ns), what reading it gave): files that did not change are not re-read.
ReadCache = dict[Path, tuple[tuple[int, int], FileRead]]


# A stamp that cannot match: the file is read again next time.
UNTRUSTED = (-1, -1)
# File times move in ticks (a few ms; 2 s on FAT): a file written again within the tick it
# was read in keeps its stamp when its size stays. Such a recent stamp is not trusted.
_RACY_NS = 2_000_000_000


def trusted(stamp: tuple[int, int], read_at_ns: int) -> tuple[int, int]:
    """``stamp``, or :data:`UNTRUSTED` when the file changed too shortly before it was read."""
    return UNTRUSTED if stamp[1] >= read_at_ns - _RACY_NS else stamp


def file_stat(path: Path) -> tuple[int, int] | None:
    """A file's (size, mtime in ns), or None when it is not there: what says it changed."""
    try:
        result = os.stat(path)
    except OSError:
        return None
    return (result.st_size, result.st_mtime_ns)


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def digest(path: Path) -> str | None:
    """A hash of a file's bytes, or None when it cannot be read."""
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class Seen:
    """One export file as this sync read it."""

    read: FileRead
    stamp: Stamp  # UNTRUSTED when it changed too shortly before it was read
    digest: str  # "" when read with errors: such a file is read again at every sync

    @property
    def papers(self) -> frozenset[str]:
        return frozenset(a.source.key for a in self.read.annotations)

    @property
    def citations(self) -> frozenset[str]:
        return frozenset(a.source.citation for a in self.read.annotations if a.source.citation)


class Hold(Protocol):
    """Which export files a sync must not read now (they may still be written)."""

    def holds(self, path: Path) -> bool: ...


@dataclass(frozen=True, slots=True)
class HoldThese:
    """Some files held back, named in advance."""

    paths: frozenset[Path] = frozenset()

    def holds(self, path: Path) -> bool:
        return path in self.paths


NO_HOLD = HoldThese()


@dataclass(slots=True)
class ExportFolder:
    """The export folder: listed by stat, read through the one cache (the daemon keeps
    it from sync to sync; a file whose stamp did not change is not read again)."""

    root: Path
    cache: ReadCache = field(default_factory=dict)
    parsed: int = 0  # files parsed by this instance: what tests count
    held: set[str] = field(default_factory=set)  # what the last listing held back

    def list(self, hold: Hold = NO_HOLD) -> dict[str, Stamp]:
        """Every export file but those held back (still being written), with its stamp.

        ``hold`` is asked about each file as the listing comes to it (the daemon's may
        say a file changed just now); the names held back are kept in ``held``."""
        listing: dict[str, Stamp] = {}
        seen: set[Path] = set()
        self.held = set()
        for path in export_files(self.root):
            seen.add(path)
            if hold.holds(path):
                self.held.add(relative(path, self.root))
                continue
            if (stamp := file_stat(path)) is not None:
                listing[relative(path, self.root)] = stamp
        for gone in set(self.cache) - seen:
            del self.cache[gone]
        return listing

    def path(self, name: str) -> Path:
        return self.root / name

    def remember(self, path: Path, stamp: Stamp, read: FileRead) -> None:
        """A read of a file made outside a sync (the daemon's, of a file known whole): the
        next sync takes it, if the file still has that stamp."""
        self.cache[path] = (stamp, read)

    def remembered(self, path: Path) -> Stamp | None:
        """The stamp of the file as last read, if it was."""
        entry = self.cache.get(path)
        return None if entry is None else entry[0]

    def digests(self, names: Iterable[str]) -> dict[str, str]:
        """The digest of each file that can be read."""
        found = {name: digest(self.path(name)) for name in names}
        return {name: d for name, d in found.items() if d is not None}

    def cached(self, names: Iterable[str]) -> dict[str, Seen]:
        """Reads of files held back, from the cache: their last read stands in."""
        out = {}
        for name in names:
            entry = self.cache.get(self.path(name))
            if entry is not None:
                out[name] = Seen(entry[1], UNTRUSTED, "")
        return out

    def read(
        self, listing: Mapping[str, Stamp], names: Iterable[str], progress: Progress | None = None
    ) -> dict[str, Seen]:
        """Read some listed files, parsing only those the cache does not hold as they are."""
        started = time.time_ns()
        out: dict[str, Seen] = {}
        stale: list[str] = []
        for name in sorted(names):
            entry = self.cache.get(self.path(name))
            if entry is not None and entry[0] == listing[name]:
                out[name] = _seen(entry[1], entry[0], digest(self.path(name)))
            else:
                stale.append(name)
        # Digests before parsing: bytes that change meanwhile are read again next time.
        digests = [digest(self.path(n)) for n in stale]
        reads = read_files([self.path(n) for n in stale], self.root, progress)
        self.parsed += len(stale)
        for name, read, hashed in zip(stale, reads, digests, strict=True):
            stamp = trusted(listing[name], started)
            self.cache[self.path(name)] = (stamp, read)
            out[name] = _seen(read, stamp, hashed)
        return out


def _seen(read: FileRead, stamp: Stamp, hashed: str | None) -> Seen:
    if read.errors or read.failed or hashed is None:
        return Seen(read, UNTRUSTED, "")
    return Seen(read, stamp, hashed)
