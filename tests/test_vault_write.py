"""Writing the vault: atomic, never outside it, never through a link; faults and kill -9.

Faults a test process cannot cause for real (a full disk, a read-only folder, permission
denied to root) are injected at the system call the vault module makes, on real folders.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import obsync.vault.write as vault_module
from obsync.settings.config import Settings, resolve
from obsync.sync import Request, run_sync
from obsync.vault.listing import TEMP_PREFIX

from . import formats
from .helpers import age, note_path, run_killed, sync_json

ROOT = Path(__file__).parent.parent


def library(export: Path, papers: int = 3, per_paper: int = 40) -> None:
    """A few papers of keyed highlights and comments, in the Better Notes format."""
    colors = ["#ffd400", "#ff6666", "#5fb236", "#2ea8e5"]
    for p in range(papers):
        anns = [
            formats.Ann(
                f"K{p}{i:06d}",
                text=f"Highlight {i} of paper {p}",
                comment=f"Comment {i}" if i % 3 else "",
                color=colors[i % 4],
                page=str(i // 4 + 1),
                parent=f"PARENT{p:02d}",
                attachment=f"ATTACH{p:02d}",
            )
            for i in range(per_paper)
        ]
        text = formats.better_notes(anns, title=f"Paper {p}", note_key=f"NOTE{p:04d}")
        (export / f"Paper {p}.md").write_text(text)


def contents(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def settings_for(export: Path, vault: Path) -> Settings:
    return resolve(config_path=None, export=export, vault=vault)


def edit_in_zotero(paper: Path) -> None:
    paper.write_text(paper.read_text().replace("This is my comment", "Changed in Zotero"))


def copy_fixture_paper(export: Path) -> Path:
    path = export / "Paper.md"
    path.write_text(formats.better_notes([a for a in formats.PAPER if a.kind != "image"]))
    return path


# -- links -----------------------------------------------------------------------------


def test_a_symlinked_folder_pointing_out_of_the_vault_is_refused(
    tmp_path: Path, export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_fixture_paper(export_dir)
    outside = tmp_path / "outside"
    outside.mkdir()
    (vault / "Zotero").mkdir()
    (vault / "Zotero" / "Annotations").symlink_to(outside, target_is_directory=True)
    result = sync_json(capsys, export_dir, vault, code=1)
    assert list(outside.iterdir()) == []
    failed = [e for e in result["errors"] if "not written" in e["message"]]
    assert failed and all("symbolic link" in e["message"] for e in failed)
    assert all(e["file"].startswith("Zotero/Annotations/") for e in failed)
    assert (vault / "Zotero" / "Sources").is_dir()  # the rest went on


def test_a_symlinked_note_is_never_written_through(
    tmp_path: Path, export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paper = copy_fixture_paper(export_dir)
    sync_json(capsys, export_dir, vault)
    note = note_path(vault, "RC4HW3AF")
    outside = tmp_path / "outside.md"
    outside.write_bytes(note.read_bytes())
    note.unlink()
    note.symlink_to(outside)
    edit_in_zotero(paper)
    sync_json(capsys, export_dir, vault)  # the link is not obsync's note: left alone
    assert "Changed in Zotero" not in outside.read_text()
    assert note.is_symlink()


def test_a_hard_linked_note_is_not_written_through(
    tmp_path: Path, export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paper = copy_fixture_paper(export_dir)
    sync_json(capsys, export_dir, vault)
    note = note_path(vault, "RC4HW3AF")
    outside = tmp_path / "linked.md"
    os.link(note, outside)
    before = outside.read_bytes()
    edit_in_zotero(paper)
    sync_json(capsys, export_dir, vault)
    assert "Changed in Zotero" in note.read_text()
    assert outside.read_bytes() == before


def test_a_note_path_through_dot_dot_is_refused(tmp_path: Path, vault: Path) -> None:
    from pathlib import PurePosixPath

    from obsync.vault.write import UnsafePath, _safe_target

    for bad in ("../x.md", "/etc/x.md", "a/../../x.md", ""):
        with pytest.raises(UnsafePath):
            _safe_target(vault, PurePosixPath(bad))


# -- atomic writes ---------------------------------------------------------------------


def test_an_update_keeps_the_note_file_mode(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paper = copy_fixture_paper(export_dir)
    sync_json(capsys, export_dir, vault)
    note = note_path(vault, "RC4HW3AF")
    note.chmod(0o600)
    edit_in_zotero(paper)
    sync_json(capsys, export_dir, vault)
    assert "Changed in Zotero" in note.read_text()
    assert stat.S_IMODE(note.stat().st_mode) == 0o600


def test_temp_files_of_an_interrupted_run_are_removed_and_never_read_as_notes(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_fixture_paper(export_dir)
    sync_json(capsys, export_dir, vault)
    note = note_path(vault, "RC4HW3AF")
    moved = vault / "My folder" / note.name
    moved.parent.mkdir()
    note.rename(moved)  # the user moved it: its temp files are outside obsync's folders
    stale = moved.with_name(f"{TEMP_PREFIX}4242-{moved.name}")
    stale.write_text(moved.read_text().replace("This is my comment", "half"))
    other = vault / "Zotero" / "Sources" / f"{TEMP_PREFIX}4242-x.md"
    other.write_bytes(b"---\nitem-key: torn")
    before = contents(vault)

    dry = sync_json(capsys, export_dir, vault, "--dry-run")
    assert dry["annotations"]["created"] == 0 and dry["errors"] == []
    assert contents(vault) == before

    result = sync_json(capsys, export_dir, vault)
    assert result["annotations"]["created"] == result["annotations"]["updated"] == 0
    assert not stale.exists() and not other.exists()
    assert contents(vault) == {k: v for k, v in before.items() if TEMP_PREFIX not in k}


# -- faults ----------------------------------------------------------------------------


@pytest.fixture
def fault(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Make a system call fail for some paths: fault("open", errno.ENOSPC, when=...)."""
    active: dict[str, tuple[int, Callable[[Any], bool]]] = {}

    def failing(name: str) -> Callable[..., Any]:
        real = getattr(os, name)

        def call(target: Any, *args: Any, **kwargs: Any) -> Any:
            if name in active:
                code, when = active[name]
                if when(target):
                    raise OSError(code, os.strerror(code), str(target))
            return real(target, *args, **kwargs)

        return call

    for name in ("open", "fsync", "mkdir"):
        monkeypatch.setattr(os, name, failing(name))

    # With an fsync fault set, the one syncfs per batch reports a writeback error too, and
    # obsync falls back to an fsync per file to learn which files failed.
    real_syncfs = vault_module.syncfs

    def syncfs(folder: Path) -> None:
        if "fsync" in active:
            raise OSError(active["fsync"][0], os.strerror(active["fsync"][0]), str(folder))
        real_syncfs(folder)

    monkeypatch.setattr(vault_module, "syncfs", syncfs)

    def set_fault(name: str, code: int, when: Callable[[Any], bool] = lambda _t: True) -> None:
        active[name] = (code, when)

    yield set_fault
    active.clear()


