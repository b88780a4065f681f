"""Rendering the generated part of notes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

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
        comment_links=kw.get("comment_links", True),  # type: ignore[arg-type]
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


# What a link's alias shows for "|", "[" and "]": look-alikes (U+2223, U+FF3B, U+FF3D).
PIPE, L, R = "\u2223", "\uff3b", "\uff3d"


def test_link_label_cannot_break_a_wikilink() -> None:
    assert render.link_label("a [[b]] | c #d ^e\nf") == f"a {L}{L}b{R}{R} {PIPE} c #d ^e f"


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


# -- highlighted text is shown, never run ----------------------------------------------------

# CommonMark as Obsidian extends it with GFM's tables and strikethrough.
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def words(text: str) -> str:
    """Text as a reader sees it: Markdown collapses runs of spaces and line breaks."""
    return " ".join(text.split())


def _rendered(markdown: str) -> _TextOf:
    parser = _TextOf()
    parser.feed(MARKDOWN.render(markdown))
    parser.close()
    return parser


def shown(markdown: str) -> str:
    """What a CommonMark renderer shows of ``markdown``: its HTML's text, in words."""
    return words("".join(_rendered(markdown).parts))


def elements(markdown: str) -> set[str]:
    """The HTML elements ``markdown`` renders as: a quote of plain text is no more than
    ``blockquote`` and ``p``."""
    return _rendered(markdown).tags


def quote_of(rendered: str) -> str:
    """The blockquote a note's body starts with: the highlighted text."""
    body = rendered.split("\n---\n", 1)[1]
    lines = []
    for line in body.split("\n"):
        if not line.startswith(">"):
            break
        lines.append(line)
    return "\n".join(lines)


def quoted(text: str) -> str:
    return quote_of(rendered_text(make(text=text, comment="")))


# Not preceded by an escaping backslash (an even number of them).
_FREE = r"(?:^|(?<=[^\\]))(?:\\\\)*"
# Obsidian's own syntax (no renderer of it exists in Python): none may stand in the source.
OBSIDIAN = {
    "a tag": re.compile(_FREE + r"#[0-9]*[^\s0-9!-,.:-@\[-^`{-~]", re.M),
    "a wikilink or embed": re.compile(_FREE + r"\[\[", re.M),
    "an image or embed": re.compile(r"!\["),
    "a highlight": re.compile(_FREE + "==", re.M),
    "a strikethrough": re.compile(_FREE + "~~", re.M),
    "maths": re.compile(_FREE + r"\$", re.M),
    "a comment": re.compile("%%"),
    "a block id": re.compile(r"\^[A-Za-z0-9-]+[ \t]*$", re.M),
    "a callout": re.compile(r"^>[ \t]*(?:\\\\)*\[!", re.M),
    "a footnote": re.compile(_FREE + r"(?:\[\^|\^\[)", re.M),
    "a Dataview field": re.compile("::"),
}


def obsidian_syntax(markdown: str) -> list[str]:
    return [name for name, pattern in OBSIDIAN.items() if pattern.search(markdown)]


OBSIDIAN_TEXT = st.text(
    alphabet=st.sampled_from("ab1 \n\t\r\\#[]!^%=$*_~<>&;:|`()-+.0123456789xX"), max_size=40
)
LITERAL_TEXT = OBSIDIAN_TEXT | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
)


@given(LITERAL_TEXT)
def test_any_highlight_is_shown_exactly_and_runs_nothing(text: str) -> None:
    quote = quoted(text)
    assert shown(quote) == words(text)
    assert elements(quote) <= {"blockquote", "p"}, quote
    assert obsidian_syntax(quote) == [], quote


