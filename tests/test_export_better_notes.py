"""The Better Notes Markdown reader, on fixtures written in the real format."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obsync.export.formats import better_notes
from obsync.export.read import read_file
from obsync.model import Annotation, AnnotationType
from tests.helpers import read_folder

from .conftest import FIXTURES

BN = FIXTURES / "better_notes"


@pytest.fixture(scope="module")
def current() -> dict[str, Annotation]:
    read = read_file(BN / "current.md", BN)
    assert read.errors == ()
    return {a.key: a for a in read.annotations}


def with_image(folder: Path) -> Path:
    """Give a temporary export folder the fixture's image file."""
    (folder / "attachments").mkdir(exist_ok=True)
    (folder / "attachments" / "QGZ7JHTT.png").write_bytes(
        (BN / "attachments" / "QGZ7JHTT.png").read_bytes()
    )
    return folder


def by_text(annotations: dict[str, Annotation], text: str) -> Annotation:
    (found,) = [a for a in annotations.values() if text in a.text or text in a.comment]
    return found


def test_highlight_with_comment(current: dict[str, Annotation]) -> None:
    a = current["RC4HW3AF"]
    assert a.keyed and a.type is AnnotationType.HIGHLIGHT
    assert a.text == "Since the researchers have found & shown ..."
    assert a.comment == "This is my comment on [6–9]."
    assert a.color == "#ffd400" and a.page_label == "1"
    assert a.citation == "Zhao et al., 2023, p. 1"
    assert a.zotero_link == "zotero://open-pdf/library/items/KB2C5XMW?page=1&annotation=RC4HW3AF"
    assert a.source.key == "7UKARWPR"
    assert a.source.title == "A Survey of Large Language Models"
    assert a.source.citation == "Zhao et al., 2023"
    assert a.location.line == 14


def test_highlight_without_comment(current: dict[str, Annotation]) -> None:
    assert current["N2CMT2A1"].comment == ""


def test_markdown_escapes_are_removed_once(current: dict[str, Annotation]) -> None:
    a = current["MDCHARS1"]
    assert a.text == "Text with *asterisks*, [brackets], `backticks` and_underscores_"
    assert a.comment == (
        "# not a heading\n- not a list\n1. not ordered\n"
        "[[Wiki link]] and #tag and ==mark== &amp; <b> http://x.org"
    )


def test_flattened_underline_gets_a_stable_id(current: dict[str, Annotation]) -> None:
    a = by_text(current, "Underlined text")
    assert a.type is AnnotationType.UNDERLINE and not a.keyed
    assert a.key.startswith("obs-")
    assert a.text == "Underlined text with italic & ampersand"  # the note's italics: not Zotero's
    assert a.comment == (
        "Comment line one\nComment line two with **bold**\n\nSecond paragraph after blank line"
    )
    again = {x.key for x in read_file(BN / "current.md", BN).annotations}
    assert a.key in again


def test_sticky_note(current: dict[str, Annotation]) -> None:
    a = by_text(current, "A sticky note annotation comment")
    assert a.type is AnnotationType.NOTE and a.text == "" and a.page_label == "5"


def test_image_annotation_finds_its_file(current: dict[str, Annotation]) -> None:
    a = current["QGZ7JHT2"]
    assert a.type is AnnotationType.IMAGE and a.comment == "Image comment"
    assert a.image == (BN / "attachments" / "QGZ7JHTT.png").resolve()


def test_epub_position_link(current: dict[str, Annotation]) -> None:
    a = current["EPUBHL2A"]
    assert a.page_label == ""
    assert a.zotero_link == (
        "zotero://open-pdf/library/items/KB2C5XMW"
        "?cfi=epubcfi(%2F6%2F8!%2F4%2F2%2F10%2C%2F1%3A0%2C%2F1%3A42)&annotation=EPUBHL2A"
    )


def test_containers_and_blockquote_template(current: dict[str, Annotation]) -> None:
    assert current["QUOTEHL2"].comment == "comment for blockquote template"
    assert current["QUOTEHL2"].citation == "Zhao et al., 2023, p. 7"
    assert current["LISTHL22"].comment == "评论：这很重要"
    assert current["HEADHL22"].text == "A highlight in a heading"
    assert current["C2LRMARK"].text == "Colour-marked highlight"
    assert current["C2LRMARK"].comment == "mit „Zitat“ und «guillemets»"


def test_group_library(current: dict[str, Annotation]) -> None:
    a = current["GRPHL234"]
    assert a.source.library.group == "12345" and a.source.key == "GRPITEM2"
    assert a.zotero_link.startswith("zotero://open-pdf/groups/12345/items/GRPATT22?page=11")


def test_old_schema_and_standalone_pdf(current: dict[str, Annotation]) -> None:
    old = by_text(current, "Old schema highlight")
    assert not old.keyed and old.color is None
    assert old.zotero_link == "zotero://open-pdf/library/items/KB2C5XMW?page=12"
    standalone = current["STANDAL2"]
    assert standalone.citation == "" and standalone.source.key == "STANDATT"


def test_rich_text_marks_in_comments(current: dict[str, Annotation]) -> None:
    a = by_text(current, "Sticky note with")
    assert a.comment == "Sticky note with x<sub>2</sub> and <u>underlined</u> words"


def test_manual_citations_are_not_annotations(current: dict[str, Annotation]) -> None:
    assert not [a for a in current.values() if "manual paragraph" in a.comment]
    assert len(current) == 15


