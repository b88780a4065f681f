"""obsync knows its own writing without trusting its state: each note carries a stamp of
the generated part obsync last wrote. A kill between a note's rename and the state's
commit, a lost state, a second computer: never a false conflict, never a stale status."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from obsync.settings.config import Settings, resolve
from obsync.sync import Request, run_sync

from . import formats
from .formats import Ann
from .helpers import age, note_path, run_killed

ROOT = Path(__file__).parent.parent
STAMP_LINE = "obsync: "
PAPER = [Ann(f"OWN{n:05d}", text=f"Highlight {n}", parent="PAPER111") for n in range(3)]


def write(export: Path, anns: list[Ann]) -> None:
    path = export / "paper.md"
    path.write_text(formats.better_notes(anns, title="The paper", note_key="NOTE12345"))
    age(path)


def settings_for(export: Path, vault: Path) -> Settings:
    return resolve(config_path=None, export=export, vault=vault)


def no_conflicts(vault: Path) -> None:
    assert not list(vault.rglob("*conflict*")), [p.name for p in vault.rglob("*conflict*")]


def test_a_kill_at_any_step_of_an_update_then_a_further_change_is_no_conflict(
    tmp_path: Path,
) -> None:
    """Killed after it renamed a note (or the literature note) into place and before its
    state was saved, obsync still takes that note for its own at Zotero's next change."""
    export = tmp_path / "export"
    export.mkdir()
    first = [replace(a, comment="first") for a in PAPER]
    second = [replace(a, comment="second") for a in PAPER]
    third = [replace(a, comment="third") for a in PAPER]
    base = tmp_path / "base"
    write(export, first)
    assert run_killed(0, export, base).returncode == 0
    write(export, second)
    counting = tmp_path / "counting"
    shutil.copytree(base, counting)
    shutil.copytree(base, counting.with_name("counting-state"), dirs_exist_ok=True)
    undisturbed = run_killed(0, export, counting)
    steps = int(undisturbed.stderr.rsplit("steps=", 1)[1])
    assert steps >= 4  # the notes' renames, the literature note's, their fsyncs
    for at in range(1, steps + 1):
        vault = tmp_path / f"vault-{at}"
        shutil.copytree(base, vault)
        write(export, first)
        run_sync(settings_for(export, vault), Request(full=True))  # its own state, synced as base
        write(export, second)
        killed = run_killed(at, export, vault)
        assert killed.returncode == -9, (at, killed.stderr)
        write(export, third)
        report = run_sync(settings_for(export, vault))
        assert report.plan.annotations.conflicts == 0, at
        no_conflicts(vault)
        for ann in PAPER:
            assert "third" in note_path(vault, ann.key or "").read_text(), at


def test_a_lost_state_then_upstream_changes_is_no_conflict(export_dir: Path, vault: Path) -> None:
    settings = settings_for(export_dir, vault)
    write(export_dir, PAPER)
    run_sync(settings)
    settings.state_file.unlink()
    # A changed comment, a new annotation: the literature note changes too.
    write(
        export_dir,
        [
            replace(PAPER[0], comment="new"),
            *PAPER[1:],
            Ann("OWN00009", text="9", parent="PAPER111"),
        ],
    )
    report = run_sync(settings)
    assert report.plan.annotations.conflicts == 0
    no_conflicts(vault)
    assert "new" in note_path(vault, "OWN00000").read_text()
    assert "OWN00009" in (vault / "Zotero/Sources/The paper.md").read_text()


def test_a_lost_state_then_an_annotation_that_comes_back_is_no_longer_removed(
    export_dir: Path, vault: Path
) -> None:
    settings = settings_for(export_dir, vault)
    write(export_dir, PAPER)
    run_sync(settings)
    write(export_dir, PAPER[1:])
    run_sync(settings)
    removed = note_path(vault, "OWN00000")
    assert "annotation-status: removed" in removed.read_text()
    settings.state_file.unlink()
    write(export_dir, PAPER)
    report = run_sync(settings)
    assert report.plan.annotations.conflicts == 0
    no_conflicts(vault)
    assert "annotation-status" not in removed.read_text()


