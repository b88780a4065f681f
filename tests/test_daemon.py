"""The daemon's loop on a simulated clock: a scripted event source, real folders, no sleeping.

Time passes only when the daemon waits for events; scripted writes happen at their time and
set the files' modification times on the same clock, so "settled" means what it means in
production.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from obsync.daemon.loop import Daemon
from obsync.daemon.notify import Notifier
from obsync.daemon.watch import Change
from obsync.settings.config import Settings, resolve
from obsync.sync import Report, Request, run_sync
from obsync.sync.scope import ORDINARY
from tests.helpers import read_folder

from . import formats
from .helpers import age, note_path

EPOCH = 1_700_000_000.0  # wall-clock time at simulated time 0


class Simulation:
    """A clock, and events that a script releases as time passes."""

    def __init__(self, end: float) -> None:
        self.now = 0.0
        self.end = end
        self.script: list[tuple[float, Callable[[], list[Change]]]] = []
        self.pending: list[Change] = []
        self.daemon: Daemon | None = None

    def clock(self) -> float:
        return self.now

    def wall_clock(self) -> float:
        return EPOCH + self.now

    def at(self, when: float, action: Callable[[], list[Change]]) -> None:
        self.script.append((when, action))
        self.script.sort(key=lambda item: item[0])

    def get(self, timeout: float) -> Change | None:
        """The daemon waits up to ``timeout``: time jumps to the next scripted step or the end."""
        if self.pending:
            return self.pending.pop(0)
        deadline = self.now + timeout
        if self.script and self.script[0][0] <= deadline:
            when, action = self.script.pop(0)
            self.now = max(self.now, when)
            self.pending.extend(action())
            return self.pending.pop(0) if self.pending else None
        self.now = deadline
        if self.now >= self.end and self.daemon is not None:
            self.daemon.stop.set()
        return None

    def write(self, path: Path, data: bytes, *, append: bool = False) -> Change:
        """Write as an exporter would, stamping the file with the simulated time."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab" if append else "wb") as out:
            out.write(data)
        stamp = int(self.wall_clock() * 1e9)
        os.utime(path, ns=(stamp, stamp))
        return Change(path)

    def unseen(self, path: Path, data: bytes) -> Callable[[], list[Change]]:
        """A write no event reports."""

        def action() -> list[Change]:
            self.write(path, data)
            return []

        return action


class FakeSource:
    """An event source whose health the test decides."""

    def __init__(self, alive: Callable[[], bool]) -> None:
        self.alive = alive
        self.stopped = False

    def start(self) -> None: ...

    def stop(self) -> None:
        self.stopped = True

    def is_alive(self) -> bool:
        return not self.stopped and self.alive()


class RecordingNotifier(Notifier):
    def __init__(self, sim: Simulation, watchdog_interval: float | None = None) -> None:
        super().__init__(env={})
        self.sim = sim
        self.watchdog_interval = watchdog_interval
        self.sent: list[tuple[float, tuple[str, ...]]] = []

    def send(self, *fields: str, wait: float = 1.0) -> None:
        self.sent.append((self.sim.now, fields))

    def first_fields(self) -> list[str]:
        return [fields[0] for _, fields in self.sent]


class Harness:
    def __init__(self, settings: Settings, sim: Simulation, **options: Any) -> None:
        self.settings = settings
        self.sim = sim
        self.reports: list[Report] = []
        self.starts = 0
        self.alive: Callable[[], bool] = lambda: True
        self.notifier = RecordingNotifier(sim, options.pop("watchdog_interval", None))
        self.fail_sync: Callable[[int], bool] = lambda _n: False
        self.options: list[dict[str, Any]] = []
        self.daemon = Daemon(
            settings,
            sim,
            self.start_source,
            notifier=self.notifier,
            clock=sim.clock,
            wall_clock=sim.wall_clock,
            sync=self.sync,
            **{"debounce": 1.0, "settle": 5.0, "rescan_interval": 300.0} | options,
        )
        sim.daemon = self.daemon

    def start_source(self) -> FakeSource:
        self.starts += 1
        return FakeSource(lambda: self.alive())

    def sync(self, settings: Settings, request: Request = ORDINARY, **options: Any) -> Report:
        if "full" in options:  # a test's sync asks for everything
            request = replace(request, full=options.pop("full"))
        if self.fail_sync(len(self.reports)):
            self.reports.append(None)  # type: ignore[arg-type]
            raise OSError(28, "No space left on device")
        report = run_sync(settings, request, **options)
        self.reports.append(report)
        asked = {"full": request.full, "check_vault": request.list_vault}
        self.options.append(options | asked | {"watching": self.starts > 0})
        return report

    def run(self) -> int:
        return self.daemon.run()

    @property
    def syncs(self) -> int:
        return len(self.reports)

    def removed(self) -> int:
        return sum(r.plan.annotations.removed for r in self.reports if r is not None)


