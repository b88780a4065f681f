"""The vault's Base: valid YAML with the promised views, written once, never rewritten."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from obsync.settings.config import Settings, resolve
from obsync.sync import Request, run_sync
from obsync.sync.state import StateStore
from obsync.vault.base import META, THIS_PAPER, base_path, base_text

from .helpers import age


def settings_for(export: Path, vault: Path) -> Settings:
    return resolve(config_path=None, export=export, vault=vault)


@pytest.fixture
def settings(demo_export: Path, tmp_path: Path) -> Settings:
    age(demo_export)
    return settings_for(demo_export, tmp_path / "vault")


def the_base(settings: Settings) -> Path:
    return settings.vault / "Zotero" / "Annotations.base"


def parsed(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def test_it_is_valid_yaml_with_the_views() -> None:
    base = parsed(base_text("Annotations.base"))
    assert set(base) == {"filters", "formulas", "properties", "views"}
    views = {view["name"]: view for view in base["views"]}
    assert list(views) == ["By paper", "By colour", "Removed", THIS_PAPER]
    assert all(view["type"] == "table" for view in views.values())
    assert views["By paper"]["groupBy"]["property"] == "note.source"
    assert views["By colour"]["groupBy"]["property"] == "note.color"
    assert views["Removed"]["filters"] == {"and": ['note["annotation-status"] == "removed"']}
    assert views[THIS_PAPER]["filters"] == {"and": ["source == this"]}
    assert 'file.hasProperty("annotation-key")' in base["filters"]["and"]
    # Every formula a view uses is defined, every column has a display name.
    for view in views.values():
        for name in view["order"] + [s["property"] for s in view.get("sort", [])]:
            if name.startswith("formula."):
                assert name.removeprefix("formula.") in base["formulas"]
        assert all(
            column in base["properties"] or column == "note.tags" for column in view["order"]
        )
    assert "![[Annotations.base#This paper]]" in base_text("Annotations.base")


def test_every_view_sorts_by_zotero_order_never_by_a_page_number() -> None:
    # number(page) fails on page labels such as "iv" or "12-13"; `order` is text that sorts
    # in Zotero's reading order whatever the labels.
    base = yaml.safe_load(base_text("Annotations.base"))
    assert "number(" not in base_text("Annotations.base")
    for view in base["views"]:
        assert view["sort"][-1] == {"property": "note.order", "direction": "ASC"}, view["name"]


def test_the_readme_shows_it() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## The Base\n") :]
    shown = section[section.index("```yaml\n") + 8 : section.index("```\n\n")]
    assert shown == base_text("Annotations.base")


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("Zotero/Annotations", "Zotero/Annotations.base"),
        ("Highlights", "Highlights.base"),
        ("Lit/Zotero v2.0/Notes", "Lit/Zotero v2.0/Notes.base"),
    ],
)
def test_it_goes_beside_the_annotations_folder(folder: str, expected: str) -> None:
    assert base_path(folder) == PurePosixPath(expected)


def test_the_first_sync_writes_it(settings: Settings) -> None:
    run_sync(settings)
    assert the_base(settings).read_text() == base_text("Annotations.base")
    assert StateStore(settings.state_file).load_meta()[META] == "wrote Zotero/Annotations.base"  # type: ignore[index]


def test_a_dry_run_writes_no_base(settings: Settings) -> None:
    run_sync(settings, Request(dry_run=True))
    assert not the_base(settings).exists()


def test_it_is_never_rewritten(settings: Settings) -> None:
    run_sync(settings)
    base = the_base(settings)
    changed = base.read_text().replace("name: By colour", "name: Colours")  # as Obsidian does
    base.write_text(changed)
    stamp = base.stat().st_mtime_ns
    run_sync(settings)
    run_sync(settings, Request(full=True))
    assert base.read_text() == changed and base.stat().st_mtime_ns == stamp


def test_a_deleted_base_is_not_written_again(settings: Settings) -> None:
    run_sync(settings)
    the_base(settings).unlink()
    run_sync(settings, Request(full=True))
    run_sync(settings, Request(restore_deleted=True))  # restores notes, not the Base
    assert not the_base(settings).exists()


def test_with_the_state_lost_a_deleted_base_stays_deleted(settings: Settings) -> None:
    """The notes in the vault say obsync synced it before, so the Base was written then."""
    run_sync(settings)
    the_base(settings).unlink()
    settings.state_file.unlink()
    run_sync(settings)
    assert not the_base(settings).exists()
    assert "synced before" in StateStore(settings.state_file).load_meta()[META]  # type: ignore[index]


def test_with_the_state_lost_the_base_is_left_as_it_is(settings: Settings) -> None:
    run_sync(settings)
    the_base(settings).write_text("views: []\n")
    settings.state_file.unlink()
    run_sync(settings)
    assert the_base(settings).read_text() == "views: []\n"


def test_a_file_of_that_name_is_kept(settings: Settings) -> None:
    the_base(settings).parent.mkdir(parents=True)
    the_base(settings).write_text("the user's own\n")
    run_sync(settings)
    assert the_base(settings).read_text() == "the user's own\n"


def test_a_vault_synced_before_bases_gets_one_once(settings: Settings) -> None:
    """A state from an obsync that wrote no Base: the next sync writes it, once."""
    run_sync(settings)
    the_base(settings).unlink()
    with sqlite3.connect(settings.state_file) as db:
        db.execute("DELETE FROM meta WHERE name = ?", (META,))
    db.close()
    run_sync(settings)
    assert the_base(settings).read_text() == base_text("Annotations.base")


def test_it_is_not_written_through_a_symbolic_link(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings.vault.mkdir()
    (settings.vault / "Zotero").symlink_to(elsewhere)
    with caplog.at_level(logging.WARNING, logger="obsync"):
        run_sync(settings)
    assert list(elsewhere.iterdir()) == []
    assert "could not write Zotero/Annotations.base" in caplog.text


def test_with_the_state_unreadable_a_deleted_base_stays_deleted(settings: Settings) -> None:
    run_sync(settings)
    the_base(settings).unlink()
    settings.state_file.write_bytes(b"this is not a database")
    run_sync(settings)
    run_sync(settings)
    assert not the_base(settings).exists()
