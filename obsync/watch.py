"""Watching the export folder: OS events become debounced batches of settled files.

Events are hints. A path is handed on once nothing has happened to it for
``quiet`` seconds *and* its size and modification time have stayed the same
over that time. A file renamed into place is known to be whole; any other may
still be growing after a stall, which the daemon guards against (see daemon.py).
The OS event source (watchdog) is swapped for a scripted one in tests, and the
clock is injected.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from obsync.export import file_stat

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


IN_PROGRESS = (".tmp", ".part", ".swp", "~")


def wanted(path: Path) -> bool:
    """Export files and their images; hidden files and writes in progress (``X.md.tmp``) not."""
    name = path.name
    return path == RESCAN or not (name.startswith(".") or name.lower().endswith(IN_PROGRESS))


@dataclass(frozen=True, slots=True)
class Change:
    """A path an event named. ``whole``: it was renamed into place, so it is complete
    (Better Notes writes ``X.md.tmp``, then renames it to ``X.md``)."""

    path: Path
    whole: bool = False


@dataclass(frozen=True, slots=True)
class Batch:
    """Settled paths handed on together, and whether a full rescan is due."""

    paths: frozenset[Path] = frozenset()
    whole: frozenset[Path] = frozenset()  # those complete by rename and unchanged since
    rescan: bool = False

    def __bool__(self) -> bool:
        return bool(self.paths) or self.rescan


@dataclass(slots=True)
class _Pending:
    seen: float
    stat: tuple[int, int] | None
    whole: bool


@dataclass(slots=True)
class Debouncer:
    """Collects changed paths; hands them on once they have settled."""

    quiet: float
    stat: Stat = file_stat
    pending: dict[Path, _Pending] = field(default_factory=dict)
    rescan: bool = False

    def add(self, change: Change, now: float) -> None:
        if change.path == RESCAN:
            self.rescan = True
        elif wanted(change.path):
            self.pending[change.path] = _Pending(now, self.stat(change.path), change.whole)

    def next_check(self, now: float) -> float | None:
        """Seconds until a pending path may be ready, or None when nothing is pending."""
        if not self.pending and not self.rescan:
            return None
        if not self.pending:
            return 0.0
        # A batch waits for every pending path, so the last one seen says when.
        return max(0.0, max(p.seen for p in self.pending.values()) + self.quiet - now)

    def ready(self, now: float) -> Batch:
        """The paths that settled (and whether a full rescan is due); they leave the queue.

        A path that changed since it was last seen starts waiting again (and is no
        longer known to be whole); a batch is only handed on when every pending path
        has settled, so files written together (images, then the note) go together.
        """
        unsettled = False
        for path, pending in list(self.pending.items()):
            if now - pending.seen < self.quiet:
                unsettled = True
                continue
            current = self.stat(path)
            if current != pending.stat:
                self.pending[path] = _Pending(now, current, whole=False)
                unsettled = True
        if unsettled:
            return Batch()
        batch = Batch(
            frozenset(self.pending),
            frozenset(path for path, p in self.pending.items() if p.whole),
            self.rescan,
        )
        self.pending.clear()
        self.rescan = False
        return batch


def changed_paths(event: FileSystemEvent) -> list[Change]:
    """What one watchdog event says changed: paths to look at, or RESCAN."""
    if event.is_directory:
        # A folder created, moved or deleted: its files changed without events of their own.
        return [Change(RESCAN)] if event.event_type in ("created", "moved", "deleted") else []
    if event.event_type in ("opened", "closed_no_write"):
        return []
    changes = [Change(Path(os.fsdecode(event.src_path)))]
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
