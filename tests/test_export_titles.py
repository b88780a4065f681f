"""Papers' titles from what export files say (export/titles.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from obsync.export import titles
from obsync.export.formats import better_notes, note_html
from obsync.model import SourceInfo

from . import formats


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Annotations", ""),
        ("Annotations (3/15/2024, 10:22:13 AM)", ""),
        ("注释 (2024 3 9 21 14 37)", ""),
        ("Notes on the Theory of Computation", "Notes on the Theory of Computation"),
        ("Highlights of Deep Learning", "Highlights of Deep Learning"),
        ("“A Survey of Large Language Models”", "A Survey of Large Language Models"),
        ("2023", ""),
    ],
)
def test_a_title_names_a_paper_unless_it_is_a_notes_own(text: str, title: str) -> None:
    assert titles.usable(text) == title


@pytest.mark.parametrize(
    ("citation", "title"),
    [
        ("Zhao et al., 2023, p. 1", "Zhao et al., 2023"),
        ("Zhao et al., 2023, pp. 5-7", "Zhao et al., 2023"),
        ("Zhao et al., 2023, page 2", "Zhao et al., 2023"),
        ("Петров и др., 2020, \u0441. 12", "Петров и др., 2020"),
        (
            "“Fundamentals of Computer Graphics, Fourth Edition”, p. 82",
            "Fundamentals of Computer Graphics, Fourth Edition",
        ),
        ("“LinuxC”, p. 51", "LinuxC"),
        ("cite", ""),
    ],
)
def test_a_citation_names_a_paper_without_its_page(citation: str, title: str) -> None:
    assert titles.citation_title(citation) == title


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("A Survey of Large Language Models.md", "A Survey of Large Language Models"),
        ("Annotations-(3-15-2024,-10-22-13-AM)-ABCD2345.md", ""),
        ("GPT-3-reading-AMC78WY7.md", "GPT 3 reading"),
        ("2025-04-02-a-survey-of-large-language-models.md", ""),
        ("操作系统导论.md", "操作系统导论"),
        ("notes.md", ""),
    ],
)
def test_a_file_name_is_a_title_when_a_person_would_write_it_so(name: str, title: str) -> None:
    assert titles.file_name_title(Path(name)) == title


def test_front_matter_dataview_and_references() -> None:
    assert titles.front_matter_title(
        {"aliases": ["", "Language Models are Few-Shot Learners"]}
    ) == ("Language Models are Few-Shot Learners")
    assert titles.text_title("Authors:: Ho\nTitle:: Deep Residual Learning\n") == (
        "Deep Residual Learning"
    )
    apa = "Zhao, W. X., Zhou, K. (2023, November 24). A Survey of Large Language Models. arXiv."
    assert titles.reference_title(apa) == "A Survey of Large Language Models"
    assert titles.heading_title("## Pride and Prejudice") == "Pride and Prejudice"


# -- data-citation's item data ----------------------------------------------------------------
# Zotero's editorInstance.js writes ``data-citation`` with ``citationItems[].itemData`` (CSL-JSON)
# for an item dragged into a note (``_digestItems``) and for annotations dragged into one
# (``serializeAnnotations`` without skipEmbeddingItemData); Better Notes keeps the attribute.

PAPER_URI = formats.USER + "7UKARWPR"


def _data_citation(title: str | None, *, locator: str = "1") -> str:
    item: dict[str, object] = {"uris": [PAPER_URI], "locator": locator}
    if title is not None:
        item["itemData"] = {"id": "8071752/7UKARWPR", "type": "article-journal", "title": title}
    return formats.encode({"citationItems": [item], "properties": {}})


def _bn_highlight(citation: str, *, annotation_title: str | None = None) -> str:
    data = formats.data_annotation(formats.Ann("TITLED01"))
    if annotation_title is not None:  # the annotation's own citationItem with itemData
        item = {"uris": [PAPER_URI], "locator": "1", "itemData": {"title": annotation_title}}
        data = formats.encode(
            {
                "attachmentURI": formats.USER + "KB2C5XMW",
                "annotationKey": "TITLED01",
                "pageLabel": "1",
                "position": {"pageIndex": 0, "rects": [[91.0, 568.6, 543.8, 576.0]]},
                "citationItem": item,
            }
        )
    return (
        f'<span class="highlight" data-annotation="{data}" ztype="zhighlight"><a href="zotero:'
        '//open/library/items/KB2C5XMW?page=1&#x26;annotation=TITLED01">“Some text”</a></span> '
        f'<span class="citation" data-citation="{citation}" ztype="zcitation">(<span class="'
        'citation-item"><a href="zotero://select/library/items/7UKARWPR">Zhao et al., 2023, p. 1'
        "</a></span>)</span> A comment"
    )


def _bn_file(body: str, parent: str = "") -> str:
    return (
        f"---\ntags: []\nparent: '{parent}'\n$version: 1\n$libraryID: 1\n$itemKey: NOTEKEY2\n\n---\n"
        f"# Annotations (3/15/2024, 10:22:13 AM)\n\n{body}\n"
    )


def _source(text: str, name: str = "Annotations-NOTEKEY2.md") -> SourceInfo:
    (annotation,) = better_notes.read_text(text, Path("/x") / name, Path("/x"))[0]
    return annotation.source


def test_a_better_notes_citation_names_its_paper() -> None:
    """The annotation's data has no item data; the citation beside it has: not "Zhao et al."."""
    source = _source(_bn_file(_bn_highlight(_data_citation("A Survey of LLMs"))))
    assert (source.title, source.title_rank) == ("A Survey of LLMs", titles.FROM_CITATION_DATA)


def test_a_citations_title_beats_the_header_but_not_the_annotations_own() -> None:
    citation = _data_citation("A Survey of LLMs")
    header = _bn_file(_bn_highlight(citation), parent="The note's parent item")
    assert _source(header).title == "A Survey of LLMs"
    own = _bn_file(_bn_highlight(citation, annotation_title="A Survey of LLMs (v2)"))
    assert (_source(own).title, _source(own).title_rank) == (
        "A Survey of LLMs (v2)",
        titles.FROM_DATA,
    )


def test_a_citation_of_its_own_names_the_paper_of_the_annotations() -> None:
    """An item dragged into the note: a paragraph holding only its citation (with item data)
    names the paper whose annotations follow; it is no annotation itself."""
    dragged = (
        f'<span class="citation" data-citation="{_data_citation("A Survey of LLMs", locator="")}" '
        'ztype="zcitation">(<span class="citation-item"><a href="zotero://select/library/items/'
        '7UKARWPR">Zhao et al., 2023</a></span>)</span>'
    )
    text = _bn_file(f"{dragged}\n\n{_bn_highlight(_data_citation(None))}")
    assert _source(text, "A-heading-guess-NOTEKEY2.md").title == "A Survey of LLMs"


def test_a_note_html_citation_names_its_paper() -> None:
    html = formats.note_html([formats.Ann("TITLED01", text="Some text")])
    html = re.sub(r'data-citation-items="[^"]*" ', "", html)  # a note without the container
    html = html.replace(formats.data_citation(formats.Ann("TITLED01")), _data_citation("A Survey"))
    (annotation,) = note_html.read_text(html, Path("/x/n.html"), Path("/x"))[0]
    assert annotation.source.title == "A Survey"
    assert annotation.source.title_rank == titles.FROM_CITATION_DATA
