"""Syncing only what changed (sync/scope.py), end to end: the same vault as a full sync, at the cost of
what changed, and a full sync whenever the narrow view could be wrong."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from obsync.settings.config import Settings, resolve
from obsync.sync import Report, Request, run_sync
from obsync.sync.report import describe
from obsync.sync.state import Commit, StateStore

from . import formats
from .formats import Ann
from .helpers import age, note_path, tree

ONE = [Ann(f"ONE{n:05d}", text=f"First paper, highlight {n}", parent="PAPER111") for n in range(3)]
TWO = [Ann(f"TWO{n:05d}", text=f"Second paper, highlight {n}", parent="PAPER222") for n in range(3)]


@pytest.fixture
def settings(export_dir: Path, vault: Path) -> Settings:
    return resolve(config_path=None, export=export_dir, vault=vault)


def write(export_dir: Path, name: str, anns: list[Ann], title: str) -> None:
    path = export_dir / name
    path.write_text(formats.better_notes(anns, title=title, note_key=f"N{name[:3].upper()}2345"))
    age(path)  # as an export written a while ago: the next sync trusts its stamp


@pytest.fixture
def synced(settings: Settings, export_dir: Path) -> Settings:
    write(export_dir, "one.md", ONE, "First paper")
    write(export_dir, "two.md", TWO, "Second paper")
    assert run_sync(settings).scope == "all"
    assert run_sync(settings).scope == "nothing"
    return settings


def full_sync_agrees(settings: Settings) -> None:
    """A sync of everything would write nothing: the narrow sync missed nothing."""
    plan = run_sync(settings, Request(dry_run=True, full=True)).plan
    assert not plan.writes and not plan.copies, list(describe(plan))


def changed_files(before: dict[str, tuple[bytes, int]], vault: Path) -> set[str]:
    after = tree(vault)
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def test_nothing_changed_in_the_export_is_nothing_to_do(synced: Settings, vault: Path) -> None:
    before = tree(vault)
    report = run_sync(synced, Request(list_vault=False))
    assert report.scope == "nothing" and report.applied is not None
    assert report.applied.written == [] and tree(vault) == before
    assert report.summary() == "nothing changed in the export since the last sync"


def test_one_changed_annotation_writes_its_note_and_nothing_else(
    synced: Settings, export_dir: Path, vault: Path
) -> None:
    before = tree(vault)
    write(export_dir, "one.md", [replace(ONE[0], comment="new thought"), *ONE[1:]], "First paper")
    report = run_sync(synced, Request(list_vault=False))
    assert report.scope == "changed"
    assert report.export.files_read == 1  # the other paper's file was not read
    assert report.plan.annotations.updated == 1 and report.plan.annotations.unchanged == 2
    note = note_path(vault, "ONE00000")
    assert changed_files(before, vault) == {str(note.relative_to(vault))}
    assert "new thought" in note.read_text()
    full_sync_agrees(synced)


def test_a_changed_colour_rewrites_the_literature_note_line_too(
    synced: Settings, export_dir: Path, vault: Path
) -> None:
    before = tree(vault)
    write(export_dir, "one.md", [replace(ONE[0], color="#ff6666"), *ONE[1:]], "First paper")
    run_sync(synced, Request(list_vault=False))
    literature = vault / "Zotero/Sources/First paper.md"
    assert changed_files(before, vault) == {
        str(note_path(vault, "ONE00000").relative_to(vault)),
        str(literature.relative_to(vault)),
    }
    assert "· red" in literature.read_text()
    full_sync_agrees(synced)


def test_an_annotation_removed_in_zotero_is_marked_removed(
    synced: Settings, export_dir: Path, vault: Path
) -> None:
    write(export_dir, "one.md", ONE[1:], "First paper")
    report = run_sync(synced, Request(list_vault=False))
    assert report.scope == "changed" and report.plan.annotations.removed == 1
    assert "annotation-status: removed" in note_path(vault, "ONE00000").read_text()
    full_sync_agrees(synced)


def test_an_annotation_moved_to_another_paper_leaves_the_first_papers_note(
    synced: Settings, export_dir: Path, vault: Path
) -> None:
    moved = replace(ONE[0], parent="PAPER222")
    write(export_dir, "one.md", ONE[1:], "First paper")
    write(export_dir, "two.md", [*TWO, moved], "Second paper")
    assert run_sync(synced, Request(list_vault=False)).scope == "changed"
    assert "ONE00000" not in (vault / "Zotero/Sources/First paper.md").read_text()
    assert "ONE00000" in (vault / "Zotero/Sources/Second paper.md").read_text()
    full_sync_agrees(synced)


def test_a_deleted_export_file_marks_nothing_removed(
    synced: Settings, export_dir: Path, vault: Path
) -> None:
    before = tree(vault)
    (export_dir / "one.md").unlink()
    report = run_sync(synced, Request(list_vault=False))
    assert report.scope == "changed" and report.plan.annotations.removed == 0
    assert tree(vault) == before
    full_sync_agrees(synced)


def test_a_note_the_user_deleted_stays_deleted(
    synced: Settings, export_dir: Path, vault: Path
) -> None:
    note_path(vault, "ONE00000").unlink()
    gone = run_sync(synced)  # a recorded note is gone: looked for by key, then deleted
    assert gone.scope == "changed" and gone.plan.annotations.deleted == 1
    write(export_dir, "one.md", [replace(ONE[0], comment="upstream"), *ONE[1:]], "First paper")
    report = run_sync(synced)
    assert report.scope == "changed"  # the state knows it was deleted
    assert not list(vault.rglob("ONE00000.md"))
    full_sync_agrees(synced)


def test_a_deleted_note_the_user_brings_back_is_synced_again(
    synced: Settings, export_dir: Path, vault: Path
) -> None:
    """Restored from Obsidian's trash (or an undo), the note is obsync's again: it takes
    Zotero's next change, and its literature note links it."""
    path = note_path(vault, "ONE00000")
    saved = path.read_bytes()
    path.unlink()
    assert run_sync(synced).scope == "changed"  # recorded as deleted by the user
    assert run_sync(synced).scope == "nothing"
    path.write_bytes(saved)
    write(export_dir, "one.md", [replace(ONE[0], comment="upstream"), *ONE[1:]], "First paper")
    report = run_sync(synced)
    assert report.scope == "changed"  # a deleted note is back: its paper is planned
    assert "upstream" in path.read_text()
    assert "[[ONE00000|" in (vault / "Zotero/Sources/First paper.md").read_text()
    full_sync_agrees(synced)


