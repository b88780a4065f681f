"""Reading an export folder (export/__init__.py): many files over two processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import obsync.export.read as export
from obsync.platform.system import can_fork_reader
from tests.helpers import read_folder

from . import formats
from .helpers import age


def many_files(root: Path, count: int = 12) -> None:
    for number in range(count):
        anns = [
            formats.Ann(
                f"K{number:03d}AN{i}", text=f"Text {i} of {number}", parent=f"P{number:03d}IT"
            )
            for i in range(3)
        ]
        (root / f"paper-{number:02d}.md").write_text(
            formats.better_notes(anns, title=f"P {number}")
        )
    text = (root / "paper-07.md").read_text()  # broken JSON in one file, in the second half
    (root / "paper-07.md").write_text(text.replace("%22annotationKey%22", "%22annotationKey", 1))
    age(root)


def read_in_two(monkeypatch: pytest.MonkeyPatch, *, child_killed: bool = False) -> list[int]:
    """Read files over two processes from now on; returns, as it fills, how many files
    each read in this process took (the child's are counted in the child). With
    ``child_killed``, the child is SIGKILLed as it starts, as the OOM killer would."""
    monkeypatch.setattr(export, "PARALLEL_FROM", 2)
    # A thread another test left (a file observer still stopping) must not make this
    # process read alone: what is tested here is the split.
    monkeypatch.setattr(export.threading, "active_count", lambda: 1)
    parent, real = os.getpid(), export._read_here
    read_here: list[int] = []

    def counted(paths: list[Path], *args: object) -> list[export.FileRead]:
        if child_killed and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        read_here.append(len(paths))
        return real(paths, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(export, "_read_here", counted)
    return read_here


def test_two_processes_read_what_one_reads(
    export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_files(export_dir)
    alone = read_folder(export_dir)
    read_here = read_in_two(monkeypatch)
    assert read_folder(export_dir) == alone
    assert alone.errors and alone.errors[0].file.name == "paper-07.md"
    assert read_here == [6]  # half of the twelve here, half in the child


def test_a_child_that_dies_leaves_its_half_to_this_process(
    export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_files(export_dir)
    alone = read_folder(export_dir)
    read_here = read_in_two(monkeypatch, child_killed=True)
    assert read_folder(export_dir) == alone
    assert read_here == [6, 6]  # its half, then the dead child's


CHILD_WAITS = """
import os, sys, time
from pathlib import Path
import obsync.export.read as export

parent, real = os.getpid(), export._read_here

def slow(paths, *args):
    if os.getpid() != parent:
        print(os.getpid(), flush=True)  # the child says who it is, then takes its time
    time.sleep(120)
    return real(paths, *args)

export._read_here, export.PARALLEL_FROM = slow, 2
files = sorted(Path(sys.argv[1]).glob("*.md"))
export.read_files(files, Path(sys.argv[1]))
"""


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # a zombie: dead, waiting to be reaped


@pytest.mark.skipif(not can_fork_reader(), reason="a second reader is forked on Linux only")
def test_the_child_dies_with_its_parent(export_dir: Path, tmp_path: Path) -> None:
    """Killed (OOM killer, SIGKILL) while its child reads, obsync leaves no orphan behind
    to hold the vault's lock for ever."""
    many_files(export_dir)
    script = tmp_path / "child_waits.py"
    script.write_text(CHILD_WAITS)
    parent = subprocess.Popen(
        [sys.executable, str(script), str(export_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child)
        parent.kill()
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while not gone(child):
            assert time.monotonic() < deadline, f"the child {child} outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait(timeout=30)


def test_no_second_process_to_be_had_reads_everything_here(
    export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_files(export_dir)
    alone = read_folder(export_dir)
    monkeypatch.setattr(export, "PARALLEL_FROM", 2)

    def no_pool(*_args: object, **_kwargs: object) -> None:
        raise NotImplementedError("this system provides too few semaphores")

    monkeypatch.setattr(export, "ProcessPoolExecutor", no_pool)
    assert read_folder(export_dir) == alone
