"""``obsync run``: sync, then keep syncing as the export folder changes, until told to stop.

The loop is driven by an event queue and a clock that tests replace. Each sync
re-lists the export folder and re-reads only files whose size or modification
time changed (the read cache), so a batch of events only says *when* to sync.
A periodic full rescan, and one after any observer trouble, catches missed
events.

Each file is debounced on its own (see watch.py): a file quiet for ``debounce``
is synced while others keep changing, and no change waits longer than
``max_delay``, even in a file rewritten without pause.

A half-written file is never read. A file renamed into place (Better Notes'
atomic write), or closed by its writer, is whole until it changes: the daemon
reads it before the sync, checking it unchanged around the read, and the sync
takes that read from the cache; should the file change meanwhile (its writer
began again), the sync holds it back and the read made while it was whole
stands in (see :class:`Held`). Any other file modified in the last ``settle``
seconds may belong to a writer that stalled longer than the debounce (Zotero
writes in place, in chunks): it is held back, its last complete read standing
in for it, and a follow-up sync reads it once it has settled.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from obsync.config import Settings
from obsync.errors import ObsyncError
from obsync.export import ReadCache, export_files, file_stat, read_file
from obsync.notify import Notifier
from obsync.sync import Report, run_sync
from obsync.watch import RESCAN, Change, Debouncer, EventSource, WatchdogSource

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


Stamp = tuple[int, int] | None


class Held(frozenset[Path]):
    """The export files a sync must not read: those that may still be growing (the
    set's members), and any that changed or appeared since the sync began, as a writer
    starting on it meanwhile does.

    The second kind is asked about as the sync comes to each file, just before it looks
    at its size and time: a write begun after the daemon's look is still caught, and
    the file's last complete read (for a file known whole, the daemon's own) stands in.
    """

    __slots__ = ("seen",)
    seen: Mapping[Path, Stamp]

    def __new__(cls, growing: frozenset[Path], seen: Mapping[Path, Stamp]) -> Held:
        held = super().__new__(cls, growing)
        held.seen = seen  # every export file's (size, mtime) as the sync began
        return held

    def __contains__(self, path: object) -> bool:
        if frozenset.__contains__(self, path):
            return True
        return isinstance(path, Path) and (
            path not in self.seen or file_stat(path) != self.seen[path]
        )


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
    sync: Callable[..., Report] = run_sync
    cache: ReadCache = field(default_factory=dict)
    recheck_at: float | None = None
    source: EventSource | None = None
    next_ping: float = 0.0
    # Files renamed into place or closed by their writer, with their (size, mtime) then:
    # whole while unchanged.
    whole: dict[Path, Stamp] = field(default_factory=dict)

    def run(self) -> int:
        """Run until ``stop`` is set (0), or until the observer cannot be kept alive (1)."""
        # Watching starts first: an export written during the first sync, or just after
        # systemd is told obsync is ready, is an event, not missed until the next rescan.
        self.source = self.start_watching()
        # As `obsync sync` does: what changed while obsync was not running, with the vault
        # listed. Everything is looked at only when the state cannot be trusted.
        report = self.sync_now()
        self.notifier.ready(self.describe(report))
        log.info("watching %s", self.settings.export)
        debouncer = Debouncer(self.debounce, self.max_delay)
        restarts, last_restart = 0, self.clock()
        next_rescan = self.clock() + self.rescan_interval
        next_restart = self.clock()
        while not self.stop.is_set():
            now = self.clock()
            healthy = self.healthy()
            if not healthy and now >= next_restart:
                if self.source is not None:
                    log.warning("the file observer stopped; restarting it and rescanning")
                    self.source.stop()
                restarts += 1
                if restarts > self.max_restarts:
                    log.error("the file observer keeps failing; exiting so systemd restarts obsync")
                    return 1
                self.source = self.start_watching()
                last_restart, next_restart = now, now + min(60.0, 2.0**restarts)
                debouncer.add(Change(RESCAN), now)
                healthy = self.healthy()
            elif healthy and restarts and now - last_restart >= self.rescan_interval:
                restarts = 0  # healthy for a while: past failures are forgiven
            self.ping_if_due()
            if now >= next_rescan or (self.recheck_at is not None and now >= self.recheck_at):
                debouncer.add(Change(RESCAN), now)
            batch = debouncer.ready(now)
            if batch:
                log.debug("syncing: %d changed paths%s", len(batch.paths),
                          ", rescan" if batch.rescan else "")  # fmt: skip
                for path in batch.paths:
                    self.whole.pop(path, None)
                self.whole.update(batch.whole)
                if (again := self.sync_again(check_vault=batch.rescan)) is not None:
                    self.notifier.status(self.describe(again))
                if batch.rescan:
                    next_rescan = self.clock() + self.rescan_interval
                continue
            waits = [next_rescan - now, 1.0]
            if (pending := debouncer.next_check(now)) is not None:
                waits.append(pending)
            if healthy and self.notifier.watchdog_interval is not None:
                waits.append(self.next_ping - now)
            if self.recheck_at is not None:
                waits.append(self.recheck_at - now)
            if not healthy:
                waits.append(next_restart - now)
            change = self.events.get(max(0.0, min(waits)))
            while change is not None:
                debouncer.add(change, self.clock())
                change = self.events.get(0.0)
        self.notifier.stopping()
        if self.source is not None:
            self.source.stop()
        log.info("stopped")
        return 0

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

    def sync_now(self, *, full: bool = False, check_vault: bool = True) -> Report:
        """A sync of what changed (see changes.py); the vault's folders listed at start and
        on rescans only, so an export change is written without that walk."""
        unsettled, settled_in = self.unsettled()
        self.read_whole()
        report = self.sync(
            self.settings,
            full=full,
            check_vault=check_vault,
            cache=self.cache,
            unsettled=unsettled,
            stop=self.should_stop,
        )
        if unsettled:
            log.info("%d export files still settling; reading them in %.1f s",
                     len(unsettled), settled_in)  # fmt: skip
        self.recheck_at = self.clock() + settled_in if unsettled else None
        if report.applied is not None and report.applied.failed:
            # A full disk or a read-only folder may be fixed soon: try those notes again.
            retry = self.clock() + self.retry_after
            self.recheck_at = min(retry, self.recheck_at or retry)
            log.warning("%d notes not written; trying again in %g s",
                        len(report.applied.failed), self.retry_after)  # fmt: skip
        log.info("%s", report.summary())  # errors and conflicts were logged as warnings
        return report

    def sync_again(self, *, check_vault: bool) -> Report | None:
        """A sync from inside the loop: a failure is logged and retried, never fatal."""
        try:
            return self.sync_now(check_vault=check_vault)
        except Exception as exc:
            message = (
                exc.message if isinstance(exc, ObsyncError) else f"{type(exc).__name__}: {exc}"
            )
            log.error("sync failed: %s; trying again in %g s", message, self.retry_after,
                      exc_info=not isinstance(exc, ObsyncError))  # fmt: skip
            self.notifier.status(f"last sync failed: {message}")
            self.recheck_at = self.clock() + self.retry_after
            return None

    def read_whole(self) -> None:
        """Read the files known whole into the cache, each unchanged around its read, so
        the sync takes these reads (the size and time it finds are theirs) and reads
        none of these files itself. One that changed is whole no longer."""
        for path, stamp in list(self.whole.items()):
            cached = self.cache.get(path)
            if stamp is None or (cached is not None and cached[0] == stamp):
                continue
            if file_stat(path) == stamp:
                read = read_file(path, self.settings.export)
                if file_stat(path) == stamp:
                    self.cache[path] = (stamp, read)
                    continue
            del self.whole[path]

    def unsettled(self) -> tuple[Held, float]:
        """Export files the sync must not read (see :class:`Held`), and the seconds until
        those that may still be growing have settled.

        Those modified in the last ``settle`` seconds may be growing, unless known to be
        whole (renamed into place or closed by their writer) and unchanged since. A
        modification time far in the future (a skewed network clock) says nothing: such a
        file counts as settled.
        """
        now = self.wall_clock()
        recent: set[Path] = set()
        wait = 0.0
        seen = {path: file_stat(path) for path in export_files(self.settings.export)}
        files = set(seen)
        for path, stat in seen.items():
            if stat is None or (path in self.whole and self.whole[path] == stat):
                continue
            age = now - stat[1] / 1e9
            if -self.settle < age < self.settle:
                recent.add(path)
                wait = max(wait, self.settle - age + 0.05)
        for path in set(self.whole) - files:
            del self.whole[path]
        return Held(frozenset(recent), seen), wait

    @staticmethod
    def describe(report: Report) -> str:
        if report.scope == "nothing":
            return "last sync: nothing changed in the export"
        a = report.plan.annotations
        total = a.created + a.updated + a.unchanged
        known = f"{total} annotations; " if report.scope == "all" else ""
        return (
            f"{known}last sync: {a.created} created, "
            f"{a.updated} updated, {a.removed} removed, {a.conflicts} conflicts, "
            f"{len(report.errors)} errors"
        )


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
