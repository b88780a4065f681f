"""Helpers for tests that run whole syncs on temporary folders."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from obsync.cli import main

from .conftest import FIXTURES


def copy_fixture(export: Path, name: str = "current.md") -> Path:
    source = FIXTURES / "better_notes"
    shutil.copy(source / name, export / name)
    (export / "attachments").mkdir(exist_ok=True)
    for image in (source / "attachments").iterdir():
        shutil.copy(image, export / "attachments" / image.name)
    return export / name


def age(root: Path, seconds: float = 60) -> None:
    """Date every file below ``root`` back: a file changed just before a sync read it is
    read again by the next (its time stamp could hide a second write in the same tick)."""
    when = time.time() - seconds
    for path in [root, *root.rglob("*")] if root.is_dir() else [root]:
        os.utime(path, (when, when))


def sync_json(
    capsys: pytest.CaptureFixture[str], export: Path, vault: Path, *extra: str, code: int = 0
) -> dict[str, Any]:
    capsys.readouterr()
    rc = main(["sync", "--export", str(export), "--vault", str(vault), "--json", *extra])
    out = capsys.readouterr().out
    assert rc == code, out
    result: dict[str, Any] = json.loads(out)
    return result


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``root``: its bytes and modification time."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def note_path(vault: Path, key: str) -> Path:
    (found,) = [
        p
        for p in vault.rglob("*.md")
        if f"annotation-key: {key}\n" in p.read_text(errors="replace")
    ]
    return found


@contextlib.contextmanager
def time_limit(seconds: int = 20) -> Iterator[None]:
    """Fail, instead of hanging the suite, when the block takes longer than ``seconds``.

    A guard against hangs, not a timing test: the limit is many times the expected time.
    """

    def hung(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"no answer after {seconds} s: the input makes obsync hang")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
