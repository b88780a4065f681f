"""One obsync per vault: an advisory lock beside the vault's state file."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from obsync.errors import ObsyncError
from obsync.platform.system import is_mac


def lock_path(state_file: Path) -> Path:
    return state_file.with_suffix(".lock")


@contextlib.contextmanager
def exclusive(state_file: Path, vault: Path) -> Iterator[None]:
    """Hold the vault's lock, or fail at once naming the process that holds it."""
    path = lock_path(state_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ObsyncError(
            f"cannot use the state folder {path.parent}: {exc.strerror}; "
            "set 'state' in the config, or $XDG_STATE_HOME"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ObsyncError(
                f"another obsync (pid {holder(state_file) or '?'}) is already syncing {vault}; "
                f"stop it first ({_stop_service()})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def holder(state_file: Path) -> int | None:
    """The pid of the process holding the vault's lock, or None if nobody holds it."""
    path = lock_path(state_file)
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = path.read_text().strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _stop_service() -> str:
    """How to stop the service (see service.py), on this platform."""
    if is_mac():
        from obsync.platform.service import LABEL

        return f"launchctl bootout gui/{os.getuid()}/{LABEL}"
    return "systemctl --user stop obsync"