@pytest.fixture
def settings(export_dir: Path, vault: Path) -> Settings:
    return resolve(config_path=None, export=export_dir, vault=vault)


def notes(settings: Settings) -> dict[str, str]:
    """Annotation notes by key."""
    found = {}
    for path in (settings.vault / settings.annotations_folder).rglob("*.md"):
        text = path.read_text()
        key = text.split("annotation-key: ", 1)[1].split("\n", 1)[0]
        found[key] = text
    return found


KEYED = [a for a in formats.PAPER if a.key]


def exported_keys(export_dir: Path) -> set[str]:
    return {a.key for a in read_folder(export_dir).annotations}


def test_initial_sync_then_ready_then_stopping(settings: Settings) -> None:
    sim = Simulation(end=10.0)
    harness = Harness(settings, sim)
    assert harness.run() == 0
    assert harness.syncs == 1 and harness.starts == 1
    assert harness.notifier.first_fields() == ["READY=1", "STOPPING=1"]
    _, ready = harness.notifier.sent[0]
    assert ready[1].startswith("STATUS=0 annotations")


def test_a_better_notes_write_is_synced_once(settings: Settings, export_dir: Path) -> None:
    """Images first, then ``X.md.tmp`` renamed to ``X.md``: one sync, from the whole file."""
    sim = Simulation(end=30.0)
    harness = Harness(settings, sim)
    note = export_dir / "Paper.md"
    tmp = export_dir / "Paper.md.tmp"
    image = export_dir / "attachments" / "QGZ7JHTT.png"

    def images() -> list[Change]:
        return [sim.write(image, b"\x89PNG\r\n\x1a\n" + bytes(200))]

    def note_tmp() -> list[Change]:
        return [sim.write(tmp, formats.better_notes(formats.PAPER).encode())]

    def rename() -> list[Change]:
        tmp.rename(note)
        return [Change(tmp), Change(note, whole=True)]

    sim.at(5.0, images)
    sim.at(5.2, note_tmp)
    sim.at(5.4, rename)
    assert harness.run() == 0
    assert harness.syncs == 2
    assert set(notes(settings)) == exported_keys(export_dir) != set()
    assert any((settings.vault / settings.attachments_folder).iterdir())
    # The first sync found the export empty; this one syncs the new paper only.
    assert harness.notifier.first_fields() == ["READY=1", "STATUS=last sync: 8 created, "
                                               "0 updated, 0 removed, 0 conflicts, 0 errors",
                                               "STOPPING=1"]  # fmt: skip


