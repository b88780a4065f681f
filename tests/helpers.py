"""Helpers for tests that run whole syncs on temporary folders."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from pydantic import BaseModel

from obsync.cli import main
from obsync.export.folder import NO_HOLD, ExportFolder, HoldThese, ReadCache, relative
from obsync.export.merge import merge
from obsync.model import ExportRead
from obsync.settings.config import Config

from .conftest import FIXTURES

ROOT = Path(__file__).parent.parent


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


def config_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every key of the config file, dotted (``daemon.debounce``), found by walking the
    model's fields; a table whose keys are the user's (``colors``) gives ``colors.<*>``."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        annotation = field.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        else:
            kinds = [annotation]
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                keys += config_keys(kind, key + ".")
            elif typing.get_origin(kind) is dict:
                value = typing.get_args(kind)[1]
                if isinstance(value, type) and issubclass(value, BaseModel):
                    keys += config_keys(value, key + ".<*>.")
                else:
                    keys.append(key + ".<*>")
            else:
                keys.append(key)
    return list(dict.fromkeys(keys))


def run_killed(at: int, export: Path, vault: Path) -> subprocess.CompletedProcess[str]:
    """``obsync sync`` SIGKILLed at its ``at``-th write step (see kill_at.py; 0: never)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.kill_at", str(at), "sync", "--export", str(export),
         "--vault", str(vault)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def read_folder(
    root: Path, cache: ReadCache | None = None, hold: frozenset[Path] = frozenset()
) -> ExportRead:
    """Every export file below ``root``, read and merged as a sync of everything reads
    them (through the one cached reader); files in ``hold`` stand in by their last read."""
    folder = ExportFolder(root, {} if cache is None else cache)
    listing = folder.list(HoldThese(hold) if hold else NO_HOLD)
    reads = folder.read(listing, listing)
    reads |= folder.cached(relative(path, root) for path in hold)
    return merge(seen.read for seen in reads.values())
