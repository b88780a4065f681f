"""Every export's text is decoded exactly once: what obsync reads is what Zotero holds.

Each format escapes text its own way (docs/formats.md): note HTML as Zotero's
``innerHTML`` writes it, Better Notes' raw HTML as hast-util-to-html writes it, its
Markdown as remark-stringify writes it, its ``<u>``/``<sub>``/``<sup>`` not at all (its
handlers write ``"<u>" + toText(node) + "</u>"``), Zotero's Markdown with turndown's and
Zotero's escapes. The files here are built from those writers (tests/formats.py), and the
properties check that text written so reads back as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from obsync.export.formats import better_notes, note_html, zotero_markdown
from obsync.model import Annotation, AnnotationType

from . import formats

ROOT = Path("/nonexistent-export-root")
HIGHLIGHT = formats.Ann("ESCAPES1", text="", page="1")
NOTE = formats.Ann(None, kind="note", page="1", color=None)


def _bn_citation(ann: formats.Ann) -> str:
    """A Better Notes citation span (convert/api.ts processN2MRehypeCitationNodes)."""
    return (
        f'<span class="citation" data-citation="{formats.data_citation(ann)}" ztype="zcitation">'
        '(<span class="citation-item"><a href="zotero://select/library/items/7UKARWPR">'
        "Zhao et al., 2023, p. 1</a></span>)</span>"
    )


def _bn_file(paragraph: str) -> str:
    return f"# Annotations (3/15/2024, 10:22:13 AM)\n\n{paragraph}\n"


def bn_highlight(text: str, comment: str = "") -> str:
    """A highlight as Better Notes writes it: raw HTML (hast-util-to-html escapes), then its
    citation and its comment in Markdown (remark-stringify escapes)."""
    span = (
        f'<span class="highlight" data-annotation="{formats.data_annotation(HIGHLIGHT)}" '
        'ztype="zhighlight"><a href="zotero://open/library/items/KB2C5XMW?page=1&#x26;'
        f'annotation=ESCAPES1">“{formats._hast(text)}”</a></span>'
    )
    tail = f" {formats.remark_text(comment)}" if comment else ""
    return _bn_file(f"{span} {_bn_citation(HIGHLIGHT)}{tail}")


def bn_underline(text: str, *, colours: bool) -> str:
    """An underline Better Notes flattened: with "Show annotation colours" Zotero wraps its
    text in ``<u style=…>``, which Better Notes' ``u`` handler writes as ``<u>`` and the text
    unescaped; without, the text is Markdown (remark-stringify escapes)."""
    quoted = f"<u>“{text}”</u>" if colours else f"“{formats.remark_text(text)}”"
    return _bn_file(f"{quoted} {_bn_citation(HIGHLIGHT)}")


def bn_note(comment_markdown: str) -> str:
    return _bn_file(f"{_bn_citation(NOTE)} {comment_markdown}")


def note_html_highlight(text: str, comment: str = "") -> str:
    """A highlight as Zotero's "Add Note from Annotations" writes it (editorInstance.js)."""
    return formats.note_html([]).replace(
        "\n</div>",
        f'<p><span class="highlight" data-annotation="{formats.data_annotation(HIGHLIGHT)}">'
        f"“{formats.zotero_note_text(text)}”</span> "
        f'<span class="citation" data-citation="{formats.data_citation(HIGHLIGHT)}">'
        '(<span class="citation-item">Zhao et al., 2023, p. 1</span>)</span>'
        f"{' ' + formats.zotero_note_text(comment) if comment else ''}</p>\n</div>",
    )


def zotero_md_highlight(text: str, comment: str = "") -> str:
    """A highlight as Zotero's "Export Note → Markdown" writes it, with links. turndown
    escapes each text node: the quoted highlight is one, the comment (after its space) one."""
    escape = formats._zotero_md_escape
    return (
        f"{escape(f'“{text}”')} ([Zhao et al., 2023, p. 1]"
        "(zotero://select/library/items/7UKARWPR)) ([pdf](zotero://open-pdf/library/items/"
        f"KB2C5XMW?page=1&annotation=ESCAPES1)){escape(' ' + comment) if comment else ''}\n"
    )


def _one(read: tuple[list[Annotation], list[object]]) -> Annotation:
    annotations, errors = read
    assert errors == []
    (found,) = annotations
    return found


def read_bn(text: str) -> Annotation:
    return _one(better_notes.read_text(text, ROOT / "n.md", ROOT))  # type: ignore[arg-type]