@pytest.mark.parametrize("check_vault", [True, False])
def test_a_note_moved_by_the_user_is_found_by_key_and_its_links_mended(
    synced: Settings, export_dir: Path, vault: Path, check_vault: bool
) -> None:
    moved = vault / "Elsewhere" / "Favourite.md"
    moved.parent.mkdir()
    note_path(vault, "ONE00000").rename(moved)
    write(export_dir, "one.md", [replace(ONE[0], comment="upstream"), *ONE[1:]], "First paper")
    report = run_sync(synced, Request(list_vault=check_vault))
    assert report.scope == "changed"
    assert "upstream" in moved.read_text()
    assert "[[Favourite|" in (vault / "Zotero/Sources/First paper.md").read_text()
    full_sync_agrees(synced)


@pytest.mark.parametrize("check_vault", [True, False])
def test_a_new_paper_reads_no_note(
    synced: Settings, export_dir: Path, vault: Path, check_vault: bool
) -> None:
    """Its note's name is chosen against the vault's names, listed; the one note named
    like it is read (another computer's literature note of the paper?), no other."""
    (vault / "Zotero" / "Third.md").write_text("the user's own note named like the paper")
    write(export_dir, "three.md", [Ann("THREE000", text="New", parent="PAPER333")], "Third")
    report = run_sync(synced, Request(list_vault=check_vault))
    assert report.scope == "changed" and report.plan.sources.created == 1
    assert report.export.files_read == 1 and report.notes_read == 1
    assert (vault / "Zotero/Sources/Third (PAPER333).md").exists()
    full_sync_agrees(synced)


def test_new_settings_mean_a_full_sync(synced: Settings, vault: Path) -> None:
    report = run_sync(replace(synced, colors={"#ffd400": ("important",)}))
    assert report.scope == "all" and report.plan.annotations.updated == 6
    assert "  - important\n" in note_path(vault, "ONE00000").read_text()


