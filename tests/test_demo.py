"""The bundled demo export: it is what its generator writes, and it syncs cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES
from .helpers import sync_json, tree

ROOT = Path(__file__).parent.parent


def test_demo_export_is_what_make_demo_writes(tmp_path: Path) -> None:
    before = tree(EXAMPLES)
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_demo.py")], check=True)
    assert {k: v[0] for k, v in tree(EXAMPLES).items()} == {k: v[0] for k, v in before.items()}


def test_demo_syncs_without_errors(
    demo_export: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = sync_json(capsys, demo_export, vault)
    assert result["errors"] == []
    assert result["annotations"]["created"] == 24  # type: ignore[index]
    assert result["sources"]["created"] == 2  # type: ignore[index]
    assert len(list((vault / "Zotero" / "Attachments").iterdir())) == 3
