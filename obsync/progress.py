"""Progress of one sync: the callback the core calls, and the terminal bar ``obsync sync`` shows.

The core (``sync``, ``export``, ``vault``) only calls a :class:`Progress`, when it is
given one: ``progress(phase, done, total)``. Only the command line makes one that draws,
with rich, which is imported when the first thing is drawn, so a sync with nothing to
show, the daemon, and every output that is not a terminal never import it.
"""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

READING = "reading"  # export files read: done of total
PLANNING = "planning"  # notes planned: no count (total None)
WRITING = "writing"  # notes and images written: done of total
SYNCING = "syncing"  # papers planned and written, a part at a time: done of total

_LABELS = {
    READING: "Reading exports",
    PLANNING: "Planning",
    WRITING: "Writing notes",
    SYNCING: "Syncing papers",
}
_INTERVAL = 0.05  # seconds between redraws asked for by the callback; the last always draws


class Progress(Protocol):
    """Called as work is done: ``done`` of ``total`` in ``phase``; ``total`` is None when not
    known in advance. Called from the syncing thread only; it must not raise."""

    def __call__(self, phase: str, done: int, total: int | None) -> None: ...


class TerminalBar:
    """A rich progress bar on stderr, one row per phase, cleared when the sync is done.

    Use as a context manager around the sync; it draws nothing until it is first called.
    While it is shown, obsync's log lines are printed above it, not through it.
    """

    def __init__(self) -> None:
        self._bar: RichProgress | None = None
        self._tasks: dict[str, tuple[TaskID, int | None]] = {}  # phase -> its row, its total
        self._last = 0.0
        self._handlers: list[tuple[logging.StreamHandler[Any], Any]] = []

    def __enter__(self) -> TerminalBar:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if total == 0:
            return  # nothing to do in this phase: no row for it
        bar = self._bar or self._start()
        if phase not in self._tasks:
            self._finish_rows()
            task = bar.add_task(_LABELS.get(phase, phase), total=total, count="")
            self._last = 0.0
        else:
            task = self._tasks[phase][0]
        self._tasks[phase] = (task, total)
        now = time.monotonic()
        if now - self._last < _INTERVAL and done != total:
            return  # an update costs more than a note: at most one every _INTERVAL
        self._last = now
        count = f"{done}/{total}" if total is not None else str(done) if done else ""
        bar.update(task, completed=done, total=total, count=count)
        bar.refresh()

    def _start(self) -> RichProgress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,  # the summary line is what stays
            # Drawn when told, not by a thread of its own: a process with one thread
            # may fork a second reader (see export.read_files).
            auto_refresh=False,
        )
        stderr = sys.stderr
        bar.start()
        # Log lines go through rich's stand-in for sys.stderr, so they print above the bar.
        for handler in logging.getLogger("obsync").handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is stderr:
                self._handlers.append((handler, handler.setStream(sys.stderr)))
        self._bar = bar
        return bar

    def _finish_rows(self) -> None:
        """Show the phases before this one as done (the planning row has no count)."""
        assert self._bar is not None
        for task, total in self._tasks.values():
            self._bar.update(task, total=total or 1, completed=total or 1)

    def close(self) -> None:
        if self._bar is None:
            return
        self._finish_rows()
        try:
            self._bar.stop()
        finally:
            for handler, stream in self._handlers:
                handler.setStream(stream)
            self._handlers.clear()
            self._bar = None
