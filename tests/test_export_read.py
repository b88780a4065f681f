"""Reading an export folder (export/__init__.py): many files over two processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import obsync.export as export
from obsync.export import read_folder

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


def test_two_processes_read_what_one_reads(
    export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_files(export_dir)
    alone = read_folder(export_dir)
    monkeypatch.setattr(export, "PARALLEL_FROM", 2)
    read_here: list[int] = []  # how many files this process read (the child's are its own)
    real = export._read_here

    def counted(paths: list[Path], *args: object) -> list[export.FileRead]:
        read_here.append(len(paths))
        return real(paths, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(export, "_read_here", counted)
    together = read_folder(export_dir)
    assert together == alone
    assert alone.errors and alone.errors[0].file.name == "paper-07.md"
    assert read_here == [6]  # half of the twelve here, half in the child


def test_a_child_that_dies_leaves_its_half_to_this_process(
    export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_files(export_dir)
    alone = read_folder(export_dir)
    monkeypatch.setattr(export, "PARALLEL_FROM", 2)
    parent = os.getpid()
    read_here: list[int] = []
    real = export._read_here

    def killed_in_the_child(paths: list[Path], *args: object) -> list[export.FileRead]:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
        read_here.append(len(paths))
        return real(paths, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(export, "_read_here", killed_in_the_child)
    assert read_folder(export_dir) == alone
    assert read_here == [6, 6]  # its half, then the dead child's