@pytest.mark.parametrize(
    "changed", [{"tag_prefix": "zotero/tag/"}, {"comment_links": False}], ids=str
)
def test_each_setting_a_note_depends_on_means_a_full_sync(
    synced: Settings, changed: dict[str, object]
) -> None:
    assert run_sync(replace(synced, **changed)).scope == "all"  # type: ignore[arg-type]


def test_a_sync_cut_short_is_followed_by_a_full_one(synced: Settings) -> None:
    StateStore(synced.state_file).commit(Commit(meta=(("complete", "0"),)))
    assert run_sync(synced).scope == "all"
    assert run_sync(synced).scope == "nothing"


def test_a_temporary_file_left_in_the_vault_is_removed(synced: Settings, vault: Path) -> None:
    stray = vault / "Zotero" / ".obsync-tmp-99-x.md"
    stray.write_text("half")
    assert run_sync(synced).scope == "nothing"
    assert not stray.exists()


def test_a_file_with_errors_is_read_and_reported_at_every_sync(
    synced: Settings, export_dir: Path
) -> None:
    bad = export_dir / "bad.md"
    text = formats.better_notes(ONE, title="First paper", note_key="BAD23456")
    bad.write_text(text.replace("annotationKey", "annotationKey%22%3A%22bad%20key", 1))
    age(bad)
    reports: list[Report] = [run_sync(synced), run_sync(synced)]
    for report in reports:
        assert report.exit_code == 1
        assert any(e["file"] == str(bad) for e in report.errors)
    assert reports[1].scope == "changed"


def test_every_file_holding_a_changed_paper_is_read(
    settings: Settings, export_dir: Path, vault: Path
) -> None:
    write(export_dir, "one.md", ONE[:2], "First paper")
    write(export_dir, "one-more.md", ONE[2:], "First paper")
    write(export_dir, "two.md", TWO, "Second paper")
    run_sync(settings)
    write(export_dir, "one.md", [replace(ONE[0], comment="new"), ONE[1]], "First paper")
    report = run_sync(settings)
    assert report.scope == "changed" and report.export.files_read == 2
    assert report.plan.annotations.updated == 1 and report.plan.annotations.unchanged == 2
    assert "ONE00002" in (vault / "Zotero/Sources/First paper.md").read_text()
    full_sync_agrees(settings)


# -- what a sync costs, counted: notes read, export files parsed -----------------------


def test_the_sync_right_after_one_of_freshly_written_exports_reads_no_note(
    settings: Settings, export_dir: Path
) -> None:
    """Files written just before a sync are read again by the next (their stamp is not
    trusted); their bytes are the same, so nothing is planned."""
    for name, anns in (("one.md", ONE), ("two.md", TWO)):
        (export_dir / name).write_text(formats.better_notes(anns, note_key=f"N{name[:3]}2345"))
    assert run_sync(settings).scope == "all"
    report = run_sync(settings)
    assert report.scope == "nothing" and report.notes_read == 0


def test_exports_rewritten_with_the_same_bytes_read_no_note(
    synced: Settings, export_dir: Path, vault: Path
) -> None:
    """Better Notes rewrites every export at Zotero's start-up."""
    before = tree(vault)
    for path in export_dir.iterdir():
        path.write_bytes(path.read_bytes())
    age(export_dir)
    report = run_sync(synced)
    assert report.scope == "nothing" and report.notes_read == 0 and report.export.files_read == 0
    assert tree(vault) == before


def test_many_changed_files_read_only_their_papers_notes(
    settings: Settings, export_dir: Path
) -> None:
    """No "most files changed: look at everything": the cost is that of the papers."""
    for n in range(4):
        anns = [Ann(f"P{n}K{i:05d}", text=f"Paper {n}, highlight {i}", parent=f"PAPER{n:03d}")
                for i in range(3)]  # fmt: skip
        write(export_dir, f"p{n}.md", anns, f"Paper {n}")
    run_sync(settings)
    for n in range(2):  # half the files
        anns = [Ann(f"P{n}K{i:05d}", text=f"Paper {n}, highlight {i}", comment="new",
                    parent=f"PAPER{n:03d}") for i in range(3)]  # fmt: skip
        write(export_dir, f"p{n}.md", anns, f"Paper {n}")
    report = run_sync(settings)
    assert report.scope == "changed" and report.plan.annotations.updated == 6
    assert report.notes_read == 2 * 4  # two papers: three notes and a literature note each
    full_sync_agrees(settings)


