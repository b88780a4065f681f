"""API items -> annotations (obsync/zotero/items.py): what an export of them gives."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from obsync.export.formats.better_notes import read_text
from obsync.model import Annotation, AnnotationType
from obsync.zotero.items import TITLE_FROM_API, convert, origin
from tests.conftest import FIXTURES
from tests.zotero_server import annotation, attachment, paper

USER = "users/8071752"


def _library(*items: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(i["key"]): i for i in items}


def test_the_api_gives_what_the_export_gives_for_the_same_annotation() -> None:
    path = FIXTURES / "better_notes" / "current.md"
    exported, _ = read_text(path.read_text(), path, path.parent)
    from_export = next(a for a in exported if a.key == "RC4HW3AF")
    item = annotation("RC4HW3AF", "KB2C5XMW", text=from_export.text, comment=from_export.comment)
    item["data"]["annotationPosition"] = (
        '{"pageIndex":0,"rects":[[91.093,488.63599999999997,543.877,576.036]]}'
    )
    items = _library(
        paper("7UKARWPR", "A Survey of Large Language Models"), attachment("KB2C5XMW", "7UKARWPR")
    )
    converted = convert(USER, item, items).annotation
    assert converted is not None
    assert converted.source.title_rank == TITLE_FROM_API > from_export.source.title_rank
    same = ("key", "keyed", "type", "text", "comment", "color", "page_label", "zotero_link",
            "citation")  # fmt: skip
    for name in same:
        assert getattr(converted, name) == getattr(from_export, name), name
    # The API holds Zotero's sort index; the export its page, and its place in the file.
    assert from_export.sort_index == "" and converted.sort_index.startswith("00000|")
    assert converted.page_sort == from_export.page_sort == "00000"
    assert converted.source == replace(
        from_export.source, title="A Survey of Large Language Models", title_rank=TITLE_FROM_API
    )
    assert converted.location.file == origin(USER) == Path("zotero:users/8071752")


def test_a_standalone_pdf_is_its_own_paper() -> None:
    items = _library(attachment("PDFALONE", None, title="notes.pdf"))
    converted = convert(USER, annotation("HLONE111", "PDFALONE", page="3"), items).annotation
    assert converted is not None
    assert converted.source.key == "PDFALONE"
    assert converted.source.title == "notes"  # named by its title, not its file name
    assert converted.citation == "“notes”, p. 3"


def test_sticky_notes_image_and_ink() -> None:
    items = _library(paper("P1234567", "T"), attachment("A1234567", "P1234567"))
    note = convert(USER, annotation("N1234567", "A1234567", kind="note", comment="hm"), items)
    assert note.annotation is not None and note.annotation.type is AnnotationType.NOTE
    assert note.annotation.text == "" and note.annotation.comment == "hm"
    picture = Path("/pictures/I1234567.png")
    image = convert(USER, annotation("I1234567", "A1234567", kind="image"), items,
                    lambda _lib, _key: picture).annotation  # fmt: skip
    assert image is not None and image.image == picture
    ink = convert(USER, annotation("K1234567", "A1234567", kind="ink"), items).annotation
    assert ink is not None and ink.type is AnnotationType.INK and ink.image is None


def test_trash_and_other_items_give_nothing_and_an_unknown_type_an_error() -> None:
    items = _library(paper("P1234567", "T"), attachment("A1234567", "P1234567"))
    trashed = annotation("T1234567", "A1234567")
    trashed["data"]["deleted"] = 1
    assert convert(USER, trashed, items).annotation is None
    assert convert(USER, items["P1234567"], items).annotation is None
    kept = annotation("K1234567", "A1234567")
    assert convert(USER, kept, items).annotation is not None
    items["P1234567"]["data"]["deleted"] = 1  # the paper in the trash takes its annotations
    assert convert(USER, kept, items).annotation is None
    odd = convert(USER, annotation("O1234567", "A1234567", kind="sparkle"), items)
    assert odd.annotation is None and "'sparkle' is not known" in odd.error


@given(
    text=st.text(max_size=50),
    comment=st.text(max_size=50),
    page=st.text(max_size=5),
    kind=st.sampled_from(["highlight", "underline", "note", "text", "image", "ink", "x"]),
    color=st.one_of(st.just("#ffd400"), st.text(max_size=8)),
)
def test_any_item_converts_or_is_reported_never_raises(
    text: str, comment: str, page: str, kind: str, color: str
) -> None:
    items = _library(paper("P1234567", "T"), attachment("A1234567", "P1234567"))
    item = annotation("H1234567", "A1234567", kind=kind, text=text, comment=comment,
                      page=page, color=color)  # fmt: skip
    converted = convert(USER, item, items)
    assert (converted.annotation is None) == bool(converted.error)


# -- fidelity: what Zotero holds reaches the annotation intact ---------------------------


def _one(item: dict[str, object], library: str = USER) -> Annotation:
    items = _library(paper("P1234567", "T"), attachment("A1234567", "P1234567"))
    converted = convert(library, item, items).annotation
    assert converted is not None
    return converted


def test_highlighted_text_is_plain_text_never_decoded_as_html() -> None:
    # The Web API's annotationText is plain text (only the comment is rich text).
    raw = "Map<String, Integer> counts; if a<b>c then AT&amp;T <br> x"
    assert _one(annotation("T1234567", "A1234567", text=raw)).text == raw


def test_the_comment_keeps_its_rich_text() -> None:
    item = annotation(
        "C1234567", "A1234567", comment="<b>bold</b> and <i>it</i> &amp; x<sub>2</sub>"
    )
    assert _one(item).comment == "**bold** and *it* & x<sub>2</sub>"


def test_zotero_sort_index_is_kept_as_zotero_orders() -> None:
    item = annotation("S1234567", "A1234567")
    item["data"]["annotationSortIndex"] = "00002|001733|00283"
    assert _one(item).sort_index == "00002|001733|00283"
    epub = annotation("E1234567", "A1234567")
    epub["data"]["annotationSortIndex"] = "00012|00000345"  # EPUB: section, offset
    epub["data"]["annotationPosition"] = '{"type":"FragmentSelector","value":"epubcfi(/6/4)"}'
    assert _one(epub).sort_index == "00012|00000345"
    snapshot = annotation("W1234567", "A1234567")
    snapshot["data"]["annotationSortIndex"] = "0000099"  # a web snapshot: offset alone
    assert _one(snapshot).sort_index == "0000099"
    missing = annotation("M1234567", "A1234567", page_index=4)
    del missing["data"]["annotationSortIndex"]
    assert (_one(missing).sort_index, _one(missing).page_sort) == ("", "00004")


def test_annotation_tags_are_read_user_and_automatic() -> None:
    item = annotation("G1234567", "A1234567")
    # The shape of tags on the Web API: the user's (no type or 0) and Zotero's own (1).
    item["data"]["tags"] = [{"tag": "to read"}, {"tag": "cute", "type": 1}, {"tag": " "}]
    assert _one(item).tags == ("to read", "cute")


def test_who_made_it_in_a_group_library() -> None:
    item = annotation("W1234567", "A1234567")
    item["meta"] = {"createdByUser": {"id": 1, "username": "ada", "name": "Ada L."}}
    assert _one(item).author == ""  # the user's own library: always the user
    assert _one(item, "groups/12345").author == "Ada L."
    item["data"]["annotationAuthorName"] = "A. Lovelace"
    assert _one(item, "groups/12345").author == "A. Lovelace"
    item["data"].pop("annotationAuthorName")
    item["meta"] = {"createdByUser": {"id": 1, "username": "ada", "name": ""}}
    assert _one(item, "groups/12345").author == "ada"


def test_an_item_without_a_type_says_so() -> None:
    item = annotation("N1234567", "A1234567")
    del item["data"]["annotationType"]
    items = _library(paper("P1234567", "T"), attachment("A1234567", "P1234567"))
    assert (
        convert(USER, item, items).error == "annotation N1234567: has no annotation type; skipped"
    )
