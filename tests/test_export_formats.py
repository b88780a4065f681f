"""Every export format: one paper exported each way gives the same annotations."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obsync.export.formats import note_html, zotero_markdown
from obsync.export.read import read_file
from obsync.model import Annotation, AnnotationType
from tests.helpers import read_folder

from . import formats
from .conftest import FIXTURES

KEYED = {
    "better_notes.md": lambda: formats.better_notes(formats.PAPER),
    "better_notes_old.md": lambda: formats.better_notes(formats.PAPER, old=True),
    "zotero_links.md": lambda: formats.zotero_markdown(formats.PAPER),
    "note.html": lambda: formats.note_html(formats.PAPER),
    "zotero_links.html": lambda: formats.zotero_html(formats.PAPER),
}
KEYLESS = {
    "zotero_plain.md": lambda: formats.zotero_markdown(formats.PAPER, links=False),
    "zotero_plain.html": lambda: formats.zotero_html(formats.PAPER, links=False),
}
CARRY_COLOUR = {"better_notes.md", "better_notes_old.md", "note.html"}


def export(tmp_path: Path, names: dict[str, object]) -> Path:
    (tmp_path / "attachments").mkdir(exist_ok=True)
    (tmp_path / "attachments" / "QGZ7JHTT.png").write_bytes(b"\x89PNG")
    for name, make in names.items():
        (tmp_path / name).write_text(make())  # type: ignore[operator]
    return tmp_path


def read(tmp_path: Path, name: str) -> dict[str, Annotation]:
    result = read_file(tmp_path / name, tmp_path)
    assert result.errors == ()
    return {a.key: a for a in result.annotations}


def summary(a: Annotation) -> tuple[str, str, str, str]:
    return (a.type.value, a.page_label, a.text, a.comment)


@pytest.mark.parametrize("name", sorted(KEYED))
def test_each_keyed_format_gives_the_same_annotations(tmp_path: Path, name: str) -> None:
    export(tmp_path, {"note.html": KEYED["note.html"], name: KEYED[name]})
    reference = read(tmp_path, "note.html")
    got = read(tmp_path, name)
    assert len(got) == len(reference) == len(formats.PAPER)
    for key, want in reference.items():
        if key == "UNDRLN22" and name.startswith("better_notes"):
            continue  # Better Notes flattens underlines: no key survives (below)
        have = got[key]
        expected = summary(want)
        if name.startswith("zotero_links") and want.type is AnnotationType.UNDERLINE:
            expected = ("highlight" if name.endswith(".md") else "underline", *expected[1:])
        assert summary(have) == expected, key
        assert have.color == (want.color if name in CARRY_COLOUR else None), key
        assert have.source.key == "7UKARWPR"
        assert have.zotero_link == want.zotero_link
    if name.startswith("better_notes"):
        (flat,) = [a for a in got.values() if a.text.startswith("Underlined")]
        assert not flat.keyed and flat.type is AnnotationType.UNDERLINE
        assert flat.comment == reference["UNDRLN22"].comment


def test_an_open_bracket_in_zotero_markdown_highlight_is_text(tmp_path: Path) -> None:
    """A highlight cut mid-reference ("see [12, 13") keeps its "[": the citation link after
    it starts at its own "[" (tests/formats.py writes Zotero's Markdown export)."""
    paper = [formats.Ann("BRACKET1", text="see [12, 13", comment="cut short")]
    export(tmp_path, {"zotero_links.md": lambda: formats.zotero_markdown(paper)})
    (a,) = read(tmp_path, "zotero_links.md").values()
    assert (a.key, a.text, a.comment, a.citation) == (
        "BRACKET1",
        "see [12, 13",
        "cut short",
        "Zhao et al., 2023, p. 1",
    )


def test_formats_without_links_give_the_same_annotations(tmp_path: Path) -> None:
    export(tmp_path, KEYLESS)
    md = read(tmp_path, "zotero_plain.md")
    html = read(tmp_path, "zotero_plain.html")
    assert len(md) == len(html) == len(formats.PAPER)
    pages_texts = {(a.page_label, a.text, a.comment) for a in md.values()}
    assert pages_texts == {(a.page_label, a.text, a.comment) for a in html.values()}
    shared = set(md) & set(html)
    assert len(shared) == len(formats.PAPER) - 1  # the underline: HTML knows its type, Markdown not
    assert all(not a.keyed and a.key.startswith("obs-") for a in md.values())


def test_all_formats_mixed_give_one_annotation_each_with_its_colour(tmp_path: Path) -> None:
    export(tmp_path, {**KEYED, **KEYLESS})
    result = read_folder(tmp_path)
    assert result.errors == ()
    by_text = {}
    for a in result.annotations:
        content = a.text or a.comment
        assert content not in by_text, f"{content!r} twice: {a.key} and {by_text[content].key}"
        by_text[content] = a
    assert len(result.annotations) == len(formats.PAPER)
    for ann in formats.PAPER:
        got = by_text[formats.plain(ann.text) or ann.comment]
        assert got.color == ann.color
        assert got.key == (ann.key or got.key)
        assert got.type.value == ann.kind
        assert got.source.title == "A Survey of Large Language Models"
    assert by_text["Image comment"].image is not None


def test_formats_sample_files_from_formats_md() -> None:
    folder = FIXTURES / "zotero_markdown"
    with_links = read_file(folder / "with_links.md", folder)
    assert with_links.errors == ()
    keys = {a.key for a in with_links.annotations}
    assert {
        "RC4HW3AF",
        "NOCMT001",
        "UNDRLN01",
        "MDCHARS1",
        "QGZ7JHTT_ANN",
        "EPUBHL01",
        "SNAPHL01",
    } <= keys
    snap = {a.key: a for a in with_links.annotations}["SNAPHL01"]
    assert snap.page_label == "" and "sel=body%20%3E%20main" in snap.zotero_link
    plain = read_file(folder / "without_links.md", folder)
    assert [a.type.value for a in plain.annotations].count("note") == 1
    assert len(plain.annotations) == 4


def test_group_library_links() -> None:
    text = formats.zotero_markdown(formats.PAPER[:1]).replace("library/items", "groups/4711/items")
    (a,), errors = zotero_markdown.read_text(text, Path("/x/g.md"), Path("/x"))
    assert errors == []
    assert a.source.library.group == "4711"
    assert a.zotero_link.startswith("zotero://open-pdf/groups/4711/items/KB2C5XMW?page=1")


def test_old_note_links_without_annotation_keys() -> None:
    text = formats.zotero_markdown(formats.PAPER[:2]).replace("&annotation=RC4HW3AF", "")
    annotations, _ = zotero_markdown.read_text(text, Path("/x/o.md"), Path("/x"))
    old = [a for a in annotations if not a.keyed]
    assert len(old) == 1 and old[0].zotero_link.endswith("?page=1")


def test_localised_quotes_and_citations() -> None:
    text = "„Ein Zitat“ ([Cheng et al., 2026, p. 153](zotero://select/library/items/7UKARWPR)) Kommentar\n\n« Une citation » ([Thorpe 等, 2021, p. 500](zotero://select/library/items/8UKARWPR))\n"
    annotations, errors = zotero_markdown.read_text(text, Path("/x/l.md"), Path("/x"))
    assert errors == []
    assert [(a.text, a.comment, a.page_label) for a in annotations] == [
        ("Ein Zitat", "Kommentar", "153"),
        ("Une citation", "", "500"),
    ]
    assert annotations[1].source.citation == "Thorpe 等, 2021"


def test_deleted_item_citation_and_several_notes_in_one_file(tmp_path: Path) -> None:
    text = (
        formats.zotero_markdown(formats.PAPER[:1])
        + "\n---\n\n"
        + formats.zotero_markdown(formats.PAPER[1:2])
    )
    (tmp_path / "two.md").write_text(text)
    assert {a.key for a in read_file(tmp_path / "two.md", tmp_path).annotations} == {
        "RC4HW3AF",
        "N2CMT2A1",
    }
    html_text = formats.note_html(formats.PAPER[:1]).replace(
        '(<span class="citation-item">Zhao et al., 2023, p. 1</span>)', "()"
    )
    (a,), errors = note_html.read_text(html_text, Path("/x/d.html"), Path("/x"))
    assert errors == [] and a.key == "RC4HW3AF" and a.citation == ""


@pytest.mark.parametrize("reader", [zotero_markdown.read_text, note_html.read_text])
@given(text=st.text())
def test_readers_never_raise(reader: object, text: str) -> None:
    _, errors = reader(text, Path("/x/f"), Path("/x"))  # type: ignore[operator]
    assert all(e.file == Path("/x/f") for e in errors)


fragments = st.sampled_from(
    [
        "<p>", "</p>", '<span class="highlight">', '<span class="citation">', "</span>", "<img ",
        'data-annotation="%7B%7D"', "(<a href=\"zotero://open-pdf/library/items/K?page=x&amp;annotation=A\">pdf</a>)",
        "([Z, 2023, p. 1](zotero://select/library/items/K))", "([pdf](zotero://open-pdf/library/items/K?cfi=(()",
        "[image]", "“", "”", "(Zhao, 2023, p. 3)", "\n\n", "  \n", "\\", "data-citation-items=\"%5B\"",
    ]
)  # fmt: skip


@pytest.mark.parametrize("reader", [zotero_markdown.read_text, note_html.read_text])
@given(text=st.lists(st.one_of(fragments, st.text(max_size=4))).map("".join))
def test_readers_never_raise_on_near_misses(reader: object, text: str) -> None:
    reader(text, Path("/x/f"), Path("/x"))  # type: ignore[operator]