def read_html(text: str) -> Annotation:
    return _one(note_html.read_text(text, ROOT / "n.html", ROOT))  # type: ignore[arg-type]


def read_zotero_md(text: str) -> Annotation:
    return _one(zotero_markdown.read_text(text, ROOT / "n.md", ROOT))  # type: ignore[arg-type]


# -- what each format decodes once ------------------------------------------------------------


def test_better_notes_underline_in_colour_is_read_as_written() -> None:
    """``<u>…</u>`` holds Zotero's text as it is: "&amp;" is "&amp;", "<String…>" no tag."""
    a = read_bn(bn_underline("AT&amp;T's Map<String, Integer> & a\\*b", colours=True))
    assert a.type is AnnotationType.UNDERLINE
    assert a.text == "AT&amp;T's Map<String, Integer> & a\\*b"


def test_better_notes_sub_and_sup_in_a_comment_are_read_as_written() -> None:
    a = read_bn(bn_note("x<sub>a&amp;b</sub> and y<sup>\\<T></sup>"))
    assert a.comment == "x<sub>a&amp;b</sub> and y<sup>\\<T></sup>"


def test_a_character_reference_in_better_notes_markdown_is_decoded_once() -> None:
    """CommonMark decodes ``&#x26;amp;`` to "&amp;" (remark writes references for what it
    cannot escape with a backslash); the parser reading the paragraph's raw HTML must not
    decode it a second time."""
    assert read_bn(bn_note("AT&#x26;amp;T &lt;b&gt; &#x20;")).comment == "AT&amp;T <b>"


def test_a_backslash_in_better_notes_raw_html_is_text() -> None:
    """In the highlight's raw HTML "\\" escapes nothing: ``\\&#x26;`` is "\\&", ``\\<i>`` a
    backslash before italics, which the plain text drops (text that stood aside for the
    parser never leaks)."""
    a = read_bn(bn_highlight("C:\\&amp; a\\<b"))
    assert a.text == "C:\\&amp; a\\<b"
    italic = bn_highlight("x").replace("“x”", "“C:\\<i>dir</i>\\*”")
    assert read_bn(italic).text == "C:\\dir\\*"


def test_an_escaped_backslash_before_a_tag_in_better_notes_markdown() -> None:
    """``\\\\<sub>`` is a backslash, then a subscript Better Notes wrote."""
    assert read_bn(bn_note("a\\\\<sub>2</sub>")).comment == "a\\<sub>2</sub>"


def test_a_backslash_in_note_html_is_text() -> None:
    """HTML has no backslash escapes: ``\\<i>`` is a backslash before italics, ``\\&amp;``
    a backslash and "&"."""
    html = note_html_highlight("x").replace("“x”", "“C:\\<i>dir</i> \\&amp;”")
    assert read_html(html).text == "C:\\dir \\&"


# -- properties: text Zotero holds -> the exporter's bytes -> obsync == the text -------------

# Characters every escaping touches, and some that are plain. Quotation marks are left out
# (they are the template's, stripped as a pair), and so is whitespace but single spaces:
# Zotero trims the text and turns every run of whitespace into one space.
_CHARS = st.sampled_from(
    [*"ab Z09<>&;#x/\\*_`[]()~$!:=-+.|{}\"'", "é", "中", "amp;", "lt;", "#x26;"]
)
# Text with <b>, <i>, <sub> or <sup> pairs in it Zotero makes formatting.
_FORMATTING = re.compile(r"<(b|i|sub|sup)>.*</\1>", re.IGNORECASE | re.DOTALL)


def _zotero_text(chars: list[str]) -> str:
    text = " ".join("".join(chars).split())
    assume(text and not _FORMATTING.search(text))
    return text


zotero_texts = st.lists(_CHARS, min_size=1, max_size=24).map(_zotero_text)


@given(zotero_texts, zotero_texts)
def test_better_notes_highlight_and_comment_read_back(text: str, comment: str) -> None:
    a = read_bn(bn_highlight(text, comment))
    assert (a.text, a.comment) == (text, comment)


@given(zotero_texts, st.booleans())
def test_better_notes_underline_reads_back(text: str, colours: bool) -> None:
    assume("</u>" not in text)  # the end of <u>, which Better Notes does not escape
    assume(not text.endswith("\\"))  # a Markdown hard break before the citation
    assert read_bn(bn_underline(text, colours=colours)).text == text


