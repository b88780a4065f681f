"""`obsync sync` with Zotero's Web API as a source, against a fake server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import note_path, tree
from tests.zotero_server import FakeZotero, annotation, attachment, paper, serve
from tests.zotero_setup import fill, run_json, write_config

USER = "users/8071752"


@pytest.fixture
def fake() -> Iterator[FakeZotero]:
    yield from serve(FakeZotero())


def test_first_sync_creates_every_note_and_the_second_asks_once_and_writes_nothing(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(fake, USER, papers=20, per_paper=50)
    config = write_config(tmp_path, fake)
    first = run_json(capsys, config)
    assert first["annotations"]["created"] == 1000
    assert first["sources"]["created"] == 20
    vault = tmp_path / "vault"
    notes = list((vault / "Zotero" / "Annotations").rglob("*.md"))
    assert len(notes) == 1000
    before = tree(vault)
    fake.requests.clear()
    second = run_json(capsys, config)
    assert len(fake.requests) == 1  # one per library: a 304
    assert fake.requests[0].headers["if-modified-since-version"] == str(fake.library(USER).version)
    assert second["annotations"]["created"] == second["annotations"]["updated"] == 0
    assert tree(vault) == before


def test_a_note_from_the_api_has_the_properties_an_export_gives(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.library(USER).put(
        paper("7UKARWPR", "A Survey of Large Language Models"),
        attachment("KB2C5XMW", "7UKARWPR"),
        annotation("RC4HW3AF", "KB2C5XMW", text="Since the researchers have found", comment="Mine"),
    )
    run_json(capsys, write_config(tmp_path, fake))
    text = note_path(tmp_path / "vault", "RC4HW3AF").read_text()
    assert "annotation-type: highlight\n" in text
    assert 'source: "[[A Survey of Large Language Models]]"' in text
    assert 'citation: "Zhao et al., 2023, p. 1"' in text
    assert "zotero://open-pdf/library/items/KB2C5XMW?page=1&annotation=RC4HW3AF" in text
    assert "color: \"#ffd400\"" in text
    assert "> Since the researchers have found" in text
    source = tmp_path / "vault" / "Zotero" / "Sources" / "A Survey of Large Language Models.md"
    assert "item-key: \"7UKARWPR\"" in source.read_text()
