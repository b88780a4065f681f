"""The export folder as one sync sees it: a stat listing, digests, and the one read cache.

A file is named by its path relative to the export folder (``/``-separated). Its stamp is
its (size, mtime in ns); its digest is a hash of its bytes, which tells a file written
again with the same bytes (Better Notes rewrites every export at Zotero's start-up) from
one that changed, without parsing it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from obsync.export import (
    UNTRUSTED,
    FileRead,
    ReadCache,
    export_files,
    file_stat,
    read_files,
    trusted,
)
from obsync.progress import Progress

Stamp = tuple[int, int]


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


@dataclass(slots=True)
class ExportFolder:
    """The export folder: listed by stat, read through the one cache (the daemon keeps
    it from sync to sync; a file whose stamp did not change is not read again)."""

    root: Path
    cache: ReadCache = field(default_factory=dict)
    parsed: int = 0  # files parsed by this instance: what tests count
    held: set[str] = field(default_factory=set)  # what the last listing held back

    def list(self, hold: frozenset[Path] = frozenset()) -> dict[str, Stamp]:
        """Every export file but those held back (still being written), with its stamp.

        ``hold`` is asked about each file as the listing comes to it (the daemon's may
        say a file changed just now); the names held back are kept in ``held``."""
        listing: dict[str, Stamp] = {}
        seen: set[Path] = set()
        self.held = set()
        for path in export_files(self.root):
            seen.add(path)
            if path in hold:
                self.held.add(relative(path, self.root))
                continue
            if (stamp := file_stat(path)) is not None:
                listing[relative(path, self.root)] = stamp
        for gone in set(self.cache) - seen:
            del self.cache[gone]
        return listing

    def path(self, name: str) -> Path:
        return self.root / name

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
        self, listing: dict[str, Stamp], names: Iterable[str], progress: Progress | None = None
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
