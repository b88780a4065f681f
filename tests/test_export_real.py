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

from obsync.export.read import FileRead, read_file
from obsync.export.text import visible_keys

from .conftest import FIXTURES

REAL = FIXTURES / "real"
EXPECTED: dict[str, dict[str, object]] = json.loads((REAL / "EXPECTED.json").read_text())


def read(name: str) -> FileRead:
    return read_file(REAL / name, REAL)


def assert_every_key_accounted_for(path: Path, read: FileRead) -> None:
    """The count property: every key the file shows is a note, or an error names it."""
    data = path.read_bytes()
    notes = {a.key for a in read.annotations if a.keyed}
    for key, line in visible_keys(data).items():
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


# -- the count property over generated files of every format ----------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from . import formats  # noqa: E402

KEY_CHARS = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
WRITERS = {
    "better_notes.md": lambda anns: formats.better_notes(anns),
    "better_notes_old.md": lambda anns: formats.better_notes(anns, old=True),
    "zotero_links.md": lambda anns: formats.zotero_markdown(anns),
    "note.html": lambda anns: formats.note_html(anns),
    "zotero_links.html": lambda anns: formats.zotero_html(anns),
}
words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
    | st.sampled_from("“”„«»\"'*_[]()<>&\\#-\n"),
    max_size=40,
)
annotations = st.builds(
    formats.Ann,
    key=st.text(st.sampled_from(KEY_CHARS), min_size=8, max_size=8),
    kind=st.sampled_from(["highlight", "underline", "image", "note"]),
    text=words,
    comment=words,
    page=st.sampled_from(["1", "12", "305"]),
    parent=st.sampled_from(["7UKARWPR", None]),
)


@given(anns=st.lists(annotations, max_size=6, unique_by=lambda a: a.key), data=st.data())
def test_no_key_is_ever_dropped_silently(
    tmp_path_factory: pytest.TempPathFactory, anns: list[formats.Ann], data: st.DataObject
) -> None:
    """Whatever the text, every key a generated export shows is a note or a named error."""
    name = data.draw(st.sampled_from(sorted(WRITERS)))
    folder = tmp_path_factory.mktemp("gen")
    path = folder / name
    path.write_text(WRITERS[name](anns), encoding="utf-8")
    assert_every_key_accounted_for(path, read_file(path, folder))


# -- the whole folder through `obsync sync` -----------------------------------------------

import shutil  # noqa: E402

from obsync.vault.names import safe_stem  # noqa: E402

from .helpers import age, sync_json, tree  # noqa: E402


def test_a_folder_of_real_exports_syncs_every_key_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export, vault = tmp_path / "export", tmp_path / "vault"
    shutil.copytree(REAL, export)
    age(export)
    result = sync_json(capsys, export, vault, code=1)  # the fixtures hold broken input on purpose
    notes: dict[str, list[Path]] = {}
    for note in (vault / "Zotero" / "Annotations").rglob("*.md"):
        for line in note.read_text(encoding="utf-8").splitlines():
            if line.startswith("annotation-key: "):
                notes.setdefault(line.removeprefix("annotation-key: ").strip("'\""), []).append(
                    note
                )
    messages = " ".join(e["message"] for e in result["errors"])
    for name, want in EXPECTED.items():
        for key in want["keys"]:  # type: ignore[attr-defined]
            assert len(notes.get(key, [])) == 1, (name, key)
        for key in want["error_keys"]:  # type: ignore[attr-defined]
            assert key in messages, (name, key)
    sources = {p.stem for p in (vault / "Zotero" / "Sources").glob("*.md")}
    for want in EXPECTED.values():
        for title in want["titles"].values():  # type: ignore[attr-defined]
            assert safe_stem(title) in sources, (title, sorted(sources))
    before = tree(vault)
    again = sync_json(capsys, export, vault, code=1)
    assert tree(vault) == before
    assert again["annotations"]["created"] == again["annotations"]["updated"] == 0
