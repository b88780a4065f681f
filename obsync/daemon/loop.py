"""``obsync run``: sync, then keep syncing as the export folder changes, until told to stop.

The loop is driven by an event queue and a clock that tests replace. Each sync
re-lists the export folder and re-reads only files whose size or modification
time changed (the read cache), so a batch of events only says *when* to sync.
A periodic full rescan, and one after any observer trouble, catches missed
events.

Each file is debounced on its own (see watch.py): a file quiet for ``debounce``
is synced while others keep changing, and no change waits longer than
``max_delay``, even in a file rewritten without pause.

A half-written file is never read: which files a sync must not read yet is
daemon/settle.py's to say.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from obsync.daemon.notify import Notifier
from obsync.daemon.settle import Whole
from obsync.daemon.watch import RESCAN, Batch, Change, Debouncer, EventSource, WatchdogSource
from obsync.errors import ObsyncError
from obsync.export.folder import ExportFolder, Hold
from obsync.settings.config import Settings
from obsync.sync import Report, Request, run_sync

log = logging.getLogger(__name__)


class Events(Protocol):
    def get(self, timeout: float) -> Change | None:
        """The next change, or None after ``timeout`` seconds without one."""
        ...


@dataclass(slots=True)
class QueueEvents:
    changes: queue.Queue[Change] = field(default_factory=queue.Queue)

    def get(self, timeout: float) -> Change | None:
        try:
            return self.changes.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None


class Sync(Protocol):
    """What the daemon calls for one sync (:func:`obsync.sync.run_sync`)."""

    def __call__(
        self,
        settings: Settings,
        request: Request = ...,
        *,
        folder: ExportFolder | None = ...,
        hold: Hold = ...,
        stop: Callable[[], bool] = ...,
    ) -> Report: ...


@dataclass(slots=True)
class _Loop:
    """The run loop's own clocks: its debouncer, rescans and observer restarts."""

    debouncer: Debouncer
    last_restart: float
    next_rescan: float = 0.0
    next_restart: float = 0.0
    restarts: int = 0


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
    max_delay: float = 10.0
    rescan_interval: float = 300.0
    settle: float = 5.0
    max_restarts: int = 5
    retry_after: float = 30.0
    sync: Sync = run_sync
    folder: ExportFolder | None = None  # the export folder and its reads, sync to sync
    recheck_at: float | None = None
    source: EventSource | None = None
    next_ping: float = 0.0
    whole: Whole | None = None

    def __post_init__(self) -> None:
        if self.folder is None:
            self.folder = ExportFolder(self.settings.export)
        if self.whole is None:
            self.whole = Whole(self.settle, self.wall_clock)

    def run(self) -> int:
        """Run until ``stop`` is set (0), or until the observer cannot be kept alive (1)."""
        # Watching starts first: an export written during the first sync, or just after
        # systemd is told obsync is ready, is an event, not missed until the next rescan.
        self.source = self.start_watching()
        # As `obsync sync` does: what changed while obsync was not running, with the vault
        # listed. Everything is looked at only when the state cannot be trusted.
        report = self.sync_now()
        self.notifier.ready(report.status())
        log.info("watching %s", self.settings.export)
        loop = _Loop(Debouncer(self.debounce, self.max_delay), last_restart=self.clock())
        loop.next_rescan = self.clock() + self.rescan_interval
        loop.next_restart = self.clock()
        while not self.stop.is_set():
            now = self.clock()
            healthy = self.healthy()
            if not healthy and now >= loop.next_restart:
                if not self.restart_observer(loop, now):
                    return 1
                healthy = self.healthy()
            elif healthy and loop.restarts and now - loop.last_restart >= self.rescan_interval:
                loop.restarts = 0  # healthy for a while: past failures are forgiven
            self.ping_if_due()
            if now >= loop.next_rescan or (self.recheck_at is not None and now >= self.recheck_at):
                loop.debouncer.add(Change(RESCAN), now)
            batch = loop.debouncer.ready(now)
            if batch:
                self.sync_batch(batch, loop)
                continue
            self.take_changes(loop.debouncer, self.wait(loop, now, healthy=healthy))
        self.notifier.stopping()
        if self.source is not None:
            self.source.stop()
        log.info("stopped")
        return 0

    def restart_observer(self, loop: _Loop, now: float) -> bool:
        """Stop the dead observer and start another, with a rescan; False past ``max_restarts``."""
        if self.source is not None:
            log.warning("the file observer stopped; restarting it and rescanning")
            self.source.stop()
        loop.restarts += 1
        if loop.restarts > self.max_restarts:
            log.error("the file observer keeps failing; exiting so systemd restarts obsync")
            return False
        self.source = self.start_watching()
        loop.last_restart, loop.next_restart = now, now + min(60.0, 2.0**loop.restarts)
        loop.debouncer.add(Change(RESCAN), now)
        return True

    def sync_batch(self, batch: Batch, loop: _Loop) -> None:
        """Sync a ready batch; a rescan also lists the vault and restarts the rescan clock."""
        log.debug("syncing: %d changed paths%s", len(batch.paths),
                  ", rescan" if batch.rescan else "")  # fmt: skip
        assert self.whole is not None
        self.whole.changed(batch.paths, batch.whole)
        if (again := self.sync_again(list_vault=batch.rescan)) is not None:
            self.notifier.status(again.status())
        if batch.rescan:
            loop.next_rescan = self.clock() + self.rescan_interval

    def wait(self, loop: _Loop, now: float, *, healthy: bool) -> float:
        """Seconds until the loop next has something to do, at most one."""
        waits = [loop.next_rescan - now, 1.0]
        if (pending := loop.debouncer.next_check(now)) is not None:
            waits.append(pending)
        if healthy and self.notifier.watchdog_interval is not None:
            waits.append(self.next_ping - now)
        if self.recheck_at is not None:
            waits.append(self.recheck_at - now)
        if not healthy:
            waits.append(loop.next_restart - now)
        return max(0.0, min(waits))

    def take_changes(self, debouncer: Debouncer, timeout: float) -> None:
        """Wait up to ``timeout`` for a change, then add it and all changes already queued."""
        change = self.events.get(timeout)
        while change is not None:
            debouncer.add(change, self.clock())
            change = self.events.get(0.0)

    def healthy(self) -> bool:
        return self.source is not None and self.source.is_alive()

    def ping_if_due(self) -> None:
        """WATCHDOG=1 to systemd, only while the observer is healthy."""
        interval = self.notifier.watchdog_interval
        now = self.clock()
        if interval is not None and now >= self.next_ping and self.healthy():
            self.notifier.watchdog()
            self.next_ping = now + interval

    def should_stop(self) -> bool:
        """Asked between writes: keep systemd's watchdog fed in a long sync; stop if told."""
        self.ping_if_due()
        return self.stop.is_set()

    def start_watching(self) -> EventSource | None:
        """The started event source, or None (logged) when it cannot start."""
        try:
            return self.start_source()
        except OSError as exc:
            log.warning("cannot watch %s: %s", self.settings.export, exc)
            return None

    def sync_now(self, *, list_vault: bool = True) -> Report:
        """A sync of what changed (see sync/scope.py); the vault's folders listed at start
        and on rescans only, so an export change is written without that walk."""
        assert self.whole is not None and self.folder is not None
        settling, settled_in = self.whole.unsettled(self.settings.export)
        self.whole.read_into(self.folder)
        report = self.sync(
            self.settings,
            Request(list_vault=list_vault),
            folder=self.folder,
            hold=settling,
            stop=self.should_stop,
        )
        if settling.growing:
            log.info("%d export files still settling; reading them in %.1f s",
                     len(settling.growing), settled_in)  # fmt: skip
        self.recheck_at = self.clock() + settled_in if settling.growing else None
        if report.applied is not None and report.applied.failed:
            # A full disk or a read-only folder may be fixed soon: try those notes again.
            retry = self.clock() + self.retry_after
            self.recheck_at = min(retry, self.recheck_at or retry)
            log.warning("%d notes not written; trying again in %g s",
                        len(report.applied.failed), self.retry_after)  # fmt: skip
        log.info("%s", report.summary())  # errors and conflicts were logged as warnings
        return report

    def sync_again(self, *, list_vault: bool) -> Report | None:
        """A sync from inside the loop: a failure is logged and retried, never fatal."""
        try:
            return self.sync_now(list_vault=list_vault)
        except Exception as exc:
            message = (
                exc.message if isinstance(exc, ObsyncError) else f"{type(exc).__name__}: {exc}"
            )
            log.error("sync failed: %s; trying again in %g s", message, self.retry_after,
                      exc_info=not isinstance(exc, ObsyncError))  # fmt: skip
            self.notifier.status(f"last sync failed: {message}")
            self.recheck_at = self.clock() + self.retry_after
            return None


def watchdog_daemon(settings: Settings) -> Daemon:
    """A daemon on the real file system with watchdog's observer, as configured."""
    events = QueueEvents()
    options = settings.daemon

    def start() -> EventSource:
        source = WatchdogSource(settings.export, events.changes, polling=options.polling)
        source.start()
        return source

    daemon = Daemon(
        settings,
        events,
        start,
        debounce=options.debounce,
        max_delay=options.max_delay,
        settle=options.settle,
        rescan_interval=options.rescan_interval,
    )
    if settings.zotero is not None:  # Zotero's streaming API: a sync when a library changes
        from obsync.zotero import stream

        stream.start(settings.zotero, lambda: events.changes.put(Change(RESCAN)), daemon.stop)
    return daemon