def is_temp(target: Any) -> bool:
    return isinstance(target, (str, os.PathLike)) and TEMP_PREFIX in os.fspath(target)


def test_disk_full_midway_leaves_no_torn_note_and_the_next_sync_completes(
    tmp_path: Path, fault: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    library(export)
    reference = tmp_path / "reference"
    sync_json(capsys, export, reference)
    vault = tmp_path / "vault"
    fsyncs = 0

    def after_forty(_fd: Any) -> bool:
        nonlocal fsyncs
        fsyncs += 1
        return fsyncs > 40

    fault("fsync", errno.ENOSPC, after_forty)
    result = sync_json(capsys, export, vault, code=1)
    failed = [e for e in result["errors"] if "No space left on device" in e["message"]]
    # 120 annotation notes and 3 literature notes; the Base's file and folder had two of
    # the forty fsyncs that went well.
    assert len(failed) == 123 - 38
    now = contents(vault)
    assert all(now[name] == reference_bytes for name, reference_bytes in contents(
        reference).items() if name in now)  # fmt: skip
    assert not any(TEMP_PREFIX in name for name in now)

    fault("fsync", errno.ENOSPC, lambda _fd: False)
    sync_json(capsys, export, vault)
    assert contents(vault) == contents(reference)


def test_permission_denied_on_one_note_the_rest_goes_on(
    export_dir: Path, vault: Path, fault: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    paper = copy_fixture_paper(export_dir)
    sync_json(capsys, export_dir, vault)
    paper.write_text(
        paper.read_text()
        .replace("This is my comment", "Changed in Zotero")
        .replace("评论：这很重要", "评论：已修改")
    )
    fault("open", errno.EACCES, lambda t: is_temp(t) and "RC4HW3AF" in os.fspath(t))
    result = sync_json(capsys, export_dir, vault, code=1)
    (error,) = [e for e in result["errors"] if "not written" in e["message"]]
    assert error["file"].endswith("RC4HW3AF.md") and "Permission denied" in error["message"]
    assert "评论：已修改" in note_path(vault, "CHINESE2").read_text()
    assert "Changed in Zotero" not in note_path(vault, "RC4HW3AF").read_text()

    fault("open", errno.EACCES, lambda _t: False)
    again = sync_json(capsys, export_dir, vault)
    assert again["annotations"]["updated"] == 1  # the note that failed, now
    assert "Changed in Zotero" in note_path(vault, "RC4HW3AF").read_text()


def test_a_read_only_vault_is_reported_and_nothing_is_lost(
    export_dir: Path, vault: Path, fault: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    paper = copy_fixture_paper(export_dir)
    sync_json(capsys, export_dir, vault)
    note = note_path(vault, "RC4HW3AF")
    note.write_text(note.read_text() + "My own thinking.\n")
    before = contents(vault)
    edit_in_zotero(paper)
    (export_dir / "New.md").write_text(
        formats.better_notes([formats.Ann("NEWNEW22", text="new")], title="New", note_key="NEW2")
    )
    fault("open", errno.EROFS, is_temp)
    fault("mkdir", errno.EROFS)
    result = sync_json(capsys, export_dir, vault, code=1)
    assert result["errors"] and all(
        "Read-only file system" in e["message"] for e in result["errors"]
    )
    assert contents(vault) == before

    fault("open", errno.EROFS, lambda _t: False)
    fault("mkdir", errno.EROFS, lambda _t: False)
    sync_json(capsys, export_dir, vault)
    text = note.read_text()
    assert "Changed in Zotero" in text and text.endswith("My own thinking.\n")
    note_path(vault, "NEWNEW22")


def test_the_daemon_keeps_running_through_a_full_disk_and_retries(
    settings: Settings, export_dir: Path, fault: Callable[..., None]
) -> None:
    from .test_daemon import Harness, Simulation

    sim = Simulation(end=200.0)
    harness = Harness(settings, sim, retry_after=30.0)
    fault("fsync", errno.ENOSPC, lambda _fd: sim.now < 20.0)
    note = export_dir / "Paper.md"
    sim.at(5.0, lambda: [sim.write(note, formats.better_notes([formats.PAPER[0]]).encode())])
    assert harness.run() == 0
    outcomes = [
        (bool(r.applied.written), bool(r.applied.failed))
        for r in harness.reports
        if r.applied is not None and (r.applied.written or r.applied.failed)
    ]
    assert outcomes == [(False, True), (True, False)]  # disk full; 30 s later, written
    assert note_path(settings.vault, formats.PAPER[0].key or "")


@pytest.fixture
def settings(export_dir: Path, vault: Path) -> Settings:
    return settings_for(export_dir, vault)


# -- kill -9 ---------------------------------------------------------------------------


def test_kill_9_at_any_point_then_a_sync_gives_the_undisturbed_vault(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    library(export, papers=3, per_paper=30)
    shutil.copytree(ROOT / "examples" / "export" / "attachments", export / "attachments")
    reference = tmp_path / "reference"
    undisturbed = run_killed(0, export, reference)
    assert undisturbed.returncode == 0, undisturbed.stderr
    steps = int(undisturbed.stderr.rsplit("steps=", 1)[1])
    assert steps > 90
    expected = contents(reference)
    points = sorted({1, 2, 3, steps - 1, steps, *range(4, steps, max(1, steps // 15))})
    for at in points:
        vault = tmp_path / f"vault-{at}"
        killed = run_killed(at, export, vault)
        assert killed.returncode == -9, (at, killed.stderr)
        # Whatever the kill left: every note is whole, old or new, never torn.
        for name, data in contents(vault).items():
            assert name.startswith(TEMP_PREFIX) or TEMP_PREFIX in name or data == expected[name]
        run_sync(settings_for(export, vault))
        assert contents(vault) == expected, at


def test_a_note_the_user_saves_while_its_write_is_staged_is_not_replaced(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Writes are renamed into place in batches: each note is checked again just before."""
    from obsync.vault.write import apply

    paper = copy_fixture_paper(export_dir)
    sync_json(capsys, export_dir, vault)
    paper.write_text(paper.read_text().replace("2023", "2024"))  # every note changes
    report = run_sync(settings_for(export_dir, vault), Request(dry_run=True))
    first, *rest = report.plan.writes
    assert rest
    target = vault / first.path
    saved = target.read_text() + "Written in Obsidian while obsync was syncing.\n"
    calls = 0

    def user_saves_meanwhile() -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first note's new version is staged, not yet in place
            target.write_text(saved)
        return False

    applied = apply(report.plan, vault, user_saves_meanwhile)
    assert target.read_text() == saved
    assert (first.path, "changed since the plan was made") in applied.skipped
    assert len(applied.written) == len(rest)
    assert not any(TEMP_PREFIX in p.name for p in vault.rglob("*"))


def test_many_writes_share_one_syncfs_and_a_few_are_fsynced_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """syncfs flushes the whole file system (other programs' data too): only worth it for
    many files; a sync of one changed note fsyncs that note alone."""
    export = tmp_path / "export"
    export.mkdir()
    library(export)
    calls: list[str] = []
    real_syncfs, real_fsync = vault_module.syncfs, os.fsync
    monkeypatch.setattr(
        vault_module, "syncfs", lambda f: (calls.append("syncfs"), real_syncfs(f))[1]
    )
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    settings = settings_for(export, tmp_path / "vault")
    run_sync(settings)
    assert calls.count("syncfs") >= 1
    calls.clear()
    paper = export / "Paper 0.md"
    paper.write_text(paper.read_text().replace("Highlight 1 of paper 0", "Highlight one"))
    age(export)
    report = run_sync(settings)  # the note, and its line in the literature note
    assert report.applied is not None and len(report.applied.written) == 2
    assert "syncfs" not in calls and calls.count("fsync") >= 1
