"""Rendering the generated part of notes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from obsync.model import Annotation, AnnotationType, Library, Location, SourceInfo
from obsync.settings.config import DEFAULT_MARKER as MARKER
from obsync.vault import note, render

SOURCE = SourceInfo(
    "7UKARWPR", Library(), "A Survey of Large Language Models", 3, "Zhao et al., 2023"
)


def make(**changes: object) -> Annotation:
    fields: dict[str, object] = {
        "key": "RC4HW3AF",
        "keyed": True,
        "type": AnnotationType.HIGHLIGHT,
        "text": "Since the researchers have found",
        "comment": "This is my comment.",
        "color": "#ffd400",
        "page_label": "1",
        "zotero_link": "zotero://open-pdf/library/items/KB2C5XMW?page=1&annotation=RC4HW3AF",
        "citation": "Zhao et al., 2023, p. 1",
        "source": SOURCE,
        "image": None,
        "location": Location(Path("x.md"), 1),
        "sort_index": "00000|000100|00300",
    }
    fields.update(changes)
    return Annotation(**fields)  # type: ignore[arg-type]


def rendered_text(annotation: Annotation, **kw: object) -> str:
    r = render.annotation_note(
        annotation,
        source_stem="A Survey of Large Language Models",
        image_name=kw.get("image_name"),  # type: ignore[arg-type]
        colors=kw.get("colors", {}),  # type: ignore[arg-type]
        marker=MARKER,
    )
    return note.join(note.render_head(r.properties, r.body), MARKER + "\n")


def test_annotation_note_has_exactly_the_spec_properties() -> None:
    text = rendered_text(make())
    assert text == (
        "---\n"
        "annotation-key: RC4HW3AF\n"
        "annotation-type: highlight\n"
        'source: "[[A Survey of Large Language Models]]"\n'
        'page: "1"\n'
        'order: "00000|000100|00300"\n'
        'color: "#ffd400"\n'
        "tags:\n"
        "  - zotero/yellow\n"
        'zotero: "zotero://open-pdf/library/items/KB2C5XMW?page=1&annotation=RC4HW3AF"\n'
        'citation: "Zhao et al., 2023, p. 1"\n'
        "---\n"
        "> Since the researchers have found\n"
        "\n"
        "This is my comment.\n"
        "\n"
        "[[A Survey of Large Language Models]] · p. 1 · "
        "[Open in Zotero](<zotero://open-pdf/library/items/KB2C5XMW?page=1&annotation=RC4HW3AF>)\n"
        "\n"
        f"{MARKER}\n"
    )


def test_colour_tags_default_and_custom() -> None:
    assert "  - zotero/purple\n" in rendered_text(make(color="#a28ae5"))
    assert "  - zotero/ffec00\n" in rendered_text(make(color="#ffec00"))
    custom = rendered_text(make(), colors={"yellow": ("important", "read/later")})
    assert "  - important\n  - read/later\n" in custom
    no_colour = rendered_text(make(color=None))
    assert "color:" not in no_colour and "tags: []\n" in no_colour


def test_zotero_tags_follow_the_colour_tags_as_valid_obsidian_tags() -> None:
    annotation = make(tags=("to read", "cute", "methods / RCT", "1984", "zotero/yellow", "!!"))
    text = rendered_text(annotation)
    assert 'tags:\n  - zotero/yellow\n  - to-read\n  - cute\n  - methods/RCT\n  - "_1984"\n' in text
    prefixed = render.annotation_note(
        annotation, source_stem="S", image_name=None, colors={}, marker=MARKER,
        tag_prefix="zotero/tag/",
    )  # fmt: skip
    assert prefixed.generated_tags == (
        "zotero/yellow", "zotero/tag/to-read", "zotero/tag/cute", "zotero/tag/methods/RCT",
        "zotero/tag/_1984", "zotero/tag/zotero/yellow",
    )  # fmt: skip


def test_who_made_it_is_a_property_in_a_group_library_only() -> None:
    assert "author:" not in rendered_text(make())
    text = rendered_text(make(author="Ada Lovelace"))
    assert "  - zotero/yellow\nauthor: Ada Lovelace\nzotero:" in text


def test_image_is_embedded() -> None:
    text = rendered_text(make(type=AnnotationType.IMAGE, text=""), image_name="RC4HW3AF.png")
    assert "\n![[RC4HW3AF.png]]\n" in text


def test_multiline_text_is_one_quote() -> None:
    text = rendered_text(make(text="line one\n\nline three"))
    assert "> line one\n>\n> line three\n" in text


def test_active_content_is_neutralised() -> None:
    hostile = (
        "<script>alert(1)</script> <% tp.file.title %> %% hidden %%\n"
        "```dataviewjs\ndv.el('b')\n```\n~~~tasks\n~~~\n---\n"
        f"{MARKER}\n&lt;kept&gt; x<sub>2</sub>"
    )
    text = rendered_text(make(comment=hostile, text=hostile))
    assert "<script" not in text and "<%" not in text
    assert "%%" not in text.replace(MARKER, "")
    body = text.split("\n---\n", 1)[1]
    for line in body.splitlines():
        bare = line.lstrip("> ")
        assert not bare.startswith(("```", "~~~")) and bare.strip() != "---", line
    assert "&amp;lt;kept&amp;gt;" in text and "x<sub>2</sub>" in text
    assert isinstance(note.split(text, MARKER), note.Parts)


@given(st.text(), st.text())
def test_generated_part_never_holds_a_marker_line(text: str, comment: str) -> None:
    rendered = rendered_text(make(text=text, comment=comment))
    assert isinstance(note.split(rendered, MARKER), note.Parts)


def entry(key: str, sort: tuple[int, float, float, int, str], **changes: object) -> render.Entry:
    annotation = make(key=key, **changes)
    link = render.entry_link(annotation, key, MARKER)
    return render.Entry(sort, link, annotation.page_label, annotation.color)


def test_literature_note_groups_annotations_by_page_in_page_order() -> None:
    entries = [
        entry("B", (2, 0.0, 0.0, 1, "B"), page_label="3"),
        entry("A", (0, -700.0, 0.0, 1, "A")),
        entry("D", (0, -100.0, 0.0, 1, "D"), color="#ff6666", text="Further down"),
        render.Entry((1 << 30, 0.0, 0.0, 0, "C"), "[[C]]", removed=True),
    ]
    body = render.source_note(SOURCE, entries, marker=MARKER).body
    annotations = body.split("## Annotations\n", 1)[1]
    assert annotations.strip().splitlines() == [
        "### Page 1",
        "",
        "- [[A|Since the researchers have found]] · yellow",
        "- [[D|Further down]] · red",
        "",
        "### Page 3",
        "",
        "- [[B|Since the researchers have found]] · yellow",
        "",
        "### No page",
        "",
        "- ~~[[C]]~~ (removed)",
    ]


def test_literature_note_counts_colours_in_a_mermaid_pie() -> None:
    entries = [
        entry("A", (0, 0.0, 0.0, 1, "A")),
        entry("B", (0, 0.0, 0.0, 2, "B"), color="#ff6666"),
        entry("C", (0, 0.0, 0.0, 3, "C"), color="#ff6666"),
        entry("D", (0, 0.0, 0.0, 4, "D"), color="#123456"),
        entry("E", (0, 0.0, 0.0, 5, "E"), color=None),
        render.Entry((0, 0.0, 0.0, 6, "F"), "[[F]]", "1", "#ffd400", removed=True),
    ]
    body = render.source_note(SOURCE, entries, marker=MARKER).body
    chart = body.split("```mermaid\n", 1)[1].split("```", 1)[0].splitlines()
    assert chart[0].startswith("%%{init: ") and '"pie1": "#ff6666"' in chart[0]
    assert chart[1:] == ["pie showData", '    "red" : 2', '    "123456" : 1', '    "yellow" : 1']


def test_literature_note_without_colours_has_no_chart() -> None:
    body = render.source_note(SOURCE, [], marker=MARKER).body
    assert "mermaid" not in body and "*(no annotations)*" in body


def test_link_label_cannot_break_a_wikilink() -> None:
    assert render.link_label("a [[b]] | c #d ^e\nf") == "a b c d e f"


def test_a_long_link_label_ends_at_a_word() -> None:
    text = "Since the performance of language models improves with scale, we study"
    assert render.link_label(text, 30) == "Since the performance of…"
    assert render.link_label("Since the performance of language", 25) == "Since the performance of…"
    assert render.link_label("长" * 40, 10) == "长" * 9 + "…"  # no spaces: cut where it must
    assert render.link_label("short text", 30) == "short text"


@given(st.text(alphabet=st.sampled_from("ab \n\r&<>`~%![]-=*_$#;x0"), max_size=40) | st.text())
def test_neutralise_takes_its_short_cut_only_where_no_step_would_change_the_text(
    text: str,
) -> None:
    assert render.neutralise(text, MARKER) == render.neutralise_all(text, MARKER)
