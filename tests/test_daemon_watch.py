"""The watcher: debounced batches of settled files, and watchdog's observer feeding a queue."""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirModifiedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from obsync.daemon.watch import (
    GRACE,
    RESCAN,
    Batch,
    Change,
    Debouncer,
    WatchdogSource,
    changed_paths,
)


class FakeStat:
    """File sizes and mtimes a test sets by hand."""

    def __init__(self) -> None:
        self.files: dict[Path, tuple[int, int]] = {}

    def __call__(self, path: Path) -> tuple[int, int] | None:
        return self.files.get(path)

    def write(self, path: Path, size: int, mtime: int) -> None:
        self.files[path] = (size, mtime)


NOTE = Path("/export/Paper.md")
OTHER = Path("/export/Other.md")
IMAGE = Path("/export/attachments/QGZ7JHTT.png")


def test_a_path_is_handed_on_after_the_quiet_time() -> None:
    stat = FakeStat()
    stat.write(NOTE, 100, 1)
    debouncer = Debouncer(quiet=1.0, stat=stat)
    debouncer.add(Change(NOTE), now=10.0)
    assert debouncer.next_check(10.0) == 1.0
    assert debouncer.ready(10.5) == Batch()
    assert debouncer.next_check(10.5) == 0.5
    assert debouncer.ready(11.0) == Batch(frozenset({NOTE}))
    assert debouncer.next_check(11.0) is None
    assert debouncer.ready(20.0) == Batch()


def test_a_file_still_growing_is_not_handed_on() -> None:
    """Zotero truncates, then writes in chunks: each chunk restarts the wait."""
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, stat=stat)
    stat.write(NOTE, 0, 1)
    debouncer.add(Change(NOTE), now=0.0)
    # A chunk lands without an event reaching us (events are only hints).
    stat.write(NOTE, 4096, 2)
    assert debouncer.ready(1.0) == Batch()  # it changed since it was seen: wait again
    stat.write(NOTE, 8192, 3)
    assert debouncer.ready(2.0) == Batch()
    assert debouncer.ready(2.9) == Batch()
    assert debouncer.ready(3.0) == Batch(frozenset({NOTE}))


def test_events_for_each_chunk_push_the_batch_back() -> None:
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, stat=stat)
    for step in range(5):
        stat.write(NOTE, step * 100, step)
        debouncer.add(Change(NOTE), now=step * 0.5)
        assert debouncer.ready(step * 0.5 + 0.4) == Batch()
    assert debouncer.ready(2.0 + 1.0) == Batch(frozenset({NOTE}))


def test_a_quiet_file_is_not_held_back_by_one_that_keeps_changing() -> None:
    """Two papers rewritten in turn, 0.8 s apart: each is quiet for 1.6 s between its own
    writes, so each is handed on a second after its write, while the other changes."""
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, stat=stat)
    handed: list[tuple[float, Path]] = []
    for step in range(20):
        now = step * 0.8
        for path in debouncer.ready(now).paths:
            handed.append((now, path))
        path = NOTE if step % 2 == 0 else OTHER
        stat.write(path, 100 + step, step)
        debouncer.add(Change(path, whole=True), now=now)
        wait = debouncer.next_check(now)
        assert wait is not None and 0 < wait <= 1.0
        later = now + wait
        if later < now + 0.8:
            for path in debouncer.ready(later).paths:
                handed.append((later, path))
    # Every write but the last was handed on one second after it was made.
    assert [round(when, 6) for when, _ in handed] == [round(s * 0.8 + 1.0, 6) for s in range(19)]
    assert [path for _, path in handed] == [NOTE, OTHER] * 9 + [NOTE]


def test_no_change_waits_longer_than_the_ceiling() -> None:
    """A paper renamed into place every half second is never quiet for a second: it is
    handed on at the ceiling anyway, being whole, then waits for the ceiling again."""
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, max_delay=10.0, stat=stat)
    handed = []
    for step in range(60):
        now = step * 0.5
        stat.write(NOTE, 100 + step, step)
        debouncer.add(Change(NOTE, whole=True), now=now)
        wait = debouncer.next_check(now)
        assert wait is not None
        if wait < 0.5 and (batch := debouncer.ready(now + wait)):
            handed.append(now + wait)
            assert batch.whole == {NOTE: (100 + step, step)}
    # At the ceiling, a moment after the write then (one came at 10 s exactly).
    assert handed == [pytest.approx(10.0 + GRACE), pytest.approx(20.5 + GRACE)]


