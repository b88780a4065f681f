"""``obsync run``: sync, then keep syncing as the export folder changes, until told to stop.

The loop is driven by an event queue and a clock that tests replace. Each sync
re-lists the export folder and re-reads only files whose size or modification
time changed (the read cache), so a batch of events only says *when* to sync.
A periodic full rescan, and one after any observer trouble, catches missed
events. Files modified in the last ``settle`` seconds may still be growing:
they cannot mark annotations removed, and a follow-up sync looks at them again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from obsync.config import Settings
from obsync.export import ReadCache, export_files
from obsync.notify import Notifier
from obsync.sync import Report, run_sync
from obsync.watch import RESCAN, Debouncer, EventSource, WatchdogSource

log = logging.getLogger(__name__)


class Events(Protocol):
    def get(self, timeout: float) -> Path | None:
        """The next changed path, or None after ``timeout`` seconds without one."""
        ...


@dataclass(slots=True)
class QueueEvents:
    changes: queue.Queue[Path] = field(default_factory=queue.Queue)

    def get(self, timeout: float) -> Path | None:
        try:
            return self.changes.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None


@dataclass(slots=True)
class Daemon:
    settings: Settings
    events: Events
    start_source: Callable[[], EventSource]
    notifier: Notifier = field(default_factory=Notifier)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    stop: threading.Event = field(default_factory=threading.Event)
    debounce: float = 1.0
    rescan_interval: float = 300.0
    settle: float = 5.0
    max_restarts: int = 5
    sync: Callable[..., Report] = run_sync
    cache: ReadCache = field(default_factory=dict)
    syncs: int = 0
    recheck_at: float | None = None

    def run(self) -> int:
        """Run until ``stop`` is set (0), or until the observer cannot be kept alive (1)."""
        report = self.sync_now()
        self.notifier.ready(self.describe(report))
        log.info("watching %s", self.settings.export)
        source = self.start_source()
        debouncer = Debouncer(self.debounce)
        restarts = 0
        next_rescan = self.clock() + self.rescan_interval
        next_ping = self.clock()
        while not self.stop.is_set():
            now = self.clock()
            healthy = source.is_alive()
            if not healthy:
                restarts += 1
                if restarts > self.max_restarts:
                    log.error("the file observer keeps dying; exiting so systemd restarts obsync")
                    source.stop()
                    return 1
                log.warning("the file observer stopped; restarting it and rescanning")
                source.stop()
                source = self.start_source()
                debouncer.add(RESCAN, now)
                healthy = source.is_alive()
            interval = self.notifier.watchdog_interval
            if healthy and interval is not None and now >= next_ping:
                self.notifier.watchdog()
                next_ping = now + interval
            if now >= next_rescan or (self.recheck_at is not None and now >= self.recheck_at):
                debouncer.add(RESCAN, now)
            batch, rescan = debouncer.ready(now)
            if batch or rescan:
                log.debug("syncing: %d changed paths%s", len(batch), ", rescan" if rescan else "")
                report = self.sync_now()
                self.notifier.status(self.describe(report))
                if rescan:
                    next_rescan = self.clock() + self.rescan_interval
                continue
            waits = [next_rescan - now, 1.0]
            if (pending := debouncer.next_check(now)) is not None:
                waits.append(pending)
            if interval is not None:
                waits.append(next_ping - now)
            if self.recheck_at is not None:
                waits.append(self.recheck_at - now)
            path = self.events.get(max(0.0, min(waits)))
            while path is not None:
                debouncer.add(path, self.clock())
                path = self.events.get(0.0)
        self.notifier.stopping()
        source.stop()
        log.info("stopped")
        return 0

    def sync_now(self) -> Report:
        unsettled = self.unsettled()
        report = self.sync(
            self.settings, cache=self.cache, unsettled=unsettled, stop=self.stop.is_set
        )
        self.syncs += 1
        # Look again once the files that were still settling have settled.
        self.recheck_at = self.clock() + self.settle if unsettled else None
        for error in report.errors:
            log.warning("%s%s: %s", error["file"], f":{error['line']}" if error["line"] else "",
                        error["message"])  # fmt: skip
        log.info("%s", report.summary())
        return report

    def unsettled(self) -> frozenset[Path]:
        """Export files modified within the last ``settle`` seconds."""
        horizon = self.wall_clock() - self.settle
        recent = set()
        for path in export_files(self.settings.export):
            try:
                if path.stat().st_mtime > horizon:
                    recent.add(path)
            except OSError:
                continue
        return frozenset(recent)

    @staticmethod
    def describe(report: Report) -> str:
        a = report.plan.annotations
        return (
            f"{a.created + a.updated + a.unchanged} annotations; last sync: {a.created} created, "
            f"{a.updated} updated, {a.removed} removed, {a.conflicts} conflicts, "
            f"{len(report.errors)} errors"
        )


def watchdog_daemon(settings: Settings, *, polling: bool, **options: object) -> Daemon:
    """A daemon on the real file system with watchdog's observer."""
    events = QueueEvents()

    def start() -> EventSource:
        source = WatchdogSource(settings.export, events.changes, polling=polling)
        source.start()
        return source

    return Daemon(settings, events, start, **options)  # type: ignore[arg-type]