@given(zotero_texts)
def test_better_notes_note_comment_reads_back(comment: str) -> None:
    assert read_bn(bn_note(formats.remark_text(comment))).comment == comment


@given(zotero_texts, zotero_texts)
def test_note_html_highlight_and_comment_read_back(text: str, comment: str) -> None:
    a = read_html(note_html_highlight(text, comment))
    assert (a.text, a.comment) == (text, comment)


# Zotero's Markdown escapes neither "\" nor "_" nor "[" (builds before August 2022 did, and
# obsync undoes those escapes): text with a "\" in it cannot be told from those builds' output.
zotero_md_texts = zotero_texts.filter(lambda t: "\\" not in t)


@given(zotero_md_texts, zotero_md_texts)
def test_zotero_markdown_highlight_and_comment_read_back(text: str, comment: str) -> None:
    a = read_zotero_md(zotero_md_highlight(text, comment))
    assert (a.text, a.comment) == (text, comment)


# -- a highlight's text is plain: the note's formatting is dropped, a literal "*" kept ---------
#
# Zotero holds a highlight's text as plain text; bold, italics, sub- and superscripts and the
# underline's colour mark come from the note (the user's formatting, or "Show annotation
# colours"), and every format's reader drops them, keeping their text.

_PLAIN = "bold it H2O x2 a*b_c"


def test_note_html_highlight_and_underline_arrive_plain() -> None:
    formatted = "“<strong>bold</strong> <em>it</em> H<sub>2</sub>O x<sup>2</sup> a*b_c”"
    html = note_html_highlight("x").replace("“x”", formatted)
    assert read_html(html).text == _PLAIN
    underline = html.replace('class="highlight"', 'class="underline"').replace(
        formatted, f'<u style="text-decoration-color: #5fb236">{formatted}</u>'
    )
    a = read_html(underline)
    assert (a.type, a.text) == (AnnotationType.UNDERLINE, _PLAIN)


def test_zotero_html_export_highlight_arrives_plain() -> None:
    """Zotero's HTML export keeps the classes and the formatting, not the data."""
    html = formats.zotero_html([HIGHLIGHT]).replace(
        '<span class="highlight">“”</span>',
        '<span class="underline"><u style="text-decoration-color: #5fb236">“<b>bold</b> '
        "<i>it</i> H<sub>2</sub>O x<sup>2</sup> a*b_c”</u></span>",
    )
    (a,) = note_html.read_text(html, ROOT / "n.html", ROOT)[0]
    assert (a.type, a.key, a.text) == (AnnotationType.UNDERLINE, "ESCAPES1", _PLAIN)


def test_better_notes_highlight_arrives_plain() -> None:
    """The highlight's raw HTML: formatting tags dropped; "*" there is text."""
    formatted = "“<strong>bold</strong> <em>it</em> H<sub>2</sub>O x<sup>2</sup> <u>a*b_c</u>”"
    assert read_bn(bn_highlight("x").replace("“x”", formatted)).text == _PLAIN


def test_better_notes_flattened_underline_arrives_plain() -> None:
    """Without colour marks the underline is Markdown: remark's ``**``/``*`` are marks, its
    ``\\*`` a "*"; with them it is ``<u>`` around the text as it is, "*" and all."""
    markdown = "“**bold** *it* H<sub>2</sub>O x<sup>2</sup> a\\*b\\_c”"
    a = read_bn(_bn_file(f"{markdown} {_bn_citation(HIGHLIGHT)}"))
    assert (a.type, a.text) == (AnnotationType.UNDERLINE, _PLAIN)
    coloured = read_bn(_bn_file(f"<u>“bold it H2O x2 a*b_c”</u> {_bn_citation(HIGHLIGHT)}"))
    assert (coloured.type, coloured.text) == (AnnotationType.UNDERLINE, _PLAIN)


def test_zotero_markdown_highlight_arrives_plain() -> None:
    """turndown writes bold ``**``, italics ``*``, and sub-, superscript and underline as their
    text; Zotero escapes every "*" of text (``\\*``), and no "_"."""
    text = "“**bold** *it* H2O x2 a\\*b_c”"
    with_links = zotero_md_highlight("x").replace("“x”", text)
    assert read_zotero_md(with_links).text == _PLAIN
    without = f"{text} (Zhao et al., 2023, p. 1)\n"
    assert read_zotero_md(without).text == _PLAIN


