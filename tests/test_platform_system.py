"""What differs between Linux and macOS, each branch run here with the platform's calls
substituted: durability, the forked reader, sd_notify's socket, the watcher, the places."""

from __future__ import annotations

import functools
import multiprocessing
import os
import socket
import sys
import tempfile
from pathlib import Path, PurePosixPath

import pytest

import obsync.export.read as export
import obsync.vault.write as vault_module
from obsync.daemon.notify import Notifier
from obsync.platform import system
from obsync.platform.system import F_FULLFSYNC, make_durable, places, syncfs
from obsync.settings.config import resolve
from obsync.sync import Request, run_sync

# -- durability ----------------------------------------------------------------------------
from .helpers import copy_fixture


class Calls:
    """fcntl(2) and fsync(2), recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, refuse: bool = False) -> None:
        self.made: list[tuple[str, int]] = []
        self.refuse = refuse
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            self.made.append(("fsync", fd))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    def fcntl(self, fd: int, command: int) -> int:
        self.made.append((f"fcntl {command}", fd))
        if self.refuse:
            raise OSError(45, "Operation not supported")  # ENOTSUP: an SMB share, FAT
        return 0


def test_macos_makes_a_file_durable_with_f_fullfsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls(monkeypatch)
    with open(tmp_path / "note.md", "wb") as file:
        make_durable(file.fileno(), "darwin", fcntl_call=calls.fcntl)
        assert calls.made == [(f"fcntl {F_FULLFSYNC}", file.fileno())]
    assert F_FULLFSYNC == 51  # macOS's value, from <sys/fcntl.h>


def test_macos_falls_back_to_fsync_where_f_fullfsync_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls(monkeypatch, refuse=True)
    with open(tmp_path / "note.md", "wb") as file:
        make_durable(file.fileno(), "darwin", fcntl_call=calls.fcntl)
        assert calls.made == [(f"fcntl {F_FULLFSYNC}", file.fileno()), ("fsync", file.fileno())]


def test_linux_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls(monkeypatch)
    with open(tmp_path / "note.md", "wb") as file:
        make_durable(file.fileno(), "linux", fcntl_call=calls.fcntl)
        assert calls.made == [("fsync", file.fileno())]


@pytest.mark.skipif(sys.platform != "linux", reason="syncfs(2) is Linux's")
def test_syncfs_flushes_the_folders_file_system_on_linux(tmp_path: Path) -> None:
    syncfs(tmp_path, "linux")
    with pytest.raises(OSError):
        syncfs(tmp_path / "missing", "linux")


def test_the_vault_on_macos_full_fsyncs_every_file_and_never_calls_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No syncfs on macOS: each of many files gets its F_FULLFSYNC, and so does the folder."""
    calls = Calls(monkeypatch)
    on_macos = functools.partial(make_durable, system="darwin", fcntl_call=calls.fcntl)
    monkeypatch.setattr(vault_module, "make_durable", on_macos)
    with pytest.raises(OSError):
        syncfs(tmp_path, "darwin")
    monkeypatch.setattr(vault_module, "syncfs", functools.partial(syncfs, system="darwin"))
    vault = tmp_path / "vault"
    vault.mkdir()
    writer = vault_module._Writer(vault, vault_module.Applied())
    count = vault_module.SYNCFS_FROM * 2
    for number in range(count):
        relative = PurePosixPath(f"n{number}.md")
        writer.write(relative, vault / relative, b"note\n", "created", new=True)
    writer.finish()
    assert len(writer.result.written) == count and not writer.result.failed
    assert calls.made == [(f"fcntl {F_FULLFSYNC}", fd) for _, fd in calls.made]
    assert len(calls.made) == count + 1  # every note, then its folder


# -- the forked reader ---------------------------------------------------------------------


def test_the_reader_forks_on_linux_only() -> None:
    assert not system.can_fork_reader("darwin")
    assert not system.can_fork_reader("win32")
    forks = "fork" in multiprocessing.get_all_start_methods()
    assert system.can_fork_reader("linux") == forks


