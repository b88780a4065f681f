"""Whole syncs, end to end through the command line, on temporary folders."""

from __future__ import annotations

import os
import re
from pathlib import Path

import frontmatter
import pytest

from obsync.cli import main
from obsync.settings.config import DEFAULT_MARKER as MARKER

from . import formats
from .helpers import age, copy_fixture, note_path, sync_json, tree

NOTE_PROPERTIES = {
    "annotation-key", "annotation-type", "source", "page", "order", "color", "tags", "zotero",
    "citation", "obsync",  # the stamp of what obsync wrote
}  # fmt: skip


@pytest.fixture
def synced(export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    copy_fixture(export_dir)
    return sync_json(capsys, export_dir, vault)


def test_first_sync_makes_one_note_per_annotation(synced: dict[str, object], vault: Path) -> None:
    assert synced["annotations"] == {
        "created": 15, "updated": 0, "unchanged": 0, "removed": 0, "conflicts": 0,
    }  # fmt: skip
    assert synced["sources"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert synced["files"] == {"read": 1, "failed": 0}
    notes = sorted((vault / "Zotero" / "Annotations").rglob("*.md"))
    assert len(notes) == 15
    keys = set()
    for path in notes:
        post = frontmatter.load(path)
        expected = NOTE_PROPERTIES if "color" in post.metadata else NOTE_PROPERTIES - {"color"}
        assert set(post.metadata) == expected, path
        assert isinstance(post["page"], str) and isinstance(post["tags"], list)
        assert post["zotero"].startswith("zotero://")
        keys.add(post["annotation-key"])
        assert post.content.count(MARKER) == 1
        source = re.fullmatch(r"\[\[(.+)\]\]", post["source"])
        assert source is not None
        assert (vault / "Zotero" / "Sources" / f"{source.group(1)}.md").is_file()
        assert f"[[{source.group(1)}]]" in post.content  # links back in the body too
    assert len(keys) == 15
    # The literature note links every one of its annotation notes.
    survey = frontmatter.load(vault / "Zotero/Sources/A Survey of Large Language Models.md")
    assert survey["item-key"] == "7UKARWPR"
    folder = vault / "Zotero/Annotations/A Survey of Large Language Models"
    for path in folder.glob("*.md"):
        assert f"[[{path.stem}|" in survey.content


def test_note_content(synced: dict[str, object], vault: Path) -> None:
    text = note_path(vault, "RC4HW3AF").read_text()
    assert "\n> Since the researchers have found &amp; shown ...\n" not in text
    assert "\n> Since the researchers have found & shown ...\n" in text
    assert "\nThis is my comment on [6–9].\n" in text
    assert "  - zotero/yellow\n" in text
    assert text.endswith(f"\n{MARKER}\n")
    chinese = note_path(vault, "LISTHL22").read_text()
    assert "\n评论：这很重要\n" in chinese


def test_image_is_copied_and_embedded(
    synced: dict[str, object], vault: Path, export_dir: Path
) -> None:
    image = vault / "Zotero" / "Attachments" / "QGZ7JHT2.png"
    assert image.read_bytes() == (export_dir / "attachments" / "QGZ7JHTT.png").read_bytes()
    assert "\n![[QGZ7JHT2.png]]\n" in note_path(vault, "QGZ7JHT2").read_text()


def test_second_sync_writes_nothing(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree(vault)
    age(export_dir)  # a new stamp, the same bytes: nothing changed
    again = sync_json(capsys, export_dir, vault)
    assert again["scope"] == "nothing"
    assert tree(vault) == before
    (export_dir / "current.md").write_text((export_dir / "current.md").read_text() + "\n")
    age(export_dir)  # new bytes: read and planned, the same notes
    again = sync_json(capsys, export_dir, vault)
    assert again["scope"] == "changed" and again["annotations"]["unchanged"] == 15
    assert tree(vault) == before
    again = sync_json(capsys, export_dir, vault)
    assert again["scope"] == "nothing"  # no export file changed: no note needs reading
    assert tree(vault) == before
    whole = sync_json(capsys, export_dir, vault, "--full")
    assert whole["scope"] == "all"
    assert whole["annotations"]["created"] == whole["annotations"]["updated"] == 0
    assert whole["annotations"]["unchanged"] == 15
    assert whole["sources"] == {"created": 0, "updated": 0, "unchanged": 3}
    assert tree(vault) == before


def test_output_is_the_same_on_every_machine(
    export_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy_fixture(export_dir)
    sync_json(capsys, export_dir, tmp_path / "one")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "other-state"))
    sync_json(capsys, export_dir, tmp_path / "two")
    one = {k: v[0] for k, v in tree(tmp_path / "one").items()}
    two = {k: v[0] for k, v in tree(tmp_path / "two").items()}
    assert one == two


def test_resync_updates_just_the_changed_notes_and_keeps_user_text(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = {
        "RC4HW3AF": "My own thinking.\n",
        "MDCHARS1": "CRLF text\r\nwith %% comment %% and\r\n" + MARKER.replace("%%", "%") + "\r\n",
        "N2CMT2A1": "",
        "LISTHL22": "bytes that are not UTF-8: \udcff\udcfe and a last line without newline",
    }
    for key, text in mine.items():
        path = note_path(vault, key)
        path.write_bytes(path.read_bytes() + text.encode("utf-8", "surrogateescape"))
    before = tree(vault)

    export = export_dir / "current.md"
    text = export.read_text()
    text = text.replace("This is my comment on \\[6–9].", "An edited comment.")
    text = text.replace(
        "%22annotationKey%22%3A%22N2CMT2A1%22%2C%22color%22%3A%22%23ff6666%22",
        "%22annotationKey%22%3A%22N2CMT2A1%22%2C%22color%22%3A%22%235fb236%22",
    )
    added = text.split("\n\n")[2].replace("RC4HW3AF", "NEWANN22")
    export.write_text(text + "\n" + added + "\n")

    result = sync_json(capsys, export_dir, vault)
    assert result["annotations"] == {
        "created": 1, "updated": 2, "unchanged": 13, "removed": 0, "conflicts": 0,
    }  # fmt: skip
    after = tree(vault)
    changed = {name for name in after if before.get(name) != after[name]}
    survey = "Zotero/Annotations/A Survey of Large Language Models"
    assert changed == {
        f"{survey}/RC4HW3AF.md", f"{survey}/N2CMT2A1.md", f"{survey}/NEWANN22.md",
        "Zotero/Sources/A Survey of Large Language Models.md",
    }  # fmt: skip
    for key, text in mine.items():
        data = note_path(vault, key).read_bytes()
        assert data.endswith((MARKER + "\n").encode() + text.encode("utf-8", "surrogateescape"))
    edited = note_path(vault, "RC4HW3AF").read_text()
    assert "\nAn edited comment.\n" in edited and "My own thinking." in edited
    recoloured = frontmatter.load(note_path(vault, "N2CMT2A1"))
    assert recoloured["color"] == "#5fb236" and recoloured["tags"] == ["zotero/green"]


def test_export_is_never_written_and_nothing_outside_vault_and_state(
    export_dir: Path, vault: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_fixture(export_dir)
    export_before = tree(export_dir)
    os.chmod(export_dir, 0o555)
    try:
        sync_json(capsys, export_dir, vault)
        sync_json(capsys, export_dir, vault)
    finally:
        os.chmod(export_dir, 0o755)
    assert tree(export_dir) == export_before
    state_home = Path(os.environ["XDG_STATE_HOME"])
    home = Path(os.environ["HOME"])
    outside = [
        p for p in home.rglob("*") if p.is_file() and not p.is_relative_to(state_home / "obsync")
    ]
    assert outside == []
    assert {p.name for p in tmp_path.iterdir()} == {"export", "vault"}


def test_dry_run_prints_the_plan_and_writes_nothing(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_fixture(export_dir)
    rc = main(["sync", "--export", str(export_dir), "--vault", str(vault), "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0
    assert (
        "create        annotation Zotero/Annotations/A Survey of Large Language Models/RC4HW3AF.md"
        in out
    )
    assert "copy          image      Zotero/Attachments/QGZ7JHT2.png" in out
    assert list(vault.iterdir()) == []
    assert not (Path(os.environ["XDG_STATE_HOME"]) / "obsync").exists()


def test_bad_input_exit_1_and_the_rest_is_synced(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_fixture(export_dir)
    path.write_text(
        path.read_text().replace("%7B%22attachmentURI%22%3A", "%7B%22attachmentURI%3A", 1)
    )
    (export_dir / "binary.md").write_bytes(b'\x00\xff\xfe garbage ztype="zhighlight" \xc3')
    result = sync_json(capsys, export_dir, vault, code=1)
    assert result["annotations"]["created"] == 14  # type: ignore[index]
    assert result["files"] == {"read": 2, "failed": 2}
    messages = {(Path(e["file"]).name, e["line"]) for e in result["errors"]}  # type: ignore[union-attr]
    assert ("current.md", 14) in messages and ("binary.md", 1) in messages


def test_user_properties_and_tags_survive_an_update(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = note_path(vault, "RC4HW3AF")
    text = path.read_text()
    # As Obsidian's property editor writes it: its own quoting, tags added.
    text = text.replace(
        "tags:\n  - zotero/yellow\n", "tags:\n  - zotero/yellow\n  - to-read\nrating: 5\n"
    )
    text = text.replace('page: "1"\n', "page: '1'\n")
    path.write_text(text)
    assert sync_json(capsys, export_dir, vault, "--full")["annotations"]["unchanged"] == 15
    assert path.read_text() == text  # no churn from quoting style
    export = export_dir / "current.md"
    export.write_text(
        export.read_text().replace(
            "%22color%22%3A%22%23ffd400%22%2C%22pageLabel%22%3A%221%22",
            "%22color%22%3A%22%232ea8e5%22%2C%22pageLabel%22%3A%221%22",
            1,
        )
    )
    assert sync_json(capsys, export_dir, vault)["annotations"]["updated"] == 1  # type: ignore[index]
    post = frontmatter.load(path)
    assert post["tags"] == ["zotero/blue", "to-read"]
    assert post["rating"] == 5
    assert "rating: 5\n" in path.read_text()


def test_user_edit_above_the_marker_and_upstream_change_is_a_conflict(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = note_path(vault, "RC4HW3AF")
    path.write_text(path.read_text().replace("This is my comment", "I rewrote this") + "mine\n")
    edited = path.read_bytes()
    assert sync_json(capsys, export_dir, vault, "--full")["annotations"]["unchanged"] == 15
    export = export_dir / "current.md"
    export.write_text(export.read_text().replace("This is my comment on", "Changed upstream"))
    result = sync_json(capsys, export_dir, vault)
    assert result["annotations"]["conflicts"] == 1  # type: ignore[index]
    assert path.read_bytes() == edited
    (conflict,) = result["conflicts"]  # type: ignore[misc]
    copy = vault / conflict["copy"]
    assert "conflict" in copy.name and "Changed upstream" in copy.read_text()
    again = sync_json(capsys, export_dir, vault, "--full")
    assert again["annotations"]["conflicts"] == 1  # type: ignore[index]
    assert path.read_bytes() == edited


def test_renamed_and_moved_notes_are_updated_where_they_are(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = note_path(vault, "RC4HW3AF")
    moved = vault / "Elsewhere" / "My favourite quote.md"
    moved.parent.mkdir()
    old.rename(moved)
    source = vault / "Zotero/Sources/A Survey of Large Language Models.md"
    renamed_source = source.with_name("LLM survey.md")
    source.rename(renamed_source)
    result = sync_json(capsys, export_dir, vault)
    assert result["annotations"]["created"] == 0 and result["sources"]["created"] == 0  # type: ignore[index]
    assert "[[My favourite quote|" in renamed_source.read_text()
    assert 'source: "[[LLM survey]]"' in moved.read_text()
    assert not old.exists()


def test_deleted_note_stays_deleted_unless_restored(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = note_path(vault, "RC4HW3AF")
    path.unlink()
    assert sync_json(capsys, export_dir, vault)["annotations"]["created"] == 0  # type: ignore[index]
    assert not path.exists()
    restored = sync_json(capsys, export_dir, vault, "--restore-deleted")
    assert restored["annotations"]["created"] == 1  # type: ignore[index]
    assert path.exists()


def test_removed_annotation_is_marked_and_comes_back(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = export_dir / "current.md"
    original = export.read_text()
    paragraphs = original.split("\n\n")
    export.write_text("\n\n".join(p for p in paragraphs if "annotation=N2CMT2A1" not in p))
    path = note_path(vault, "N2CMT2A1")
    path.write_bytes(path.read_bytes() + b"keep me\n")
    result = sync_json(capsys, export_dir, vault)
    assert result["annotations"]["removed"] == 1  # type: ignore[index]
    assert frontmatter.load(path)["annotation-status"] == "removed"
    assert path.read_bytes().endswith(b"keep me\n")
    survey = (vault / "Zotero/Sources/A Survey of Large Language Models.md").read_text()
    assert "### Page 2\n\n- ~~[[N2CMT2A1|A highlight without any comment]]~~ (removed) · red\n" in (
        survey
    )
    export.write_text(original)
    sync_json(capsys, export_dir, vault)
    survey = (vault / "Zotero/Sources/A Survey of Large Language Models.md").read_text()
    assert "\n- [[N2CMT2A1|A highlight without any comment]] · red\n" in survey
    assert "annotation-status" not in frontmatter.load(path).metadata
    assert path.read_bytes().endswith(b"keep me\n")


def test_a_deleted_export_file_marks_nothing_removed(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (export_dir / "current.md").unlink()
    before = tree(vault)
    result = sync_json(capsys, export_dir, vault)
    assert result["annotations"]["removed"] == 0  # type: ignore[index]
    assert tree(vault) == before


def test_missing_or_doubled_marker_is_never_rewritten(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing, doubled = note_path(vault, "RC4HW3AF"), note_path(vault, "N2CMT2A1")
    missing.write_text(missing.read_text().replace(MARKER, "my notes"))
    doubled.write_text(doubled.read_text() + MARKER + "\n")
    export = export_dir / "current.md"
    export.write_text(
        export.read_text()
        .replace("This is my comment", "Changed")
        .replace("A highlight without any comment", "Changed too")
    )
    before = (missing.read_bytes(), doubled.read_bytes())
    result = sync_json(capsys, export_dir, vault)
    assert (missing.read_bytes(), doubled.read_bytes()) == before
    problems = {Path(e["file"]).name: e["message"] for e in result["errors"]}  # type: ignore[union-attr]
    assert "missing" in problems["RC4HW3AF.md"] and "more than once" in problems["N2CMT2A1.md"]


def test_lost_state_is_rebuilt_without_duplicates_or_changes(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = Path(os.environ["XDG_STATE_HOME"]) / "obsync"
    (db,) = state.glob("*.sqlite")
    before = tree(vault)
    db.unlink()
    assert sync_json(capsys, export_dir, vault)["annotations"]["unchanged"] == 15  # type: ignore[index]
    db.write_bytes(b"this is not a database")
    assert sync_json(capsys, export_dir, vault)["annotations"]["unchanged"] == 15  # type: ignore[index]
    assert tree(vault) == before


def test_conflict_copy_is_written_once_and_keeps_text_below_its_marker(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = note_path(vault, "RC4HW3AF")
    path.write_text(path.read_text().replace("This is my comment", "I rewrote this"))
    export = export_dir / "current.md"
    export.write_text(export.read_text().replace("This is my comment on", "First change"))
    (conflict,) = sync_json(capsys, export_dir, vault)["conflicts"]  # type: ignore[misc]
    copy = vault / conflict["copy"]
    before = tree(vault)
    sync_json(capsys, export_dir, vault)
    assert tree(vault) == before  # an unchanged conflict copy is not rewritten
    copy.write_bytes(copy.read_bytes() + b"merged by hand\n")
    export.write_text(export.read_text().replace("First change", "Second change"))
    sync_json(capsys, export_dir, vault)
    text = copy.read_text()
    assert "Second change" in text and text.endswith(f"{MARKER}\nmerged by hand\n")


def test_an_unreadable_annotation_is_not_marked_removed(
    synced: dict[str, object], export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = export_dir / "current.md"
    export.write_text(
        export.read_text().replace(
            "%22annotationKey%22%3A%22N2CMT2A1%22", "%22annotationKey%22%3A%22N2CMT2A1%22%2C"
        )
    )
    before = tree(vault)
    result = sync_json(capsys, export_dir, vault, code=1)
    assert result["annotations"]["removed"] == 0  # type: ignore[index]
    assert tree(vault) == before


class Crash(Exception):
    pass


@pytest.mark.parametrize("how", ["stopped", "crashed"])
def test_a_full_sync_cut_short_leaves_nothing_to_mistake(
    export_dir: Path, vault: Path, how: str
) -> None:
    """A full sync writes a part at a time and remembers each part at once: stopped
    (SIGTERM) or crashed in its second part, the notes it wrote are obsync's, not taken
    for the user's when Zotero changes them next."""
    from obsync.settings.config import resolve
    from obsync.sync import Request, run_sync
    from obsync.sync.batches import PAPERS_PER_BATCH as PAPERS_PER_PART

    from .test_settings_templates import many_papers

    papers = PAPERS_PER_PART * 2
    many_papers(export_dir, papers)
    settings = resolve(config_path=None, export=export_dir, vault=vault)
    calls = 0

    def cut_short() -> bool:  # asked before each write; a part writes 2 notes a paper
        nonlocal calls
        calls += 1
        if calls > PAPERS_PER_PART * 2 + 10:
            if how == "crashed":
                raise Crash
            return True
        return False

    if how == "crashed":
        with pytest.raises(Crash):
            run_sync(settings, stop=cut_short)
    else:
        stopped = run_sync(settings, stop=cut_short)
        assert stopped.applied is not None and 0 < len(stopped.applied.written) < papers * 2
    number = 0  # the first paper: in the first part, written and remembered
    written = note_path(vault, f"K{number:04d}ANN")
    # Zotero changes that paper's annotation meanwhile: the note takes the new text.
    source = export_dir / f"PAPR{number:04d}.md"
    source.write_text(source.read_text().replace(f"paper {number}”", f"paper {number}, changed”"))
    age(export_dir)
    finished = run_sync(settings)
    assert finished.scope == "all" and finished.plan.annotations.conflicts == 0
    assert f"paper {number}, changed" in written.read_text()
    assert len(list((vault / "Zotero" / "Annotations").rglob("*.md"))) == papers
    assert not list(vault.rglob("*conflict*"))
    before = tree(vault)
    again = run_sync(settings, Request(full=True))
    assert again.applied is not None and again.applied.written == [] and tree(vault) == before


def test_a_stop_asked_once_everything_is_written_leaves_a_complete_sync(
    export_dir: Path, vault: Path
) -> None:
    """SIGTERM as the daemon's last part is done: nothing is left, so the next start is
    not a full sync."""
    from obsync.settings.config import resolve
    from obsync.sync import Request, run_sync

    copy_fixture(export_dir)
    settings = resolve(config_path=None, export=export_dir, vault=vault)
    run_sync(settings)
    report = run_sync(settings, Request(full=True), stop=lambda: True)  # nothing to write
    assert report.applied is not None and not report.applied.skipped
    assert run_sync(settings).scope != "all"  # what changed only, not everything


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        ("title", "A Survey of Large Language Models"),
        ("citation", "Zhao et al., 2023"),
        ("key", "7UKARWPR"),
    ],
)
def test_literature_notes_are_named_by_the_configured_rule(
    export_dir: Path,
    vault: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rule: str,
    name: str,
) -> None:
    copy_fixture(export_dir)
    age(export_dir)
    config = tmp_path / "config.toml"
    config.write_text(f'[notes]\nliterature_name = "{rule}"\n')
    sync_json(capsys, export_dir, vault, "--config", str(config))
    assert name in {p.stem for p in (vault / "Zotero" / "Sources").glob("*.md")}


def test_a_literature_note_keeps_its_name_when_the_rule_changes(
    export_dir: Path, vault: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by its item key: renaming it would break the user's links to it."""
    copy_fixture(export_dir)
    age(export_dir)
    sync_json(capsys, export_dir, vault)
    config = tmp_path / "config.toml"
    config.write_text('[notes]\nliterature_name = "citation"\n')
    sync_json(capsys, export_dir, vault, "--config", str(config), "--full")
    sources = {p.stem for p in (vault / "Zotero" / "Sources").glob("*.md")}
    assert "A Survey of Large Language Models" in sources
    assert "Zhao et al., 2023" not in sources


def test_two_papers_of_one_title_never_share_a_literature_note(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two papers called "Introduction", from two files: two notes, each found by its key."""
    for number in (1, 2):
        ann = formats.Ann(f"INTRO{number}AN", text=f"Text {number}", parent=f"INTRO{number}IT")
        (export_dir / f"intro-{number}.md").write_text(
            formats.better_notes([ann], title="Introduction")
        )
    age(export_dir)
    sync_json(capsys, export_dir, vault)
    sources = sorted(p.stem for p in (vault / "Zotero" / "Sources").glob("*.md"))
    assert sources == ["Introduction", "Introduction (INTRO2IT)"]


ORDER_WRITERS = {
    "better_notes.md": formats.better_notes,
    "zotero_links.md": formats.zotero_markdown,
    "note.html": formats.note_html,  # every annotation on one line
}


@pytest.mark.parametrize("name", sorted(ORDER_WRITERS))
def test_an_exports_annotations_keep_the_order_they_stand_in_in_the_file(
    name: str, export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Zotero writes a paper's annotations in its reading order (a two-column page: the left
    # column first, though lower on the page); keys say nothing of it.
    keys = ["ZZZZ9999", "MMMM5555", "AAAA1111", "QQQQ7777"]
    pages = ["3", "3", "3", "4"]
    anns = [formats.Ann(k, text=f"text {k}", page=p) for k, p in zip(keys, pages, strict=True)]
    (export_dir / name).write_text(ORDER_WRITERS[name](anns))
    sync_json(capsys, export_dir, vault)
    (literature,) = (vault / "Zotero" / "Sources").glob("*.md")
    source = literature.read_text()
    assert sorted(keys, key=lambda k: source.index(f"text {k}")) == keys
    orders = [frontmatter.load(note_path(vault, k))["order"] for k in keys]
    assert orders == ["00002|000000", "00002|000001", "00002|000002", "00003|000000"]


def test_after_the_state_is_lost_a_literature_note_keeps_its_removed_annotations(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anns = [formats.Ann(k, text=f"text {k}", page=p) for k, p in [("AAAA1111", "2"),
            ("BBBB2222", "3"), ("CCCC3333", "4")]]  # fmt: skip
    export = export_dir / "paper.md"
    export.write_text(formats.better_notes(anns))
    sync_json(capsys, export_dir, vault)
    export.write_text(formats.better_notes([anns[0], anns[2]]))  # BBBB2222 deleted in Zotero
    assert sync_json(capsys, export_dir, vault)["annotations"]["removed"] == 1
    (literature,) = (vault / "Zotero" / "Sources").glob("*.md")
    line = "~~[[BBBB2222|text BBBB2222]]~~ (removed)"
    assert line in literature.read_text()
    before = tree(vault)
    (db,) = (Path(os.environ["XDG_STATE_HOME"]) / "obsync").glob("*.sqlite")
    db.unlink()
    sync_json(capsys, export_dir, vault)
    assert tree(vault) == before  # the line of the removed annotation is still there
    export.write_text(formats.better_notes([anns[2]]))  # then another change
    assert sync_json(capsys, export_dir, vault)["annotations"]["removed"] == 1
    text = literature.read_text()
    assert line in text and "~~[[AAAA1111|text AAAA1111]]~~ (removed)" in text
    assert sync_json(capsys, export_dir, vault, "--full")["sources"]["updated"] == 0
