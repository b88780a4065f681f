"""Exports as users really keep them (tests/fixtures/real, see its README): every key read.

Each fixture imitates one exporter and version, then what its owner did to it after
(front matter of a blog, block quotes, footnotes, lines of their own, pasted links).
EXPECTED.json says what a careful reader gets from each: the annotation keys, how many
annotations without a key, which keys are errors, the papers' titles, the pages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obsync.export import FileRead, read_file
from obsync.export.common import visible_keys

from .conftest import FIXTURES

REAL = FIXTURES / "real"
EXPECTED: dict[str, dict[str, object]] = json.loads((REAL / "EXPECTED.json").read_text())


def read(name: str) -> FileRead:
    return read_file(REAL / name, REAL)


def assert_every_key_accounted_for(path: Path, read: FileRead) -> None:
    """The count property: every key the file shows is a note, or an error names it."""
    text = path.read_text(encoding="utf-8", errors="replace")
    notes = {a.key for a in read.annotations if a.keyed}
    for key, line in visible_keys(text).items():
        named = [e for e in read.errors if key in e.message]
        assert key in notes or named, f"{path.name}:{line}: {key} silently dropped"
        assert not named or all(e.file == path and e.line is not None for e in named)


def test_every_fixture_is_expected() -> None:
    files = {
        str(p.relative_to(REAL))
        for p in REAL.rglob("*")
        if p.suffix in (".md", ".html") and p.name != "README.md"
    }
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_key_is_a_note_or_a_named_error(name: str) -> None:
    got = read(name)
    want = EXPECTED[name]
    assert_every_key_accounted_for(REAL / name, got)
    keyed = sorted(a.key for a in got.annotations if a.keyed)
    assert keyed == want["keys"]
    assert sum(not a.keyed for a in got.annotations) == want["keyless"]
    for key in want["error_keys"]:  # type: ignore[attr-defined]
        assert any(key in e.message for e in got.errors), (key, got.errors)
    assert want["errors_min"] <= len(got.errors) <= want["errors_max"], got.errors  # type: ignore[operator]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_papers_are_named_by_their_titles(name: str) -> None:
    got = read(name)
    want = EXPECTED[name]
    titles = {a.source.key: a.source.title for a in got.annotations}
    assert {k: titles.get(k) for k in want["titles"]} == want["titles"]  # type: ignore[attr-defined]
    by_citation = {a.source.citation: a.source.title for a in got.annotations if not a.keyed}
    for citation, title in want.get("titles_without_key", {}).items():  # type: ignore[attr-defined]
        assert by_citation.get(citation) == title


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_page_labels(name: str) -> None:
    got = {a.key: a.page_label for a in read(name).annotations}
    pages: dict[str, str] = EXPECTED[name].get("pages", {})  # type: ignore[assignment]
    assert {k: got.get(k) for k in pages} == pages