def test_on_macos_every_file_is_read_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "can_fork_reader", lambda: system.can_fork_reader("darwin"))
    monkeypatch.setattr(export, "PARALLEL_FROM", 2)

    def no_pool(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("no process is forked on macOS")

    monkeypatch.setattr(export, "ProcessPoolExecutor", no_pool)
    for number in range(4):
        (tmp_path / f"paper-{number}.md").write_text(f"# Paper {number}\n")
    reads = export.read_files(sorted(tmp_path.glob("*.md")), tmp_path)
    assert len(reads) == 4


# -- sd_notify -----------------------------------------------------------------------------


def test_sd_notify_is_silent_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """launchd sets no NOTIFY_SOCKET: not a socket is made."""

    def no_socket(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a socket without NOTIFY_SOCKET")

    monkeypatch.setattr(socket, "socket", no_socket)
    notifier = Notifier({})
    assert not notifier.address
    notifier.ready("ready")
    notifier.status("1 note")
    notifier.watchdog()
    notifier.stopping()


def test_sd_notify_needs_no_sock_cloexec(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS has no SOCK_CLOEXEC; Python makes sockets close-on-exec by itself."""
    monkeypatch.delattr(socket, "SOCK_CLOEXEC", raising=False)
    with tempfile.TemporaryDirectory(prefix="obsync-") as folder:  # AF_UNIX paths are short
        address = os.path.join(folder, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
            listener.bind(address)
            listener.settimeout(5)
            Notifier({"NOTIFY_SOCKET": address}).ready("synced")
            assert listener.recv(100) == b"READY=1\nSTATUS=synced"


# -- the watcher ---------------------------------------------------------------------------


def test_the_watcher_uses_the_platforms_observer(tmp_path: Path) -> None:
    """watchdog's Observer is inotify on Linux and FSEvents on macOS: obsync takes it as it
    comes (polling only when asked)."""
    import queue

    from watchdog.observers import Observer

    from obsync.daemon.watch import WatchdogSource

    source = WatchdogSource(tmp_path, queue.Queue())
    source.start()
    try:
        assert isinstance(source.observer, Observer)
    finally:
        source.stop()


# -- places --------------------------------------------------------------------------------


def test_linux_places_follow_xdg_as_before() -> None:
    env = {"HOME": "/home/me", "XDG_CONFIG_HOME": "/x/config", "XDG_STATE_HOME": "/x/state"}
    found = places(env, "linux")
    assert (found.config, found.state) == (Path("/x/config/obsync"), Path("/x/state/obsync"))
    found = places({"HOME": "/home/me"}, "linux")
    assert found.config == Path("/home/me/.config/obsync")
    assert found.state == Path("/home/me/.local/state/obsync")


def test_macos_places_are_in_the_library() -> None:
    found = places({"HOME": "/Users/me"}, "darwin")
    assert found.config == Path("/Users/me/Library/Application Support/obsync")
    assert found.state == Path("/Users/me/Library/Application Support/obsync")
    assert found.logs == Path("/Users/me/Library/Logs/obsync")
    # An XDG variable set on a Mac is asked for, and honoured.
    found = places({"HOME": "/Users/me", "XDG_CONFIG_HOME": "/Users/me/.config"}, "darwin")
    assert found.config == Path("/Users/me/.config/obsync")


def test_the_config_and_state_defaults_use_the_places() -> None:
    from obsync.settings.config import default_config_path, default_state_dir

    mac = {"HOME": "/Users/me"}
    assert default_config_path(mac, "darwin") == Path(
        "/Users/me/Library/Application Support/obsync/config.toml"
    )
    assert default_state_dir(mac, "darwin") == Path("/Users/me/Library/Application Support/obsync")
    assert default_state_dir({"HOME": "/home/me"}, "linux") == Path("/home/me/.local/state/obsync")


def test_exchange_swaps_two_files_in_one_step(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("new version")
    b.write_text("the note")
    if not system.exchange(a, b):
        pytest.skip("no atomic swap on this file system")
    assert (a.read_text(), b.read_text()) == ("the note", "new version")


def test_exchange_is_not_there_on_other_systems(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("A")
    b.write_text("B")
    assert system.exchange(a, b, "sunos5") is False
    assert (a.read_text(), b.read_text()) == ("A", "B")


def test_without_a_swap_the_new_version_replaces_the_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the system cannot swap (an old kernel, a network share), notes are still written."""
    export, vault = tmp_path / "export", tmp_path / "vault"
    export.mkdir()
    copy_fixture(export)
    settings = resolve(config_path=None, export=export, vault=vault)
    run_sync(settings)
    text = (export / "current.md").read_text().replace("This is my comment", "Edited")
    (export / "current.md").write_text(text)
    monkeypatch.setattr(vault_module, "exchange", lambda a, b: False)
    report = run_sync(settings, Request(full=True))
    assert report.plan.annotations.updated == 1 and report.applied is not None
    assert not report.applied.skipped
