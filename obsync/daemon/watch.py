"""Watching the export folder: OS events become settled files, each on its own clock.

Events are hints. A path is handed on once nothing has happened to it for
``quiet`` seconds *and* its size and modification time have stayed the same
over that time, whatever other files do meanwhile. No change waits longer than
``max_delay``: a file rewritten without pause is handed on anyway, at a moment
it is known to be whole (renamed into place, or closed by its writer) and
unchanged since. A file not known to be whole may still be growing after a
stall, which the daemon guards against (see settle.py). The OS event source
(watchdog) is swapped for a scripted one in tests, and the clock is injected.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from obsync.export.folder import file_stat, is_export_file

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)

RESCAN = Path("\0rescan")  # a change to this path asks for a full rescan


class EventSource(Protocol):
    """Something that puts changes (or a RESCAN) on a queue while it is alive."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def is_alive(self) -> bool: ...


Stat = Callable[[Path], tuple[int, int] | None]


def wanted(path: Path) -> bool:
    """Export files only. Hidden files and writes in progress (``X.md.tmp``) are not, nor
    images: an image changes no note by itself, and the note naming it is written after it."""
    return path == RESCAN or is_export_file(path.name)


@dataclass(frozen=True, slots=True)
class Change:
    """A path an event named. ``whole``: its writer is done with it, so it is complete:
    renamed into place (Better Notes writes ``X.md.tmp``, then renames it to ``X.md``)
    or closed after writing."""

    path: Path
    whole: bool = False


@dataclass(frozen=True, slots=True)
class Batch:
    """Settled paths handed on together, and whether a full rescan is due."""

    paths: frozenset[Path] = frozenset()
    # Those complete (renamed or closed) and unchanged since, with their (size, mtime) then.
    whole: Mapping[Path, tuple[int, int] | None] = field(default_factory=dict)
    rescan: bool = False

    def __bool__(self) -> bool:
        return bool(self.paths) or self.rescan


@dataclass(slots=True)
class _Pending:
    first: float  # the first change not handed on yet
    seen: float  # the last event
    stat: tuple[int, int] | None
    whole: bool


# A file handed on at the ceiling was closed or renamed at least this long ago: an event
# for a write begun just after (a truncate) has had time to arrive and say it is not whole.
GRACE = 0.2


@dataclass(slots=True)
class Debouncer:
    """Collects changed paths; hands each on once it has settled, or at the ceiling."""

    quiet: float
    max_delay: float = float("inf")
    stat: Stat = file_stat
    pending: dict[Path, _Pending] = field(default_factory=dict)
    rescan: bool = False

    def add(self, change: Change, now: float) -> None:
        if change.path == RESCAN:
            self.rescan = True
        elif wanted(change.path):
            known = self.pending.get(change.path)
            first = now if known is None else known.first
            self.pending[change.path] = _Pending(first, now, self.stat(change.path), change.whole)

    def _due(self, pending: _Pending) -> float:
        """When a path may be handed on, if it has not changed by then."""
        due = pending.seen + self.quiet
        if pending.whole:
            due = min(due, max(pending.first + self.max_delay, pending.seen + GRACE))
        return due

    def next_check(self, now: float) -> float | None:
        """Seconds until a pending path may be ready, or None when nothing is pending."""
        if not self.pending and not self.rescan:
            return None
        if self.rescan:
            return 0.0
        return max(0.0, min(self._due(p) for p in self.pending.values()) - now)

    def ready(self, now: float) -> Batch:
        """The paths that settled (and whether a full rescan is due); they leave the queue.

        A path that changed since it was last seen starts waiting again (and is no
        longer known to be whole); the time of its first change still counts for the
        ceiling. Other paths do not hold a settled one back.
        """
        settled: dict[Path, _Pending] = {}
        for path, pending in list(self.pending.items()):
            if now < self._due(pending):
                continue
            current = self.stat(path)
            if current != pending.stat:
                self.pending[path] = _Pending(pending.first, now, current, whole=False)
                continue
            settled[path] = self.pending.pop(path)
        if not settled and not self.rescan:
            return Batch()
        batch = Batch(
            frozenset(settled),
            {path: p.stat for path, p in settled.items() if p.whole},
            self.rescan,
        )
        self.rescan = False
        return batch


def changed_paths(event: FileSystemEvent) -> list[Change]:
    """What one watchdog event says changed: paths to look at, or RESCAN."""
    if event.is_directory:
        # A folder created, moved or deleted: its files changed without events of their own.
        return [Change(RESCAN)] if event.event_type in ("created", "moved", "deleted") else []
    if event.event_type in ("opened", "closed_no_write"):
        return []
    # Closed after writing (inotify only): the writer is done, the file whole until it changes.
    changes = [Change(Path(os.fsdecode(event.src_path)), whole=event.event_type == "closed")]
    if dest := getattr(event, "dest_path", ""):
        changes.append(Change(Path(os.fsdecode(dest)), whole=True))
    return changes


class _TroubleAlarm(logging.Handler):
    """watchdog logs an inotify queue overflow or an observer error: events were lost."""

    def __init__(self, changes: queue.Queue[Change]) -> None:
        super().__init__(logging.WARNING)
        self.changes = changes

    def emit(self, record: logging.LogRecord) -> None:
        self.changes.put(Change(RESCAN))


class WatchdogSource:
    """watchdog's observer (inotify on Linux, FSEvents on macOS, or polling for network
    folders) feeding a queue."""

    def __init__(self, root: Path, changes: queue.Queue[Change], *, polling: bool = False) -> None:
        self.root = root
        self.changes = changes
        self.polling = polling
        self.observer: BaseObserver | None = None
        self.alarm = _TroubleAlarm(changes)

    def start(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        changes = self.changes

        class Forward(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                for change in changed_paths(event):
                    changes.put(change)

        observer: BaseObserver = PollingObserver() if self.polling else Observer()
        observer.schedule(Forward(), str(self.root), recursive=True)
        observer.start()  # raises OSError when the folder cannot be watched
        self.observer = observer
        logging.getLogger("watchdog").addHandler(self.alarm)

    def stop(self) -> None:
        logging.getLogger("watchdog").removeHandler(self.alarm)
        observer = self.observer
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def is_alive(self) -> bool:
        """The observer thread runs, and so does its emitter (it stops if the folder goes)."""
        observer = self.observer
        return (
            observer is not None
            and observer.is_alive()
            and all(emitter.is_alive() for emitter in observer.emitters)
        )