def test_headerless_and_legacy_header(tmp_path: Path) -> None:
    text = (BN / "current.md").read_text()
    body = text.split("\n---\n", 1)[1]
    (tmp_path / "none.md").write_text(body)
    (tmp_path / "legacy.md").write_text(
        text.replace("$version", "version")
        .replace("$libraryID", "libraryID")
        .replace("$itemKey", "itemKey")
    )
    with_image(tmp_path)
    none = read_file(tmp_path / "none.md", tmp_path)
    legacy = read_file(tmp_path / "legacy.md", tmp_path)
    assert {a.key for a in none.annotations} == {a.key for a in legacy.annotations}
    assert len(none.annotations) == 15
    # Without the header the title comes from the citation.
    assert none.annotations[0].source.title in {"Zhao et al., 2023", "Thorpe 等, 2021", "STANDATT"}


def test_old_better_notes_links_and_root_relative_images(tmp_path: Path) -> None:
    text = (BN / "current.md").read_text()
    text = text.replace("zotero://open/", "zotero://open-pdf/").replace(
        " | 667](attachments/QGZ7JHTT.png)", "](/attachments/QGZ7JHTT.png)"
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "old.md").write_text(text)
    with_image(tmp_path)
    read = read_file(sub / "old.md", tmp_path)
    image = {a.key: a for a in read.annotations}["QGZ7JHT2"]
    assert image.image == (tmp_path / "attachments" / "QGZ7JHTT.png").resolve()
    assert read.errors == ()


def test_image_outside_the_export_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"secret")
    export = tmp_path / "export"
    export.mkdir()
    text = (
        (BN / "current.md")
        .read_text()
        .replace("](attachments/QGZ7JHTT.png)", "](../secret.png)")
        .replace('src="attachments/QGZ7JHTT.png"', 'src="../secret.png"')
    )
    (export / "evil.md").write_text(text)
    read = read_file(export / "evil.md", export)
    assert {a.key: a for a in read.annotations}["QGZ7JHT2"].image is None
    assert [e.line for e in read.errors if "image file not found" in e.message] == [30]


def test_broken_annotation_json_is_one_error_with_its_line(tmp_path: Path) -> None:
    with_image(tmp_path)
    text = (
        (BN / "current.md")
        .read_text()
        .replace("%7B%22attachmentURI%22%3A", "%7B%22attachmentURI%22%3", 1)
    )
    (tmp_path / "broken.md").write_text(text)
    read = read_file(tmp_path / "broken.md", tmp_path)
    assert [(e.line, "not valid JSON" in e.message) for e in read.errors] == [(14, True)]
    assert "RC4HW3AF" not in {a.key for a in read.annotations}
    assert "N2CMT2A1" in {a.key for a in read.annotations}


def test_truncated_span_and_invalid_utf8(tmp_path: Path) -> None:
    with_image(tmp_path)
    text = (BN / "current.md").read_text()
    cut = text.index('annotation=N2CMT2A1"') - 40
    (tmp_path / "cut.md").write_bytes(text[:cut].encode() + b"\n")
    (tmp_path / "bad.md").write_bytes(text.encode().replace(b"This is my", b"This \xff my"))
    cut_read = read_file(tmp_path / "cut.md", tmp_path)
    assert [e.line for e in cut_read.errors] == [16]
    assert {a.key for a in cut_read.annotations} == {"RC4HW3AF"}
    bad = read_file(tmp_path / "bad.md", tmp_path)
    assert [e.line for e in bad.errors] == [14]
    assert "RC4HW3AF" in {a.key for a in bad.annotations}


def test_bad_yaml_header_is_reported_and_the_body_still_read(tmp_path: Path) -> None:
    with_image(tmp_path)
    text = (BN / "current.md").read_text().replace("tags: []", "tags: [unclosed", 1)
    (tmp_path / "yaml.md").write_text(text)
    read = read_file(tmp_path / "yaml.md", tmp_path)
    assert len(read.errors) == 1 and read.errors[0].line is not None
    assert "YAML" in read.errors[0].message
    assert len(read.annotations) == 15


def test_same_annotation_in_two_files_is_one(tmp_path: Path) -> None:
    text = (BN / "current.md").read_text()
    (tmp_path / "a.md").write_text(text)
    (tmp_path / "b.md").write_text(text.replace("%22color%22%3A%22%23ffd400%22%2C", "", 1))
    with_image(tmp_path)
    read = read_folder(tmp_path)
    keys = [a.key for a in read.annotations]
    assert len(keys) == len(set(keys)) == 15
    assert {a.key: a for a in read.annotations}["RC4HW3AF"].color == "#ffd400"


def test_hidden_and_temporary_files_are_skipped(tmp_path: Path) -> None:
    text = (BN / "current.md").read_text()
    (tmp_path / "x.md.tmp").write_text(text)
    (tmp_path / ".hidden.md").write_text(text)
    assert read_folder(tmp_path).annotations == ()


@given(st.text())
def test_reader_never_raises(text: str) -> None:
    better_notes.read_text(text, Path("/x/f.md"), Path("/x"))


fragments = st.sampled_from(
    [
        '<span class="highlight" data-annotation="',
        '" ztype="zhighlight">',
        '<span class="citation" data-citation="%7B%22citationItems%22%3A%5B%5D%7D" ztype="zcitation">',
        "</span>",
        "<span>",
        '![\\<img data-annotation="%7B%7D" ztype="zimage">](',
        "%7B%22annotationKey%22%3A%22K%22%7D",
        "\n\n",
        "\\\n",
        "---\n",
        "> ",
        "“",
        "”",
        "(",
        ")",
    ]
)


@given(st.lists(st.one_of(fragments, st.text(max_size=5))).map("".join))
def test_reader_never_raises_on_near_misses(text: str) -> None:
    _, errors = better_notes.read_text(text, Path("/x/f.md"), Path("/x"))
    for error in errors:
        assert error.line is None or error.line >= 1
