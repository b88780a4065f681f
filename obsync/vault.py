"""Apply a plan: the only module that writes into the vault.

Every write is atomic: a temporary file in the note's own folder, flushed and
fsynced, then renamed over the note, keeping the note's file mode. Folders are
fsynced once per sync, after all renames (durability is batched, not dropped).
Nothing is written through a symbolic link or outside the vault.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from obsync.note import encode
from obsync.plan import Action, Plan
from obsync.scan import TEMP_PREFIX

log = logging.getLogger(__name__)


class UnsafePath(Exception):
    """A path that would leave the vault or go through a symbolic link."""


@dataclass(slots=True)
class Applied:
    written: list[PurePosixPath] = field(default_factory=list)
    failed: list[tuple[PurePosixPath, str]] = field(default_factory=list)
    skipped: list[tuple[PurePosixPath, str]] = field(default_factory=list)


def _safe_target(vault: Path, relative: PurePosixPath) -> Path:
    """The absolute path for ``relative``, refusing ``..``, absolute paths and symlinks."""
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise UnsafePath(f"{relative} is not inside the vault")
    current = vault
    for part in relative.parts[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
            raise UnsafePath(f"{current} is a symbolic link or not a folder; not written")
    target = current / relative.parts[-1]
    if target.is_symlink():
        raise UnsafePath(f"{target} is a symbolic link; not written")
    return target


def _make_folders(vault: Path, target: Path) -> None:
    relative = target.parent.relative_to(vault)
    current = vault
    for part in relative.parts:
        current = current / part
        try:
            current.mkdir()
        except FileExistsError:
            if current.is_symlink() or not current.is_dir():
                raise UnsafePath(f"{current} is a symbolic link or not a folder") from None


def atomic_write(target: Path, data: bytes, synced: set[Path]) -> None:
    """Write ``data`` to ``target`` atomically, keeping an existing file's mode."""
    try:
        mode: int | None = stat.S_IMODE(os.lstat(target).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{target.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    synced.add(target.parent)


def _fsync_folders(folders: Iterable[Path]) -> None:
    for folder in sorted(folders):
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def remove_temp_files(vault: Path, found: Iterable[PurePosixPath]) -> int:
    """Remove the temporary files of writes an interrupted run left behind."""
    removed = 0
    for relative in found:
        try:
            path = _safe_target(vault, relative)
            if path.name.startswith(TEMP_PREFIX) and path.is_file():
                path.unlink()
                removed += 1
                log.info("removed %s, left by an interrupted sync", relative)
        except (OSError, UnsafePath) as exc:
            log.warning("could not remove %s: %s", relative, exc)
    return removed


def apply(plan: Plan, vault: Path, stop: Callable[[], bool] = lambda: False) -> Applied:
    """Carry out a plan. A note that fails is reported; the others still happen.

    When ``stop`` says so, the write in hand is finished and the rest is skipped.
    """
    result = Applied()
    synced: set[Path] = set()
    for copy in plan.copies:
        try:
            target = _safe_target(vault, copy.path)
            _make_folders(vault, target)
            atomic_write(target, copy.source.read_bytes(), synced)
            result.written.append(copy.path)
            log.info("copied image %s", copy.path)
        except (OSError, UnsafePath) as exc:
            result.failed.append((copy.path, str(exc)))
            log.warning("could not copy image %s: %s", copy.path, exc)
    for write in plan.writes:
        if stop():
            result.skipped.append((write.path, "stopping"))
            continue
        try:
            target = _safe_target(vault, write.path)
            try:
                now = target.read_bytes()
            except FileNotFoundError:
                now = None
            if write.expected is None and now is not None and write.action is Action.CREATE:
                result.skipped.append((write.path, "appeared since the plan was made"))
                continue
            if write.expected is not None and now != encode(write.expected):
                result.skipped.append((write.path, "changed since the plan was made"))
                log.info("skipped %s: it changed while syncing; next sync picks it up", write.path)
                continue
            _make_folders(vault, target)
            atomic_write(target, encode(write.content), synced)
            result.written.append(write.path)
            log.info("%s %s %s", write.action.value, write.kind, write.path)
        except (OSError, UnsafePath) as exc:
            result.failed.append((write.path, str(exc)))
            log.warning("could not write %s: %s", write.path, exc)
    _fsync_folders(synced)
    return result
