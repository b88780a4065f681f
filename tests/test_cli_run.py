"""``obsync run`` for real: a subprocess, a temporary NOTIFY_SOCKET, bounded waits on conditions."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from obsync.daemon.notify import Notifier

from . import formats


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    # AF_UNIX paths are short (108 bytes): a short folder, not tmp_path.
    with tempfile.TemporaryDirectory(prefix="obsync-") as folder:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(folder, "notify"))
        sock.settimeout(0.2)
        yield sock
        sock.close()


class Messages:
    """Datagrams the daemon sent, read as they come."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received: list[str] = []

    def poll(self) -> None:
        try:
            while True:
                self.received.append(self.sock.recv(4096).decode())
        except (TimeoutError, BlockingIOError):
            return

    def wait(self, field: str, timeout: float = 20.0) -> str:
        def seen() -> bool:
            self.poll()
            return any(field in message.split("\n") for message in self.received)

        wait_for(seen, timeout)
        return next(m for m in self.received if field in m.split("\n"))


def test_notifier_speaks_sd_notify(notify_socket: socket.socket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.getsockname()})
    notifier.ready("3 annotations")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=3 annotations"
    notifier.watchdog()
    assert notify_socket.recv(4096) == b"WATCHDOG=1"


def test_notifier_never_waits_on_a_listener_that_does_not_read(
    notify_socket: socket.socket,
) -> None:
    """A full socket queue drops the message: the daemon must never hang on its status."""
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.getsockname()})
    done = threading.Event()

    def flood() -> None:
        for number in range(10_000):  # far more than a datagram queue holds
            notifier.status(f"{number} annotations")
        notifier.watchdog()  # waits a moment for room, then gives up
        notifier.stopping()
        done.set()

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    assert done.wait(timeout=30), "sd_notify blocked on a full socket"
    assert notify_socket.recv(4096) == b"STATUS=0 annotations"


def test_notifier_reaches_an_abstract_socket() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        name = f"obsync-test-{os.getpid()}"
        sock.bind("\0" + name)
        sock.settimeout(5)
        Notifier({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping"


def test_notifier_without_a_socket_does_nothing() -> None:
    notifier = Notifier({})
    assert not notifier.address and notifier.watchdog_interval is None
    notifier.ready("x")  # no error


def test_watchdog_interval_is_half_of_systemds() -> None:
    env = {"NOTIFY_SOCKET": "/nowhere", "WATCHDOG_USEC": "30000000"}
    assert Notifier(env).watchdog_interval == 15.0
    assert Notifier(env | {"WATCHDOG_PID": str(os.getpid())}).watchdog_interval == 15.0
    assert Notifier(env | {"WATCHDOG_PID": "1"}).watchdog_interval is None  # not for us


def obsync(*args: str) -> list[str]:
    return [sys.executable, "-m", "obsync", *args]


def test_obsync_run_end_to_end(
    tmp_path: Path, export_dir: Path, vault: Path, notify_socket: socket.socket
) -> None:
    config = tmp_path / "obsync.toml"
    config.write_text(
        f"export = {json.dumps(str(export_dir))}\nvault = {json.dumps(str(vault))}\n"
        "[daemon]\ndebounce = 0.2\nsettle = 1.0\n"
    )
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket.getsockname(), PYTHONUNBUFFERED="1")
    log = (tmp_path / "daemon.log").open("w+")
    daemon = subprocess.Popen(
        obsync("run", "--config", str(config)), env=env, stderr=log, stdout=log, text=True
    )
    messages = Messages(notify_socket)
    try:
        ready = messages.wait("READY=1")
        assert "STATUS=0 annotations" in ready

        # While it runs: status sees it, and a second daemon on the vault refuses at once.
        status = subprocess.run(
            obsync("status", "--config", str(config), "--json"),
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert json.loads(status.stdout)["daemon"] == {"running": True, "pid": daemon.pid}
        second = subprocess.run(
            obsync("run", "--config", str(config)),
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 2
        assert f"another obsync (pid {daemon.pid}) is already syncing" in second.stderr

        # Better Notes: images first, then the note written to X.md.tmp and renamed.
        attachments = export_dir / "attachments"
        attachments.mkdir()
        (attachments / "QGZ7JHTT.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
        tmp = export_dir / "Paper.md.tmp"
        tmp.write_text(formats.better_notes(formats.PAPER))
        tmp.rename(export_dir / "Paper.md")
        annotations = vault / "Zotero" / "Annotations"
        wait_for(lambda: len(list(annotations.rglob("*.md"))) == 8)

        # Zotero: truncate, then the content in slow chunks, in place.
        other = [
            formats.Ann("ZOTERO22", text="Zotero's own export", page="9"),
            formats.Ann("ZOTERO33", text="Another one", page="10", color="#ff6666"),
        ]
        data = formats.zotero_markdown(other).encode()
        with (export_dir / "Annotations.md").open("wb") as out:
            for start in range(0, len(data), 64):
                out.write(data[start : start + 64])
                out.flush()
                time.sleep(0.05)  # the slow writer itself, not a wait for obsync
        wait_for(lambda: len(list(annotations.rglob("*.md"))) == 10)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=30)
    log.seek(0)
    output = log.read()
    assert code == 0, output
    messages.wait("STOPPING=1")
    texts = "".join(p.read_text() for p in vault.rglob("*.md"))
    assert "annotation-status: removed" not in texts
    assert " 0 marked removed" in output
    assert all(
        " 0 marked removed" in line for line in output.splitlines() if "marked removed" in line
    )
    assert "obsync: INFO: create annotation Zotero/Annotations/" in output
    assert "Since the researchers" not in output  # no annotation text in the logs
    assert "Traceback" not in output


def test_an_export_written_as_soon_as_obsync_is_ready_is_synced(
    tmp_path: Path, export_dir: Path, vault: Path, notify_socket: socket.socket
) -> None:
    """obsync watches before its first sync: a change right after READY is an event, not
    left for the rescan minutes later."""
    config = tmp_path / "obsync.toml"
    config.write_text(
        f"export = {json.dumps(str(export_dir))}\nvault = {json.dumps(str(vault))}\n"
        "[daemon]\ndebounce = 0.2\nrescan_interval = 3600\n"
    )
    paper = export_dir / "Paper.md"
    paper.write_text(formats.better_notes(formats.PAPER))
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket.getsockname())
    first = subprocess.run(obsync("sync", "--config", str(config)), env=env, timeout=60)
    assert first.returncode == 1  # synced; the fixture's image file is not there
    daemon = subprocess.Popen(obsync("run", "--config", str(config)), env=env)
    try:
        Messages(notify_socket).wait("READY=1")
        edited = [
            replace(a, comment="Changed at once") if a.key == "RC4HW3AF" else a
            for a in formats.PAPER
        ]
        tmp = export_dir / "Paper.md.tmp"
        tmp.write_text(formats.better_notes(edited))
        tmp.rename(paper)
        note = next(vault.rglob("RC4HW3AF.md"))
        wait_for(lambda: "Changed at once" in note.read_text())
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
