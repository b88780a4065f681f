"""``obsync status`` and the one-obsync-per-vault lock."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from obsync.cli import main
from obsync.platform.lock import exclusive, holder
from obsync.settings.config import resolve_state

from . import formats
from .helpers import age, copy_fixture, note_path, sync_json


def status(capsys: pytest.CaptureFixture[str], vault: Path) -> dict[str, object]:
    capsys.readouterr()
    assert main(["status", "--vault", str(vault), "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_status_before_any_sync(vault: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = status(capsys, vault)
    assert result["last_sync"] is None and result["annotations"] == 0
    assert result["daemon"] == {"running": False, "pid": None}
    assert not (Path(os.environ["XDG_STATE_HOME"]) / "obsync").exists()


def test_status_reports_counts_conflicts_and_errors(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = copy_fixture(export_dir)
    other = export_dir / "other.md"
    other.write_text(
        formats.better_notes([formats.Ann("OTHERAN1", text="Another paper", parent="OTHERIT1")])
    )
    age(export_dir)
    sync_json(capsys, export_dir, vault)
    path = note_path(vault, "RC4HW3AF")
    path.write_text(path.read_text().replace("This is my comment", "Mine"))
    export.write_text(
        export.read_text()
        .replace("This is my comment on", "Upstream")
        .replace("%22annotationKey%22%3A%22N2CMT2A1%22", "%22annotationKey%22%3A%22N2CMT2A1%22%2C")
    )
    sync_json(capsys, export_dir, vault, code=1)
    result = status(capsys, vault)
    assert result["annotations"] == 16 and result["sources"] == 4
    assert isinstance(result["last_sync"], str)
    (conflict,) = result["conflicts"]  # type: ignore[misc]
    assert conflict["key"] == "RC4HW3AF"
    (error,) = result["errors"]  # type: ignore[misc]
    assert error["line"] == 16 and "not valid JSON" in error["message"]
    assert main(["status", "--vault", str(vault)]) == 0
    text = capsys.readouterr().out
    assert "daemon:      not running" in text and "conflicts:   1" in text
    assert "RC4HW3AF.md" in text
    assert ":16: annotation N2CMT2A1: annotation data is not valid JSON" in text
    # A later sync that finds nothing new, or syncs other papers: the conflict stays open
    # while its copy is in the vault, and is closed once the user deletes the copy.
    other.write_text(other.read_text().replace("Another paper", "Another paper, changed"))
    age(export_dir)
    assert sync_json(capsys, export_dir, vault, code=1)["scope"] == "changed"
    (still,) = status(capsys, vault)["conflicts"]  # type: ignore[misc]
    assert still == conflict
    (vault / still["copy"]).unlink()
    assert status(capsys, vault)["conflicts"] == []


def test_a_second_obsync_on_the_same_vault_is_refused(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_fixture(export_dir)
    vault_dir, state_file = resolve_state(config_path=None, vault=vault)
    with exclusive(state_file, vault_dir):
        assert holder(state_file) == os.getpid()
        assert status(capsys, vault)["daemon"] == {"running": True, "pid": os.getpid()}
        code = main(["sync", "--export", str(export_dir), "--vault", str(vault)])
        assert code == 2
        assert f"another obsync (pid {os.getpid()}) is already syncing" in capsys.readouterr().err
        # A dry run only reads, so it may run beside a daemon.
        assert main(["sync", "--export", str(export_dir), "--vault", str(vault), "--dry-run"]) == 0
    assert holder(state_file) is None
