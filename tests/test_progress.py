"""The progress bar of ``obsync sync``: on a terminal only, never in output meant for programs.

Each test runs ``python -m obsync sync`` in a subprocess whose output goes to a
pseudo-terminal or to pipes, and reads what a user (or a program) would see.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from obsync.progress import READING, WRITING, TerminalBar

from .formats import Ann, better_notes
from .helpers import age

PAPERS = 30
ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
BAR_CHARACTERS = "━╸╺"  # what rich draws a bar with
SUMMARY = "annotations: "
TIMEOUT = 60.0  # a guard against a hung subprocess, many times what a sync takes


def write_export(export: Path, papers: int = PAPERS) -> None:
    """``papers`` Better Notes exports, one paper each, three annotations per paper."""
    for n in range(papers):
        parent = f"ITEM{n:04d}"
        anns = [
            Ann(
                f"A{n:04d}X{i}Y", text=f"Highlight {i} of paper {n}", page=str(i + 1), parent=parent
            )
            for i in range(3)
        ]
        text = better_notes(anns, title=f"Paper number {n}", note_key=f"NOTE{n:04d}")
        (export / f"paper-{n:02d}.md").write_text(text, encoding="utf-8")


def command(export: Path, vault: Path, *extra: str, options: tuple[str, ...] = ()) -> list[str]:
    """``obsync [options] sync --export … --vault … [extra]`` in a new Python process."""
    paths = ["--export", str(export), "--vault", str(vault)]
    return [sys.executable, "-m", "obsync", *options, "sync", *paths, *extra]


def environment() -> dict[str, str]:
    """The test's environment (HOME and XDG folders in tmp, from conftest), as a terminal has."""
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="30")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CI"):
        env.pop(name, None)
    return env


def run_on_terminal(
    args: list[str], stop_when: Callable[[], bool] | None = None
) -> tuple[int, str]:
    """Run ``args`` with stdin, stdout and stderr on a pseudo-terminal of 100 columns.

    Returns the exit code and what the terminal received. Reads until the process has
    exited and the terminal is drained; fails after TIMEOUT. With ``stop_when``, the
    process is sent SIGTERM once that holds (a daemon).
    """
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        args,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=environment(),
        close_fds=True,
    )
    os.close(secondary)
    received = bytearray()
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            if stop_when is not None and stop_when():
                process.terminate()
                stop_when = None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"obsync sync still running after {TIMEOUT} s: {bytes(received)!r}")
            ready, _, _ = select.select([main], [], [], min(remaining, 1.0))
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    chunk = b""
                if not chunk:
                    break
                received += chunk
            elif process.poll() is not None and not _pending(main):
                break
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)
    return code, received.decode("utf-8", errors="replace")


def _pending(fd: int) -> bool:
    ready, _, _ = select.select([fd], [], [], 0)
    return bool(ready)


def visible_lines(terminal: str) -> list[str]:
    """The text lines of terminal output, escape sequences removed."""
    text = ESCAPE.sub("", terminal)
    return [line.strip() for line in re.split(r"[\r\n]", text) if line.strip()]


def test_a_sync_on_a_terminal_shows_a_bar_then_the_summary(export_dir: Path, vault: Path) -> None:
    write_export(export_dir)
    code, terminal = run_on_terminal(command(export_dir, vault))
    assert code == 0, terminal
    lines = visible_lines(terminal)
    assert any("Reading exports" in line for line in lines), terminal
    assert any("Syncing papers" in line and "30/30" in line for line in lines), terminal
    assert any("100%" in line for line in lines), terminal
    assert any(f"{PAPERS}/{PAPERS}" in line for line in lines), terminal  # export files read
    assert any(c in terminal for c in BAR_CHARACTERS), terminal
    # The bar is cleared: the summary is the last thing on the terminal.
    assert lines[-1].startswith(SUMMARY), terminal
    assert f"{PAPERS * 3} created" in lines[-1]
    assert f"files: {PAPERS} read" in lines[-1]
    assert terminal.endswith("\r\n")
    assert len(list(vault.rglob("*.md"))) == PAPERS * 4


def test_the_bar_follows_an_incremental_sync(export_dir: Path, vault: Path) -> None:
    """Only the changed files are read, and only their notes written: the bar says so."""
    write_export(export_dir)
    age(export_dir)  # files just written are read again by the next sync: these are not
    code, terminal = run_on_terminal(command(export_dir, vault))
    assert code == 0, terminal
    changed = export_dir / "paper-07.md"
    changed.write_text(changed.read_text().replace("Highlight 1 of paper 7", "Mended"))
    code, terminal = run_on_terminal(command(export_dir, vault))
    assert code == 0, terminal
    lines = visible_lines(terminal)
    assert lines[-1].startswith("changed papers: " + SUMMARY), terminal
    assert "1 updated" in lines[-1]
    assert any("Reading exports" in line for line in lines), terminal
    assert any("Writing notes" in line and "2/2" in line for line in lines), terminal