def test_a_change_in_a_paper_known_by_its_citation_reads_only_papers_of_that_citation(
    settings: Settings, export_dir: Path
) -> None:
    cited = [Ann(None, text=f"Cited highlight {i}", parent=None, citation="Lee, 2020")
             for i in range(3)]  # fmt: skip
    (export_dir / "cited.md").write_text(formats.zotero_markdown(cited, links=False))
    age(export_dir / "cited.md")
    write(export_dir, "one.md", ONE, "First paper")
    write(export_dir, "two.md", TWO, "Second paper")
    run_sync(settings)
    changed = [replace(cited[0], comment="a new thought"), *cited[1:]]
    (export_dir / "cited.md").write_text(formats.zotero_markdown(changed, links=False))
    age(export_dir / "cited.md")
    report = run_sync(settings)
    assert report.scope == "changed" and report.plan.annotations.updated == 1
    assert report.export.files_read == 1 and report.notes_read == 4
    full_sync_agrees(settings)


def test_a_note_moved_while_the_vault_is_walked_is_found_by_key(
    synced: Settings, export_dir: Path, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moved from a folder not yet walked into one already walked: looked for by key
    before it counts as deleted, so the next ordinary syncs keep it up to date."""
    import obsync.vault.listing

    walked_first = vault / "A folder"
    walked_first.mkdir()
    note = note_path(vault, "ONE00000")
    moved = walked_first / note.name
    real = obsync.vault.listing._folders

    def walk_with_a_move(root: Path):  # type: ignore[no-untyped-def]
        for folder, dirs, files in real(root):
            if Path(folder) == vault / "Zotero" and note.exists():
                note.rename(moved)
            yield folder, dirs, files

    monkeypatch.setattr(obsync.vault.listing, "_folders", walk_with_a_move)
    report = run_sync(synced, Request(full=True))
    monkeypatch.undo()
    assert report.plan.annotations.deleted == 0
    write(export_dir, "one.md", [replace(ONE[0], comment="upstream"), *ONE[1:]], "First paper")
    run_sync(synced, Request(list_vault=False))
    assert "upstream" in moved.read_text()


def test_full_with_nothing_to_do_reads_each_note_once_and_writes_nothing(
    synced: Settings, vault: Path
) -> None:
    before = tree(vault)
    report = run_sync(synced, Request(full=True))
    notes = [p for p in vault.rglob("*.md")]
    assert report.scope == "all" and report.notes_read == len(notes) == 8
    assert report.applied is not None and report.applied.written == [] and tree(vault) == before


def test_a_note_the_user_deleted_costs_its_papers_notes_and_the_unknown_names(
    synced: Settings, vault: Path
) -> None:
    (vault / "My own note.md").write_text("mine\n")
    note_path(vault, "ONE00000").unlink()
    report = run_sync(synced)
    assert report.scope == "changed" and report.plan.annotations.deleted == 1
    assert report.notes_read == 3 + 1  # the paper's other notes; the one name not obsync's


@pytest.mark.parametrize("list_vault", [True, False])
def test_a_literature_note_the_user_renamed_keeps_its_links(
    synced: Settings, export_dir: Path, vault: Path, list_vault: bool
) -> None:
    """Renamed in Obsidian (which mends the links), then a change in Zotero: the annotation
    notes keep linking the name it has now, also in a sync that does not list the vault
    (the daemon's, between rescans); before, that sync linked the old name again."""
    source = vault / "Zotero/Sources/First paper.md"
    renamed = source.with_name("My reading of the first paper.md")
    source.rename(renamed)
    assert run_sync(synced).scope == "changed"  # found by key, its links mended
    assert "[[My reading of the first paper" in note_path(vault, "ONE00001").read_text()
    write(export_dir, "one.md", [replace(ONE[0], comment="upstream"), *ONE[1:]], "First paper")
    run_sync(synced, Request(list_vault=list_vault))
    for key in ("ONE00000", "ONE00001"):
        text = note_path(vault, key).read_text()
        assert "[[My reading of the first paper" in text and "[[First paper" not in text
    assert (
        "upstream" in renamed.read_text() or "upstream" in note_path(vault, "ONE00000").read_text()
    )
    full_sync_agrees(synced)
