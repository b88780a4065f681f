"""Papers' titles from what export files say (export/titles.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsync.export import titles


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