def test_at_the_ceiling_a_file_written_in_place_waits_until_its_writer_closes_it() -> None:
    """Zotero truncates, writes in chunks, then closes: the ceiling never hands on a file
    in the middle of that, only once it is closed and unchanged for a moment."""
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, max_delay=2.0, stat=stat)
    for step in range(8):  # a chunk every 0.5 s: never quiet, never closed
        stat.write(NOTE, step * 100, step)
        debouncer.add(Change(NOTE), now=step * 0.5)
        assert debouncer.ready(step * 0.5 + 0.4) == Batch()
    debouncer.add(Change(NOTE, whole=True), now=3.6)  # closed
    assert debouncer.next_check(3.6) == pytest.approx(GRACE)
    assert debouncer.ready(3.6 + GRACE / 2) == Batch()
    assert debouncer.ready(3.6 + GRACE) == Batch(frozenset({NOTE}), {NOTE: (700, 7)})
    # Past the ceiling again: closed, then truncated before the moment passed.
    stat.write(NOTE, 0, 8)
    debouncer.add(Change(NOTE), now=4.0)
    debouncer.add(Change(NOTE, whole=True), now=6.0)
    stat.write(NOTE, 0, 9)
    debouncer.add(Change(NOTE), now=6.05)
    assert debouncer.ready(6.0 + GRACE) == Batch()
    # Closed, then truncated without an event yet: the size says it changed.
    debouncer.add(Change(NOTE, whole=True), now=7.0)
    stat.write(NOTE, 10, 10)
    assert debouncer.ready(7.0 + GRACE) == Batch()
    assert debouncer.ready(8.1) == Batch()  # not whole any more: quiet decides
    assert debouncer.ready(8.2) == Batch(frozenset({NOTE}))


def test_images_are_not_handed_on() -> None:
    """An image changes no note by itself; the note naming it is written after it."""
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, stat=stat)
    stat.write(IMAGE, 5000, 1)
    debouncer.add(Change(IMAGE), now=0.0)
    assert debouncer.next_check(0.0) is None


def test_temporary_and_hidden_files_are_ignored() -> None:
    """``X.md.tmp`` is a write in progress: only the rename to ``X.md`` counts."""
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, stat=stat)
    for name in ("Paper.md.tmp", ".Paper.md.swp", ".hidden.md", "Paper.md~", "x.png.part"):
        debouncer.add(Change(Path("/export") / name), now=0.0)
    assert debouncer.next_check(0.0) is None
    debouncer.add(Change(NOTE), now=0.0)
    assert debouncer.ready(1.0) == Batch(frozenset({NOTE}))


def test_a_deleted_file_is_handed_on_too() -> None:
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, stat=stat)
    debouncer.add(Change(NOTE), now=0.0)  # stat gives None: the file is gone
    assert debouncer.ready(1.0) == Batch(frozenset({NOTE}))


def test_a_file_renamed_into_place_is_whole_until_it_changes() -> None:
    stat = FakeStat()
    debouncer = Debouncer(quiet=1.0, stat=stat)
    stat.write(NOTE, 300, 1)
    debouncer.add(Change(Path("/export/Paper.md.tmp")), now=0.0)
    debouncer.add(Change(NOTE, whole=True), now=0.0)
    assert debouncer.ready(1.0) == Batch(frozenset({NOTE}), {NOTE: (300, 1)})
    # Renamed, then written to in place: no longer known to be whole.
    debouncer.add(Change(NOTE, whole=True), now=2.0)
    debouncer.add(Change(NOTE), now=2.1)
    assert debouncer.ready(3.1) == Batch(frozenset({NOTE}))
    # Renamed, then changed without an event before the batch: not whole either.
    debouncer.add(Change(NOTE, whole=True), now=4.0)
    stat.write(NOTE, 400, 2)
    assert debouncer.ready(5.0) == Batch()
    assert debouncer.ready(6.0) == Batch(frozenset({NOTE}))


def test_a_rescan_is_handed_on_without_paths() -> None:
    debouncer = Debouncer(quiet=1.0, stat=FakeStat())
    debouncer.add(Change(RESCAN), now=0.0)
    assert debouncer.next_check(0.0) == 0.0
    assert debouncer.ready(0.0) == Batch(rescan=True)
    assert debouncer.ready(0.0) == Batch()


