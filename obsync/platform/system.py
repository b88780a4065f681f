"""What differs between Linux and macOS: the few system calls and places that do.

Every function takes the platform as an argument (``sys.platform`` by default), so the
tests run the macOS branch on Linux with the macOS calls substituted.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import multiprocessing
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

# fcntl(2) F_FULLFSYNC: macOS's fsync stops at the drive's cache; this asks the drive to
# write it out. Python's fcntl module defines it only on macOS (the value is macOS's).
F_FULLFSYNC: int = getattr(fcntl, "F_FULLFSYNC", 51)


def is_mac(system: str | None = None) -> bool:
    return (sys.platform if system is None else system) == "darwin"


def is_linux(system: str | None = None) -> bool:
    return (sys.platform if system is None else system).startswith("linux")


def make_durable(
    fd: int,
    system: str | None = None,
    *,
    fcntl_call: Callable[[int, int], object] | None = None,
) -> None:
    """Make an open file's (or folder's) data durable: fsync(2) on Linux; on macOS
    F_FULLFSYNC, and fsync where the file system refuses it (network shares, FAT).
    ``fcntl_call`` stands in for fcntl(2) in tests (Linux has no F_FULLFSYNC)."""
    if is_mac(system):
        try:
            (fcntl.fcntl if fcntl_call is None else fcntl_call)(fd, F_FULLFSYNC)
            return
        except OSError:
            pass
    os.fsync(fd)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # renameat2(2) on Linux
_RENAME_SWAP = 2  # renamex_np(2) on macOS


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def exchange(a: Path, b: Path, system: str | None = None) -> bool:
    """Swap two files' places in one step (each name then holds the other's file).

    renameat2 with RENAME_EXCHANGE on Linux, renamex_np with RENAME_SWAP on macOS.
    False where neither is to be had (an old kernel, a file system without it): the
    caller replaces instead. Other errors are raised as OSError.
    """
    libc = _libc()
    if libc is None:
        return False
    names = (bytes(a), bytes(b))
    try:
        if is_linux(system):
            done = libc.renameat2(_AT_FDCWD, names[0], _AT_FDCWD, names[1], _RENAME_EXCHANGE)
        elif is_mac(system):
            done = libc.renamex_np(names[0], names[1], _RENAME_SWAP)
        else:
            return False
    except AttributeError:  # a C library without the call
        return False
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def syncfs(folder: Path, system: str | None = None) -> None:
    """Flush the file system holding ``folder`` in one call: syncfs(2) on Linux.

    OSError where there is no such call (macOS, which makes each file durable with
    :func:`make_durable` instead): the caller then flushes file by file."""
    libc = _libc() if is_linux(system) else None
    if libc is None or not hasattr(libc, "syncfs"):
        raise OSError(errno.ENOSYS, "syncfs is not available here")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if libc.syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)


def can_fork_reader(system: str | None = None) -> bool:
    """A forked process may read exports beside this one: Linux only, where prctl ties the
    child's life to ours (macOS has no such call, and fork there is unsafe with threads)."""
    return is_linux(system) and "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True, slots=True)
class Places:
    """Where obsync keeps its config, its state and (for a launchd agent) its logs."""

    config: Path
    state: Path
    logs: Path


def places(env: Mapping[str, str], system: str | None = None) -> Places:
    """The platform's places for obsync.

    Linux (and other Unixes): the XDG base directories, ``$XDG_CONFIG_HOME/obsync`` and
    ``$XDG_STATE_HOME/obsync``, by default under ``~/.config`` and ``~/.local/state``.
    macOS: ``~/Library/Application Support/obsync`` for both, logs in
    ``~/Library/Logs/obsync``; an ``XDG_*`` variable set on a Mac is honoured all the same
    (whoever sets one asks for it).
    """
    home = Path(env.get("HOME", "~")).expanduser()
    if is_mac(system):
        support = home / "Library" / "Application Support"
        config_base, state_base = support, support
        logs = home / "Library" / "Logs" / "obsync"
    else:
        config_base, state_base = home / ".config", home / ".local" / "state"
        logs = Path(env.get("XDG_STATE_HOME") or state_base).expanduser() / "obsync"
    config = Path(env.get("XDG_CONFIG_HOME") or config_base).expanduser() / "obsync"
    state = Path(env.get("XDG_STATE_HOME") or state_base).expanduser() / "obsync"
    return Places(config=config, state=state, logs=logs)
