"""API items -> annotations (obsync/zotero/items.py): what an export of them gives."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from obsync.export.formats.better_notes import read_text
from obsync.model import AnnotationType
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
            "citation", "sort_index")  # fmt: skip
    for name in same:
        assert getattr(converted, name) == getattr(from_export, name), name
    assert converted.source == replace(
        from_export.source, title="A Survey of Large Language Models", title_rank=TITLE_FROM_API
    )
    assert converted.location.file == origin(USER) == Path("zotero:users/8071752")


def test_a_standalone_pdf_is_its_own_paper() -> None:
    items = _library(attachment("PDFALONE", None, title="notes.pdf"))
    converted = convert(USER, annotation("HLONE111", "PDFALONE", page="3"), items).annotation
    assert converted is not None
    assert converted.source.key == "PDFALONE"
    assert converted.source.title == "notes.pdf"
    assert converted.citation == "“notes.pdf”, p. 3"


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
