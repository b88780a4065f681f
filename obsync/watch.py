"""Watching the export folder: OS events become debounced batches of settled files.

Events are hints. A path is handed on once nothing has happened to it for
``quiet`` seconds *and* its size and modification time have stayed the same
over that time, so a file Zotero is still streaming into is never read half
written. The OS event source (watchdog) is swapped for a scripted one in tests,
and the clock is injected.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from obsync.export import is_export_file

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)

RESCAN = Path("\0rescan")  # queued when events may have been missed


class EventSource(Protocol):
    """Something that puts changed paths (or RESCAN) on a queue while it is alive."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def is_alive(self) -> bool: ...


Stat = Callable[[Path], tuple[int, int] | None]


def file_stat(path: Path) -> tuple[int, int] | None:
    """(size, mtime in ns), or None for a file that is not there."""
    try:
        result = os.stat(path)
    except OSError:
        return None
    return (result.st_size, result.st_mtime_ns)


def wanted(path: Path) -> bool:
    """Export files only: hidden files and ``*.tmp`` writes in progress are ignored."""
    return path == RESCAN or is_export_file(path.name)


@dataclass(slots=True)
class Debouncer:
    """Collects changed paths; hands them on once they have settled."""

    quiet: float
    stat: Stat = file_stat
    pending: dict[Path, tuple[float, tuple[int, int] | None]] = field(default_factory=dict)
    rescan: bool = False

    def add(self, path: Path, now: float) -> None:
        if path == RESCAN:
            self.rescan = True
        elif wanted(path):
            self.pending[path] = (now, self.stat(path))

    def next_check(self, now: float) -> float | None:
        """Seconds until a pending path may be ready, or None when nothing is pending."""
        if not self.pending and not self.rescan:
            return None
        if not self.pending:
            return 0.0
        return max(0.0, min(seen for seen, _ in self.pending.values()) + self.quiet - now)

    def ready(self, now: float) -> tuple[set[Path], bool]:
        """The paths that settled (and whether a full rescan is due); they leave the queue.

        A path that changed since it was last seen starts waiting again; a batch is
        only handed on when every pending path has settled, so files written
        together (images, then the note) are synced together.
        """
        unsettled = False
        for path, (seen, before) in list(self.pending.items()):
            if now - seen < self.quiet:
                unsettled = True
                continue
            current = self.stat(path)
            if current != before:
                self.pending[path] = (now, current)
                unsettled = True
        if unsettled:
            return set(), False
        batch, rescan = set(self.pending), self.rescan
        self.pending.clear()
        self.rescan = False
        return batch, rescan


class WatchdogSource:
    """watchdog's observer (inotify, or polling for network folders) feeding a queue."""

    def __init__(self, root: Path, changes: queue.Queue[Path], *, polling: bool = False) -> None:
        self.root = root
        self.changes = changes
        self.polling = polling
        self.observer: BaseObserver | None = None

    def start(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        changes = self.changes

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory:
                    # A folder created, moved or deleted: its files changed without events.
                    if event.event_type in ("created", "moved", "deleted"):
                        changes.put(RESCAN)
                    return
                if event.event_type in ("opened", "closed_no_write"):
                    return
                for raw in (event.src_path, getattr(event, "dest_path", "")):
                    if raw:
                        changes.put(Path(os.fsdecode(raw)))

        observer: BaseObserver = PollingObserver() if self.polling else Observer()
        observer.schedule(Handler(), str(self.root), recursive=True)
        observer.start()
        self.observer = observer

    def stop(self) -> None:
        observer = self.observer
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def is_alive(self) -> bool:
        return self.observer is not None and self.observer.is_alive()