def test_nothing_to_do_shows_no_bar(export_dir: Path, vault: Path) -> None:
    write_export(export_dir, papers=2)
    age(export_dir)
    assert run_on_terminal(command(export_dir, vault))[0] == 0
    code, terminal = run_on_terminal(command(export_dir, vault))
    assert code == 0
    assert terminal == "nothing changed in the export since the last sync\r\n"


def assert_no_bar(*outputs: str) -> None:
    for output in outputs:
        assert "\x1b" not in output, output
        assert not any(c in output for c in BAR_CHARACTERS), output
        assert "Reading exports" not in output and "papers" not in output, output


def test_no_bar_through_pipes(export_dir: Path, vault: Path) -> None:
    write_export(export_dir)
    done = subprocess.run(
        command(export_dir, vault),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert_no_bar(done.stdout, done.stderr)
    assert done.stderr == ""
    assert done.stdout.startswith(SUMMARY)
    assert done.stdout.count("\n") == 1


def test_no_bar_when_only_stdout_is_a_terminal(export_dir: Path, vault: Path) -> None:
    write_export(export_dir)
    main, secondary = pty.openpty()
    try:
        done = subprocess.run(
            command(export_dir, vault),
            stdout=secondary,
            stderr=subprocess.PIPE,
            env=environment(),
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(secondary)
    terminal = _drain(main)
    assert done.returncode == 0, done.stderr
    assert_no_bar(terminal, done.stderr.decode())
    assert visible_lines(terminal)[-1].startswith(SUMMARY)


def _drain(fd: int) -> str:
    received = bytearray()
    try:
        while _pending(fd):
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(fd)
    return received.decode("utf-8", errors="replace")


@pytest.mark.parametrize("flag", ["--quiet", "--json"])
def test_no_bar_with_quiet_or_json(export_dir: Path, vault: Path, flag: str) -> None:
    write_export(export_dir)
    # -q is an option of obsync, before the command; --json one of sync
    args = (
        command(export_dir, vault, options=(flag,))
        if flag == "--quiet"
        else command(export_dir, vault, flag)
    )
    code, terminal = run_on_terminal(args)
    assert code == 0, terminal
    assert "Reading exports" not in terminal and "papers" not in terminal, terminal
    assert not any(c in terminal for c in BAR_CHARACTERS), terminal
    assert "\x1b" not in terminal, terminal
    if flag == "--json":
        assert '"created": 90' in terminal
    else:
        assert terminal == ""
    assert len(list(vault.rglob("*.md"))) == PAPERS * 4


def test_rich_is_imported_only_to_draw(export_dir: Path, vault: Path) -> None:
    """Start-up stays fast: a sync that shows no bar never imports rich."""
    write_export(export_dir, papers=2)
    age(export_dir)
    script = (
        "import sys\n"
        "from obsync.cli import main\n"
        f"code = main(['sync', '--export', {str(export_dir)!r}, '--vault', {str(vault)!r}])\n"
        "print('rich imported' if 'rich' in sys.modules else 'rich not imported')\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "rich not imported"
    code, terminal = run_on_terminal([sys.executable, "-c", script])
    assert code == 0, terminal
    assert visible_lines(terminal)[-1] == "rich not imported"  # nothing changed: no bar


def test_log_lines_print_above_the_bar(export_dir: Path, vault: Path) -> None:
    """-v logs a line per note while the bar is shown: each line is whole, the bar cleared."""
    write_export(export_dir, papers=3)
    code, terminal = run_on_terminal(command(export_dir, vault, options=("-v",)))
    assert code == 0, terminal
    lines = visible_lines(terminal)
    created = [line for line in lines if line.startswith("obsync: INFO: create annotation")]
    assert len(created) == 9, terminal
    assert all(line.endswith(".md") for line in created), terminal
    assert lines[-1].startswith(SUMMARY), terminal


def test_the_bar_reports_phases_in_order() -> None:
    """The reporter itself, without a terminal: rich draws nothing, but every call is taken,
    phases with nothing to do make no row, and closing twice is harmless."""
    with TerminalBar() as bar:
        bar(READING, 0, 0)
        assert bar._bar is None  # nothing to show yet: rich not started
        for done in range(1, 4):
            bar(READING, done, 3)
        bar(WRITING, 1, 2)
        bar(WRITING, 2, 2)
        assert list(bar._tasks) == [READING, WRITING]
    bar.close()


def test_no_bar_in_the_daemon(export_dir: Path, vault: Path) -> None:
    """``obsync run`` on a terminal (as when tried by hand) logs lines, never a bar."""
    write_export(export_dir)
    age(export_dir)
    args = command(export_dir, vault)
    args[args.index("sync")] = "run"
    notes = vault / "Zotero" / "Annotations"

    def synced() -> bool:
        return notes.is_dir() and len(list(notes.rglob("*.md"))) == PAPERS * 3

    code, terminal = run_on_terminal(args, stop_when=synced)
    assert code == 0, terminal
    assert synced(), terminal
    assert_no_bar(terminal)