def test_zotero_markdown_pasted_into_better_notes_arrives_plain() -> None:
    pasted = zotero_md_highlight("x").replace("“x”", "“**bold** *it* H2O x2 a\\*b_c”")
    a = read_bn(_bn_file(pasted.strip()))
    assert (a.key, a.text) == ("ESCAPES1", _PLAIN)


def test_a_comment_keeps_its_formatting() -> None:
    a = read_html(note_html_highlight("x", "").replace("</span></p>", "</span> <b>yes</b></p>"))
    assert a.comment == "**yes**"


# -- properties: a highlight formatted in the note reads back as its plain text ---------------

_STYLES = st.sampled_from([None, None, "b", "i", "sub", "sup"])
# What turndown escapes at the start of a text node, which obsync undoes only at a line's
# start (a formatted piece starts a text node): kept out of the pieces after the first.
_NODE_START = re.compile(r"#|-|>|\+ |=|\d+\.")


def _styled(text: str, style: str | None) -> tuple[str, str | None]:
    if style is not None:
        text = text.strip()
        assume(text)
    return text, style


pieces = st.lists(st.builds(_styled, zotero_texts, _STYLES), min_size=1, max_size=4)


def _plain(parts: list[tuple[str, str | None]]) -> str:
    text = "".join(piece for piece, _style in parts)
    assume(text == " ".join(text.split()) and not _FORMATTING.search(text))
    return text


def _written(
    parts: list[tuple[str, str | None]], tags: dict[str, str], text: Callable[[str], str]
) -> str:
    out = []
    for piece, style in parts:
        tag = tags.get(style or "", "")
        out.append(f"<{tag}>{text(piece)}</{tag}>" if tag else text(piece))
    return "".join(out)


_EDITOR_TAGS = {"b": "strong", "i": "em", "sub": "sub", "sup": "sup"}


@given(pieces)
def test_note_html_formatted_highlight_reads_back_plain(
    parts: list[tuple[str, str | None]],
) -> None:
    text = _plain(parts)
    written = _written(parts, _EDITOR_TAGS, formats.zotero_note_text)
    assert read_html(note_html_highlight("x").replace("“x”", f"“{written}”")).text == text


@given(pieces)
def test_better_notes_formatted_highlight_reads_back_plain(
    parts: list[tuple[str, str | None]],
) -> None:
    text = _plain(parts)
    written = _written(parts, _EDITOR_TAGS, formats._hast)
    assert read_bn(bn_highlight("x").replace("“x”", f"“{written}”")).text == text


def _remark_piece(piece: str, style: str | None) -> str:
    """remark's strong and emphasis; Better Notes' sub and sup handlers (text as it is)."""
    if style in ("sub", "sup"):
        assume(f"</{style}>" not in piece)
        return f"<{style}>{piece}</{style}>"
    mark = {"b": "**", "i": "*"}.get(style or "", "")
    return f"{mark}{formats.remark_text(piece)}{mark}"


@given(pieces)
def test_better_notes_formatted_underline_reads_back_plain(
    parts: list[tuple[str, str | None]],
) -> None:
    text = _plain(parts)
    assume(not parts[-1][0].endswith("\\"))  # a Markdown hard break before the citation
    written = "".join(_remark_piece(piece, style) for piece, style in parts)
    a = read_bn(_bn_file(f"“{written}” {_bn_citation(HIGHLIGHT)}"))
    assert (a.type, a.text) == (AnnotationType.UNDERLINE, text)


def _turndown_piece(piece: str, style: str | None, first: bool) -> str:
    """turndown as Zotero runs it: each text node escaped, ``**``/``*`` around bold and
    italics, sub- and superscripts as their text."""
    if first and style is None:  # the text node after the opening quotation mark
        return formats._zotero_md_escape(f"“{piece}")[1:]
    assume(not _NODE_START.match(piece))
    mark = {"b": "**", "i": "*"}.get(style or "", "")
    return f"{mark}{formats._zotero_md_escape(piece)}{mark}"


@given(pieces)
def test_zotero_markdown_formatted_highlight_reads_back_plain(
    parts: list[tuple[str, str | None]],
) -> None:
    text = _plain(parts)
    assume("\\" not in text)  # as in zotero_md_texts
    written = "".join(_turndown_piece(p, s, i == 0) for i, (p, s) in enumerate(parts))
    a = read_zotero_md(zotero_md_highlight("x").replace("“x”", f"“{written}”"))
    assert a.text == text