def test_watchdog_events_become_changes(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a.md.tmp"), str(tmp_path / "a.md")
    assert changed_paths(FileMovedEvent(a, b)) == [Change(Path(a)), Change(Path(b), whole=True)]
    assert changed_paths(FileModifiedEvent(b)) == [Change(Path(b))]
    assert changed_paths(FileModifiedEvent(b.encode())) == [Change(Path(b))]
    assert changed_paths(DirCreatedEvent(str(tmp_path / "sub"))) == [Change(RESCAN)]
    assert changed_paths(DirModifiedEvent(str(tmp_path))) == []
    assert changed_paths(FileOpenedEvent(b)) == []
    assert changed_paths(FileClosedNoWriteEvent(b)) == []
    assert changed_paths(FileClosedEvent(b)) == [Change(Path(b), whole=True)]


# -- watchdog's observer on a real folder ---------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def drain_until(changes: queue.Queue[Change], wanted: Path, timeout: float = 10.0) -> Change:
    """The first change naming ``wanted``."""
    deadline = time.monotonic() + timeout
    while True:
        change = changes.get(timeout=max(0.01, deadline - time.monotonic()))
        if change.path == wanted:
            return change


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_the_observer_reports_writes_and_renames(tmp_path: Path, polling: bool) -> None:
    changes: queue.Queue[Change] = queue.Queue()
    source = WatchdogSource(tmp_path, changes, polling=polling)
    source.start()
    try:
        assert source.is_alive()
        (tmp_path / "Paper.md.tmp").write_text("x")
        (tmp_path / "Paper.md.tmp").rename(tmp_path / "Paper.md")
        change = drain_until(changes, tmp_path / "Paper.md")
        # The polling observer may never see the short-lived .tmp: then it is a creation.
        assert change.whole or polling
    finally:
        source.stop()
    assert not source.is_alive()


def test_a_file_written_in_place_is_whole_once_its_writer_closes_it(tmp_path: Path) -> None:
    """inotify reports the close after writing: the last change of an in-place write."""
    changes: queue.Queue[Change] = queue.Queue()
    source = WatchdogSource(tmp_path, changes)
    source.start()
    path = tmp_path / "Annotations.md"
    try:
        with path.open("wb") as out:  # truncated, then written in two chunks
            out.write(b"# Annotations\n")
            out.flush()
            assert drain_until(changes, path) == Change(path)
            out.write(b"more\n")
        change = drain_until(changes, path)
        while not change.whole:
            change = drain_until(changes, path)
    finally:
        source.stop()
    assert changes.empty() or all(c.path != path for c in list(changes.queue))


class ExplodingQueue(queue.Queue[Change]):
    """A queue whose put raises: watchdog's thread dies when a handler raises."""

    def put(self, item: Change, block: bool = True, timeout: float | None = None) -> None:
        raise RuntimeError("handler bug")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_observer_thread_is_detected(tmp_path: Path) -> None:
    source = WatchdogSource(tmp_path, ExplodingQueue())
    source.start()
    try:
        (tmp_path / "Paper.md").write_text("x")
        wait_for(lambda: not source.is_alive())
    finally:
        source.stop()


def test_a_vanished_folder_is_detected(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    source = WatchdogSource(export, queue.Queue())
    source.start()
    try:
        export.rmdir()
        wait_for(lambda: not source.is_alive())
    finally:
        source.stop()


def test_an_observer_warning_asks_for_a_rescan(tmp_path: Path) -> None:
    """An inotify queue overflow is only logged by watchdog: it must still cause a rescan."""
    changes: queue.Queue[Change] = queue.Queue()
    source = WatchdogSource(tmp_path, changes)
    source.start()
    try:
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost"
        )
        assert changes.get(timeout=5) == Change(RESCAN)
    finally:
        source.stop()
    logging.getLogger("watchdog.observers.inotify_c").warning("after stop")
    assert changes.empty()


def test_a_folder_that_cannot_be_watched_raises_oserror(tmp_path: Path) -> None:
    source = WatchdogSource(tmp_path / "missing", queue.Queue())
    with pytest.raises(OSError):
        source.start()
    assert not source.is_alive()