@given(LITERAL_TEXT)
def test_literal_takes_its_short_cut_only_where_no_step_would_change_the_text(
    text: str,
) -> None:
    assert render.literal(text, MARKER) == render.literal_all(text, MARKER)


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("the #MeToo movement", r"> the \#MeToo movement"),
        ("#1a and #a1 are tags", r"> \#1a and \#a1 are tags"),
        ("see [[Other note]]", r"> see \[\[Other note]]"),
        ("![[Secret note]] here", r"> !\[\[Secret note]] here"),
        ("[!warning] not a callout", r"> \[!warning] not a callout"),
        ("ends in a block id ^abc123", "> ends in a block id &#94;abc123"),
        ("a footnote[^1] here", r"> a footnote\[^1] here"),
        ("before %% hidden %% after", "> before %&#37; hidden %&#37; after"),
        ("a ==highlight== here", r"> a \=\=highlight\=\= here"),
        ("maths $x^2$ here", r"> maths \$x^2\$ here"),
        ("*stars* and **bold**", r"> \*stars\* and \*\*bold\*\*"),
        ("_under_ and __bold__", r"> \_under\_ and \_\_bold\_\_"),
        ("~~struck~~ out", r"> \~\~struck\~\~ out"),
        ("<b>html</b>", "> &lt;b>html&lt;/b>"),
        ("&amp; stays &amp;", "> &amp;amp; stays &amp;amp;"),
        ("> a quote", r"> \> a quote"),
        ("# a heading", r"> \# a heading"),
        ("- a list", r"> \- a list"),
        ("+ a list", r"> \+ a list"),
        ("* a list", r"> \* a list"),
        ("1. a list", r"> 1\. a list"),
        ("2) a list", r"> 2\) a list"),
        ("a line\n===", "> a line\n> \\=\\=\\="),
        ("a\\*b and \\", r"> a\\\*b and \\"),
        ("back\\slash", "> back\\slash"),
        ("a | b\n--- | ---", "> a \\| b\n> \\--- \\| ---"),
        ("[a link](https://x.example)", r"> [a link\](https://x.example)"),
        ("a `code` span", "> a &#96;code&#96; span"),
        ("Key:: value", "> Key:&#58; value"),
        ("    indented code", "> indented code"),
    ],
)
def test_obsidian_and_markdown_syntax_in_a_highlight_is_escaped(text: str, source: str) -> None:
    quote = quoted(text)
    assert quote == source
    assert shown(quote) == words(text)
    assert elements(quote) <= {"blockquote", "p"}, quote
    assert obsidian_syntax(quote) == []


PROSE = [
    "Since the researchers have found that scaling (in model size) helps, they go on.",
    'It\'s a "quoted" phrase: with a colon; a semicolon, a question? And an exclamation!',
    "Well-known results, e.g. those of Smith et al. (2020), hold - mostly.",
    "Numbers like 3.5 or 1,000 and #123 or C# are not syntax.",
    "A line\nand another line, each starting with a letter.",
    "Ünïcödé, 中文, and emoji 🙂 stay as they are.",
]


@pytest.mark.parametrize("text", PROSE)
def test_plain_prose_is_written_as_before(text: str) -> None:
    assert render.literal(text, MARKER) == text == render.neutralise(text, MARKER)


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9 .,'\"():;?!-]*", fullmatch=True))
def test_prose_punctuation_within_a_line_is_not_escaped(text: str) -> None:
    assume("::" not in text)  # a Dataview inline field (``key:: value``): escaped on purpose
    assert render.literal(text, MARKER) == text


def test_the_page_and_title_are_shown_literally() -> None:
    text = rendered_text(make(page_label="#a1"))
    assert r"· p. \#a1 ·" in text
    source = SourceInfo("K", Library(), "On #tags and [[links]]", 3, "")
    body = render.source_note(source, [], marker=MARKER).body
    assert body.startswith("# On \\#tags and \\[\\[links]]\n")


# -- the comment: the user's own writing ------------------------------------------------------

COMMENT = "See #todo and [[My note]], **bold**, *italic*, x<sub>2</sub>, [a link](https://x.org)"


def test_a_comment_keeps_its_rich_text_and_live_links_by_default() -> None:
    text = rendered_text(make(comment=COMMENT))
    assert f"\n{COMMENT}\n" in text


def test_a_comment_without_live_links_shows_them() -> None:
    text = rendered_text(make(comment=COMMENT), comment_links=False)
    escaped = COMMENT.replace("#todo", r"\#todo").replace("[[My", r"\[\[My")
    assert f"\n{escaped}\n" in text
    comment = text.split("\n\n")[1]
    assert "**bold**" in comment and "[a link](https://x.org)" in comment
    assert obsidian_syntax(comment) == []


def test_a_comment_stays_neutralised_either_way() -> None:
    for links in (True, False):
        comment = render.comment_text("`code` %% x %% ![[e]] <b>", MARKER, links=links)
        assert "`" not in comment and "%%" not in comment and "![" not in comment
        assert "<b>" not in comment
    assert render.comment_text("a \\#b", MARKER, links=False) == "a \\\\\\#b"


# -- the link in the literature note ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("a | b", f"a {PIPE} b"),
        ("see [[x]] here", f"see {L}{L}x{R}{R} here"),
        ("the #MeToo movement ^abc", "the #MeToo movement ^abc"),
        ("a %% b", "a % b"),
    ],
)
def test_a_link_label_shows_the_text_and_keeps_the_link_whole(text: str, label: str) -> None:
    link = render.entry_link(make(text=text), "KEY", MARKER)
    assert link == f"[[KEY|{label}]]"


@given(st.text())
def test_no_text_breaks_a_literature_note_link(text: str) -> None:
    link = render.entry_link(make(text=text), "KEY", MARKER)
    assert re.fullmatch(r"\[\[KEY(?:\|[^\[\]|\n]+)?\]\]", link), link