def zotero_chunks(count: int) -> tuple[bytes, list[bytes]]:
    """Zotero's export with one comment edited since, in ``count`` chunks."""
    edited = [
        replace(a, comment="A comment edited in Zotero") if a.key == "RC4HW3AF" else a
        for a in formats.PAPER
    ]
    data = formats.zotero_markdown(edited).encode()
    size = -(-len(data) // count)
    return data, [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("gap", [0.4, 2.5], ids=["chunks-within-debounce", "stalls-past-debounce"])
def test_a_zotero_slow_write_is_read_once_whole(
    settings: Settings, export_dir: Path, gap: float
) -> None:
    """Zotero truncates, then writes in chunks. Even when the writer stalls longer than the
    debounce, no half file is read: nothing is created or marked removed from one, and the
    edited annotation is updated once, from the whole file."""
    path = export_dir / "Annotations.md"
    sim = Simulation(end=120.0)
    sim.write(path, formats.zotero_markdown(formats.PAPER).encode())
    os.utime(path, (EPOCH - 3600, EPOCH - 3600))  # written long ago
    harness = Harness(settings, sim)
    data, chunks = zotero_chunks(6)

    sim.at(10.0, lambda: [sim.write(path, b"")])
    for number, chunk in enumerate(chunks, start=1):
        sim.at(10.0 + number * gap, lambda chunk=chunk: [sim.write(path, chunk, append=True)])
    assert harness.run() == 0
    assert path.read_bytes() == data
    first, *later = harness.reports
    assert first.plan.annotations.created == len(exported_keys(export_dir))
    assert [r.plan.annotations.updated for r in later if r.plan.annotations.updated] == [1]
    assert sum(r.plan.annotations.created + r.plan.annotations.removed for r in later) == 0
    assert all(not r.errors for r in harness.reports)
    assert "A comment edited in Zotero" in notes(settings)["RC4HW3AF"]
    assert set(notes(settings)) == exported_keys(export_dir)


def test_a_periodic_rescan_finds_what_events_missed(settings: Settings, export_dir: Path) -> None:
    sim = Simulation(end=100.0)
    harness = Harness(settings, sim, rescan_interval=60.0)
    sim.at(5.0, sim.unseen(export_dir / "Paper.md", formats.better_notes(KEYED).encode()))
    assert harness.run() == 0
    assert set(notes(settings)) == exported_keys(export_dir) != set()
    assert harness.syncs == 2  # the initial sync and the rescan at 60 s


def test_an_export_change_syncs_its_paper_only_and_rescans_list_the_vault(
    settings: Settings, export_dir: Path
) -> None:
    path = export_dir / "Paper.md"
    path.write_text(formats.better_notes(KEYED))
    age(path)
    sim = Simulation(end=100.0)
    harness = Harness(settings, sim, rescan_interval=60.0)
    edited = [replace(a, comment="edited") if a.key == "RC4HW3AF" else a for a in KEYED]
    tmp = path.with_name("Paper.md.tmp")

    def better_notes_write() -> list[Change]:
        sim.write(tmp, formats.better_notes(edited).encode())
        tmp.rename(path)
        return [Change(tmp), Change(path, whole=True)]

    sim.at(5.0, better_notes_write)
    assert harness.run() == 0
    assert [r.scope for r in harness.reports][:2] == ["all", "changed"]
    assert harness.reports[1].plan.annotations.updated == 1
    assert [o["full"] for o in harness.options] == [False, False, False]
    assert [o["check_vault"] for o in harness.options] == [True, False, True]  # 60 s: rescan


def test_a_dead_observer_is_restarted_and_a_rescan_follows(
    settings: Settings, export_dir: Path
) -> None:
    sim = Simulation(end=50.0)
    harness = Harness(settings, sim)
    harness.alive = lambda: harness.starts > 1 or sim.now < 20.0
    # Written while the observer was dead: no event arrives.
    sim.at(15.0, sim.unseen(export_dir / "Paper.md", formats.better_notes(KEYED).encode()))
    assert harness.run() == 0
    assert harness.starts == 2
    assert set(notes(settings)) == exported_keys(export_dir) != set()


def test_an_observer_that_keeps_dying_ends_the_daemon_with_exit_1(settings: Settings) -> None:
    sim = Simulation(end=1000.0)
    harness = Harness(settings, sim, max_restarts=3)
    harness.alive = lambda: sim.now < 10.0
    assert harness.run() == 1
    assert harness.starts == 1 + 3


def test_watchdog_pings_only_while_the_observer_is_healthy(settings: Settings) -> None:
    sim = Simulation(end=100.0)
    harness = Harness(settings, sim, watchdog_interval=1.0)
    started = []

    def start_source() -> FakeSource:
        harness.starts += 1
        if 10.0 <= sim.now < 30.0:
            raise OSError(2, "No such file or directory")
        started.append(sim.now)
        return FakeSource(lambda: not (10.0 <= sim.now < 30.0))

    harness.daemon.start_source = start_source
    assert harness.run() == 0
    pings = [when for when, fields in harness.notifier.sent if fields == ("WATCHDOG=1",)]
    back = started[-1]
    assert 30.0 <= back < 60.0
    assert [p for p in pings if 10.0 <= p < back] == []
    assert len([p for p in pings if p < 10.0]) >= 9
    assert len([p for p in pings if p >= back]) >= 30


def test_a_failed_sync_is_retried_and_the_daemon_keeps_running(
    settings: Settings, export_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = Simulation(end=100.0)
    harness = Harness(settings, sim, retry_after=30.0)
    harness.fail_sync = lambda n: n == 1  # the second sync meets a full disk
    note = export_dir / "Paper.md"
    sim.at(5.0, lambda: [sim.write(note, formats.better_notes(KEYED).encode())])
    with caplog.at_level(logging.ERROR, logger="obsync"):
        assert harness.run() == 0
    assert "sync failed: OSError: [Errno 28] No space left on device" in caplog.text
    assert harness.syncs == 3
    assert set(notes(settings)) == exported_keys(export_dir) != set()


def test_stop_finishes_the_note_in_hand_and_a_later_sync_completes(
    settings: Settings, export_dir: Path
) -> None:
    (export_dir / "Paper.md").write_text(formats.better_notes(KEYED))
    calls = 0

    def stop_after_two() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2

    first = run_sync(settings, stop=stop_after_two)
    assert first.applied is not None and len(first.applied.written) == 2
    assert all(why == "stopping" for _, why in first.applied.skipped)
    second = run_sync(settings)
    assert second.plan.annotations.removed == 0
    assert set(notes(settings)) == exported_keys(export_dir) != set()
    assert run_sync(settings).applied.written == []  # type: ignore[union-attr]


def test_only_changed_export_files_are_read_again(export_dir: Path) -> None:
    one = export_dir / "One.md"
    two = export_dir / "Two.md"
    one.write_text(formats.better_notes(KEYED[:2], note_key="ONE23456"))
    two.write_text(formats.better_notes(KEYED[2:], note_key="TWO23456"))
    age(one)  # written long before it is read: its stamp is trusted
    cache: dict[Any, Any] = {}
    read_folder(export_dir, cache)
    first = dict(cache)
    two.write_text(formats.better_notes(KEYED[3:], note_key="TWO23456"))
    again = read_folder(export_dir, cache)
    assert cache[one][1] is first[one][1]  # the same object: not read again
    assert cache[two][1] is not first[two][1]
    assert {a.key for a in again.annotations} == {a.key for a in KEYED[:2] + KEYED[3:]}
    one.unlink()
    read_folder(export_dir, cache)
    assert set(cache) == {two}


def test_a_file_changed_in_the_tick_it_was_read_in_is_read_again(export_dir: Path) -> None:
    path = export_dir / "One.md"
    before = replace(KEYED[0], comment="first")
    path.write_text(formats.better_notes([before], note_key="ONE23456"))
    stamp = os.stat(path).st_mtime_ns
    cache: dict[Any, Any] = {}
    assert read_folder(export_dir, cache).annotations[0].comment == "first"
    # Written again at once, same size, in the same tick of the file system's clock.
    path.write_text(formats.better_notes([replace(before, comment="again")], note_key="ONE23456"))
    os.utime(path, ns=(stamp, stamp))
    assert read_folder(export_dir, cache).annotations[0].comment == "again"


def test_a_long_sync_keeps_systemds_watchdog_fed(settings: Settings, export_dir: Path) -> None:
    sim = Simulation(end=100.0)
    harness = Harness(settings, sim, watchdog_interval=1.0)
    plain_sync = harness.sync

    def slow_sync(settings: Settings, *args: Any, **options: Any) -> Report:
        if harness.syncs == 1:  # the sync after the export changed takes 30 s of writes
            for _ in range(30):
                sim.now += 1.0
                assert options["stop"]() is False
        return plain_sync(settings, *args, **options)

    harness.daemon.sync = slow_sync
    sim.at(5.0, lambda: [sim.write(export_dir / "Paper.md", formats.better_notes(KEYED).encode())])
    assert harness.run() == 0
    pings = [when for when, fields in harness.notifier.sent if fields == ("WATCHDOG=1",)]
    assert len([p for p in pings if 6.0 < p < 36.0]) >= 25


def test_a_start_syncs_what_changed_while_obsync_was_not_running(
    settings: Settings, export_dir: Path, vault: Path
) -> None:
    """A start looks at what changed, as `obsync sync` does: an export edited and a note
    moved while obsync was stopped are both seen, without reading every note."""
    path = export_dir / "Paper.md"
    path.write_text(formats.better_notes(KEYED))
    age(path)
    run_sync(settings)
    moved = note_path(vault, "N2CMT2A1")
    moved.rename(vault / "moved.md")
    edited = [replace(a, comment="edited meanwhile") if a.key == "RC4HW3AF" else a for a in KEYED]
    path.write_text(formats.better_notes(edited))
    age(path)
    sim = Simulation(end=10.0)
    harness = Harness(settings, sim)
    assert harness.run() == 0
    first = harness.reports[0]
    assert harness.options[0]["full"] is False and harness.options[0]["check_vault"] is True
    # Watching began before that first sync: nothing written meanwhile can be missed.
    assert harness.options[0]["watching"] is True
    assert first.plan.annotations.updated == 1 and first.plan.annotations.created == 0
    assert "edited meanwhile" in notes(settings)["RC4HW3AF"]
    assert (vault / "moved.md").exists() and not moved.exists()


# -- under load: each file on its own clock, and a ceiling ------------------------------------


def paper(name: str, version: int) -> str:
    """One paper of one annotation whose comment says which version of the file it is."""
    ann = formats.Ann(
        f"{name}KEY0001", text=f"A highlight in paper {name}", comment=f"edit {version} done",
        parent=f"{name}PARENT1", attachment=f"{name}ATTACH1",
    )  # fmt: skip
    return formats.better_notes([ann], title=f"Paper {name}", note_key=f"{name}NOTE0001")


class VersionLog:
    """After each sync: which version of each paper its note shows, and when."""

    def __init__(self, harness: Harness) -> None:
        self.seen: list[tuple[float, dict[str, int]]] = []
        plain_sync = harness.sync

        def sync(settings: Settings, *args: Any, **options: Any) -> Report:
            report = plain_sync(settings, *args, **options)
            shown = {}
            for key, text in notes(settings).items():
                found = re.search(r"edit (\d+) done", text)
                assert found is not None, f"a torn comment in {key}: {text}"
                shown[key[:1]] = int(found.group(1))
            self.seen.append((harness.sim.now, shown))
            return report

        harness.daemon.sync = sync

    def reached(self, name: str, version: int) -> float:
        """When the note first showed this version of its paper, or a later one."""
        return next(when for when, shown in self.seen if shown.get(name, -1) >= version)


def better_notes_write(sim: Simulation, path: Path, text: str) -> Callable[[], list[Change]]:
    """``X.md.tmp``, then renamed to ``X.md``: the events Better Notes' write gives."""

    def action() -> list[Change]:
        tmp = path.with_name(path.name + ".tmp")
        sim.write(tmp, text.encode())
        tmp.rename(path)
        return [Change(tmp), Change(path, whole=True)]

    return action


def test_two_papers_rewritten_in_turn_each_reach_the_vault_a_debounce_after_their_write(
    settings: Settings, export_dir: Path
) -> None:
    """Better Notes rewrites two papers in turn, one write every 0.8 s: each file is quiet
    for 1.6 s between its own writes, so each edit is synced a debounce after it, although
    the folder is never quiet for a second (it once waited for that: 20 s without a sync)."""
    sim = Simulation(end=60.0)
    harness = Harness(settings, sim)
    log = VersionLog(harness)
    written: list[tuple[str, int, float]] = []
    for step in range(50):
        name, version, when = "AB"[step % 2], step // 2, 5.0 + step * 0.8
        sim.at(when, better_notes_write(sim, export_dir / f"{name}.md", paper(name, version)))
        written.append((name, version, when))
    assert harness.run() == 0
    for name, version, when in written:
        assert log.reached(name, version) - when <= 1.0 + 0.5, (name, version)
    assert all(not r.errors and r.plan.annotations.removed == 0 for r in harness.reports)


def test_a_paper_rewritten_without_pause_reaches_the_vault_within_the_ceiling(
    settings: Settings, export_dir: Path
) -> None:
    """Renamed into place every half second for 40 s: never quiet for the debounce, yet
    no edit waits longer than ``max_delay``, and the last one is synced a debounce after."""
    sim = Simulation(end=60.0)
    harness = Harness(settings, sim, max_delay=10.0)
    log = VersionLog(harness)
    path = export_dir / "A.md"
    writes = [(version, 5.0 + version * 0.5) for version in range(80)]
    for version, when in writes:
        sim.at(when, better_notes_write(sim, path, paper("A", version)))
    assert harness.run() == 0
    delays = [log.reached("A", version) - when for version, when in writes]
    assert max(delays) <= 10.0 + 0.5
    assert delays[-1] <= 1.0 + 0.5
    assert 4 <= harness.syncs <= 8  # the first, one per ceiling, the last: not one per write


def in_place_write(
    sim: Simulation, path: Path, text: str, start: float, *, chunks: int = 3, pause: float = 0.15
) -> float:
    """Zotero's way: truncate, the text in chunks with pauses, then close. Returns the end."""
    data = text.encode()
    size = -(-len(data) // chunks)
    sim.at(start, lambda: [sim.write(path, b"")])
    when = start
    for offset in range(0, len(data), size):
        when += pause
        chunk = data[offset : offset + size]
        sim.at(when, lambda chunk=chunk: [sim.write(path, chunk, append=True)])
    sim.at(when, lambda: [Change(path, whole=True)])  # closed after writing
    return when


def test_at_the_ceiling_a_file_written_in_place_is_read_between_writes_never_half_written(
    settings: Settings, export_dir: Path
) -> None:
    """A file truncated and written in chunks again and again, never quiet for the debounce
    nor left alone for ``settle``: the ceiling reads it at a moment its writer has closed it,
    so no half file is ever read (no error, nothing created or marked removed, no torn
    comment), and every edit still arrives within the ceiling."""
    sim = Simulation(end=70.0)
    harness = Harness(settings, sim, max_delay=5.0)
    log = VersionLog(harness)
    path = export_dir / "A.md"
    writes = []
    when = 5.0
    for version in range(60):
        done = in_place_write(sim, path, paper("A", version), when)
        writes.append((version, done))
        when = done + 0.3
    assert harness.run() == 0
    delays = [log.reached("A", version) - done for version, done in writes]
    assert max(delays) <= 5.0 + 0.5
    assert delays[-1] <= 1.0 + 0.5
    assert all(not r.errors for r in harness.reports)
    assert sum(r.plan.annotations.created for r in harness.reports) == 1
    assert sum(r.plan.annotations.removed for r in harness.reports) == 0


def _export_and_its_edit_cut_at_a_paragraph(export_dir: Path) -> tuple[Path, bytes, bytes]:
    """An export synced before; its edit by Zotero (RC4HW3AF's comment); that edit cut at a
    paragraph's end, as a write in place is seen half done."""
    path = export_dir / "Annotations.md"
    anns = [a for a in KEYED if a.kind != "image"]
    path.write_text(formats.better_notes(anns))
    age(path)
    edited = [replace(a, comment="edited in Zotero") if a.key == "RC4HW3AF" else a for a in anns]
    data = formats.better_notes(edited).encode()
    return path, data, data[: data.index(b"\n\n", data.index(KEYED[1].key.encode())) + 1]


def test_a_write_begun_as_the_sync_starts_is_not_read_half_written(
    settings: Settings, export_dir: Path
) -> None:
    """The daemon saw the file closed, whole; Zotero truncates it and writes a first chunk
    just as the sync begins. Cut at a paragraph's end, that half looks like a whole export
    short of annotations: it must not be read (it would mark them removed). It is held
    back, and the edit arrives with the finished write."""
    path, data, half = _export_and_its_edit_cut_at_a_paragraph(export_dir)
    sim = Simulation(end=40.0)
    harness = Harness(settings, sim)
    done = in_place_write(sim, path, data.decode(), 5.0)
    plain_sync = harness.sync
    raced = []

    def racing_sync(settings: Settings, *args: Any, **options: Any) -> Report:
        if path in harness.daemon.whole.stamps and not raced:  # Zotero starts writing again
            raced.append(sim.now)
            sim.write(path, half)
        return plain_sync(settings, *args, **options)

    harness.daemon.sync = racing_sync
    in_place_write(sim, path, data.decode(), done + 5.0)  # that write, finished
    assert harness.run() == 0
    assert raced and path.read_bytes() == data
    assert all(not r.errors and r.plan.annotations.removed == 0 for r in harness.reports)
    assert sum(r.plan.annotations.updated for r in harness.reports) == 1
    assert "edited in Zotero" in notes(settings)["RC4HW3AF"]
    assert set(notes(settings)) == exported_keys(export_dir)


def test_the_read_made_while_a_file_was_whole_stands_in_for_it(
    settings: Settings, export_dir: Path
) -> None:
    """The same race in a sync that looks at every paper (a rescan): the held file's read
    from while it was whole is used, so its edit arrives at once and nothing is removed."""
    path, data, half = _export_and_its_edit_cut_at_a_paragraph(export_dir)
    sim = Simulation(end=20.0)
    harness = Harness(settings, sim)
    in_place_write(sim, path, data.decode(), 5.0)
    plain_sync = harness.sync

    def racing_sync(settings: Settings, *args: Any, **options: Any) -> Report:
        if path in harness.daemon.whole.stamps:
            sim.write(path, half)
            return plain_sync(settings, *args, **options | {"full": True})
        return plain_sync(settings, *args, **options)

    harness.daemon.sync = racing_sync
    assert harness.run() == 0
    second = harness.reports[1]
    assert second.scope == "all" and not second.errors
    assert (second.plan.annotations.updated, second.plan.annotations.removed) == (1, 0)
    assert "edited in Zotero" in notes(settings)["RC4HW3AF"]


def test_a_file_a_writer_starts_on_during_a_sync_is_held_back(
    settings: Settings, export_dir: Path
) -> None:
    """Another paper's change starts a sync; a file long settled is truncated and half
    written while it runs (no close seen: polling, or a writer that stalls). The sync
    does not read the half: the file's last read stands in."""
    path = export_dir / "Annotations.md"
    anns = [a for a in KEYED if a.kind != "image"]
    data = formats.better_notes(anns).encode()
    path.write_bytes(data)
    age(path)
    half = data[: data.index(b"\n\n", data.index(KEYED[1].key.encode())) + 1]
    other = formats.Ann("OTHER222", text="Another paper", parent="OTHERPAR", attachment="OTHERATT")
    sim = Simulation(end=12.0)
    harness = Harness(settings, sim)
    sim.at(5.0, better_notes_write(sim, export_dir / "Other.md", formats.better_notes([other])))
    plain_sync = harness.sync

    def racing_sync(settings: Settings, *args: Any, **options: Any) -> Report:
        if harness.syncs == 1:
            sim.write(path, half)
            return plain_sync(settings, *args, **options | {"full": True})
        return plain_sync(settings, *args, **options)

    harness.daemon.sync = racing_sync
    assert harness.run() == 0
    second = harness.reports[1]
    assert second.scope == "all" and not second.errors
    assert (second.plan.annotations.created, second.plan.annotations.removed) == (1, 0)