def test_a_second_computer_with_its_own_state_takes_the_notes_for_obsyncs(
    tmp_path: Path, export_dir: Path, vault: Path
) -> None:
    """Two computers sync the same vault (Obsidian Sync, Syncthing, git), each with its
    own state: each takes the notes the other wrote for obsync's."""
    here = settings_for(export_dir, vault)
    there = replace(here, state_file=tmp_path / "there.sqlite")
    write(export_dir, PAPER)
    run_sync(here)
    run_sync(there)
    write(export_dir, [replace(a, comment="on this computer") for a in PAPER])
    run_sync(here)
    write(export_dir, [replace(a, comment="on the other") for a in PAPER])
    report = run_sync(there)
    assert report.plan.annotations.conflicts == 0 and report.plan.sources.conflicts == 0
    no_conflicts(vault)
    assert "on the other" in note_path(vault, "OWN00000").read_text()


def test_a_user_edit_is_still_an_edit_without_the_state(export_dir: Path, vault: Path) -> None:
    settings = settings_for(export_dir, vault)
    write(export_dir, PAPER)
    run_sync(settings)
    path = note_path(vault, "OWN00000")
    mine = path.read_text().replace("Highlight 0", "Highlight 0, as I read it")
    path.write_text(mine)
    settings.state_file.unlink()
    write(export_dir, [replace(PAPER[0], comment="upstream"), *PAPER[1:]])
    report = run_sync(settings)
    assert report.plan.annotations.conflicts == 1
    assert path.read_text() == mine


def test_a_removed_note_the_user_edited_keeps_the_edit_when_it_comes_back(
    export_dir: Path, vault: Path
) -> None:
    settings = settings_for(export_dir, vault)
    write(export_dir, PAPER)
    run_sync(settings)
    path = note_path(vault, "OWN00000")
    path.write_text(path.read_text().replace("Highlight 0", "Highlight 0, as I read it"))
    write(export_dir, PAPER[1:])
    run_sync(settings)
    assert "annotation-status: removed" in path.read_text()
    write(export_dir, PAPER)
    report = run_sync(settings)
    assert report.plan.annotations.conflicts == 0
    text = path.read_text()
    assert "as I read it" in text and "annotation-status" not in text


@pytest.mark.parametrize("lost", [False, True])
def test_a_note_without_a_stamp_gets_one_when_it_is_obsyncs(
    export_dir: Path, vault: Path, lost: bool
) -> None:
    """Notes written before stamps: a full sync stamps those whose generated part is what
    obsync writes now, with or without the state."""
    settings = settings_for(export_dir, vault)
    write(export_dir, PAPER)
    run_sync(settings)
    path = note_path(vault, "OWN00000")
    unstamped = "".join(
        line for line in path.read_text().splitlines(keepends=True)
        if not line.startswith(STAMP_LINE)
    )  # fmt: skip
    path.write_text(unstamped)
    if lost:
        settings.state_file.unlink()
    run_sync(settings, Request(full=True))
    assert path.read_text() != unstamped
    assert any(line.startswith(STAMP_LINE) for line in path.read_text().splitlines())


def test_a_note_the_other_computer_wrote_is_not_written_again(
    tmp_path: Path, export_dir: Path, vault: Path
) -> None:
    here = settings_for(export_dir, vault)
    there = replace(here, state_file=tmp_path / "there.sqlite")
    write(export_dir, PAPER)
    run_sync(here)
    run_sync(there)
    write(export_dir, [*PAPER, Ann("OWN00009", text="new", parent="PAPER111")])
    run_sync(here)
    write(export_dir, [*PAPER, Ann("OWN00009", text="new", comment="more", parent="PAPER111")])
    report = run_sync(there)
    assert report.plan.annotations.created == 0
    assert len(list(vault.rglob("OWN00009*.md"))) == 1
    assert "more" in note_path(vault, "OWN00009").read_text()


def test_a_literature_note_the_other_computer_wrote_is_not_written_again(
    tmp_path: Path, export_dir: Path, vault: Path
) -> None:
    here = settings_for(export_dir, vault)
    there = replace(here, state_file=tmp_path / "there.sqlite")
    write(export_dir, PAPER)
    run_sync(here)
    run_sync(there)
    other = export_dir / "other.md"
    other.write_text(formats.better_notes([Ann("NEW00001", text="new", parent="PAPER222")],
                                          title="Another paper", note_key="NOTE22222"))  # fmt: skip
    age(other)
    run_sync(here)
    report = run_sync(there)
    assert report.plan.sources.created == 0 and report.plan.annotations.created == 0
    sources = {p.name for p in (vault / "Zotero/Sources").iterdir()}
    assert sources == {"The paper.md", "Another paper.md"}
