"""Obsidian's conventions, checked on the vault a whole sync writes.

- Note names hold nothing that breaks a wikilink (``[ ] # ^ |``) or a path on some
  system (``\\ / : * ? " < >``).
- Properties have the types Obsidian gives them: ``tags`` a list, ``page`` and the keys
  text, ``source`` a wikilink in quotes; no plain value reads as a number, a date, a
  boolean or null, neither to PyYAML (YAML 1.1) nor to a YAML 1.2 reader as Obsidian's.
- Obsidian resolves ``[[name]]`` by file name, case-insensitively, anywhere in the vault:
  every link obsync writes names exactly one note, the right one, also when two papers
  share a title.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from obsync.settings.config import resolve as resolve_settings
from obsync.sync import run_sync

from .formats import Ann, better_notes
from .helpers import age, sync_json

LINK_BREAKERS = set("[]#^|")
PATH_BREAKERS = set('\\/:*?"<>')
WIKILINK = re.compile(r"\[\[([^\]]*)\]\]")
# YAML 1.2 core schema: plain scalars that are not strings (Obsidian reads YAML 1.2).
YAML12_NOT_TEXT = re.compile(
    r"null|Null|NULL|~|true|True|TRUE|false|False|FALSE"
    r"|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN"
)
ANNOTATION_TEXT = ("annotation-key", "annotation-type", "source", "page", "zotero", "citation")
SOURCE_TEXT = ("item-key", "title", "citation", "zotero")


def write(export: Path, name: str, anns: list[Ann], title: str, note_key: str) -> None:
    (export / name).write_text(better_notes(anns, title=title, note_key=note_key), "utf-8")


def frontmatter(path: Path) -> tuple[str, dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    head = text[4 : text.index("\n---\n", 3) + 1]
    values = yaml.safe_load(head)
    assert isinstance(values, dict), path
    return head, values


def notes(vault: Path) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """The vault's notes, by kind: "annotation", "source" or "other"."""
    found: dict[str, list[tuple[Path, dict[str, Any]]]] = defaultdict(list)
    for path in sorted(vault.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        values = frontmatter(path)[1] if text.startswith("---\n") else {}
        kind = (
            "annotation"
            if "annotation-key" in values
            else "source"
            if "item-key" in values
            else "other"
        )
        found[kind].append((path, values))
    return found


def resolve(vault: Path, link: str) -> Path:
    """The one note ``[[link]]`` opens: by file name, case-insensitively, vault-wide."""
    target = link.split("|", 1)[0]
    assert not set(target) & {"#", "^"}, f"[[{link}]] points into a note, not at one"
    candidates = [p for p in vault.rglob("*.md") if p.stem.casefold() == target.casefold()]
    assert len(candidates) == 1, f"[[{link}]] names {len(candidates)} notes: {candidates}"
    return candidates[0]


def links(path: Path) -> list[str]:
    """The wikilinks in a note's body (the ``source`` property is checked on its own)."""
    text = path.read_text(encoding="utf-8")
    return WIKILINK.findall(text[text.index("\n---\n", 3) + 5 :])


def paper(n: int, parent: str, *, pages: int = 2) -> list[Ann]:
    return [
        Ann(
            f"{parent[:4]}AN{i}{n}",
            text=f"Text {i} of paper {parent}",
            page=str(i + 1),
            parent=parent,
        )
        for i in range(pages)
    ]


# -- names ----------------------------------------------------------------------------

HOSTILE_TITLES = [
    "Attention [Is] All # You ^ Need | Now",
    'C:\\Windows/System32*?"<>: a study',
    "[[Embedded link]] and #tag",
    "Réseaux de neurones: une synthèse",
    "  .hidden leading dots...  ",
    "CON",
    "Percent %% comment %%",
    "Back`tick` title",
    "x" * 300,
    "|#^[]",
]


def test_note_names_hold_nothing_that_breaks_a_link_or_a_path(
    capsys: pytest.CaptureFixture[str], export_dir: Path, vault: Path
) -> None:
    for n, title in enumerate(HOSTILE_TITLES):
        parent = f"ITM{n:02d}XYZ"
        write(export_dir, f"paper-{n}.md", paper(n, parent), title, f"NOTE{n:02d}ZZ")
    result = sync_json(capsys, export_dir, vault)
    assert result["sources"]["created"] == len(HOSTILE_TITLES)
    assert result["errors"] == []
    for path in vault.rglob("*"):
        name = path.stem if path.suffix == ".md" else path.name
        assert not set(name) & (LINK_BREAKERS | PATH_BREAKERS), path
        assert "%%" not in name and "`" not in name, path
        assert not name.startswith(".") and not name.endswith((" ", ".")), path
        assert name == name.strip() and unicodedata.is_normalized("NFC", name), path
    found = notes(vault)
    assert len(found["source"]) == len(HOSTILE_TITLES)
    stems = {p.stem.casefold() for p, _ in found["source"]}
    assert len(stems) == len(HOSTILE_TITLES)
    # The title itself is kept, whole, as a property.
    assert {v["title"] for _, v in found["source"]} == {t.strip() for t in HOSTILE_TITLES}
    for path, values in found["annotation"] + found["source"]:
        for link in links(path) + WIKILINK.findall(values.get("source", "")):
            resolve(vault, link)


# -- properties -----------------------------------------------------------------------


def plain_scalars(head: str) -> list[str]:
    """Every plain (unquoted) scalar value in a frontmatter block."""
    node = yaml.compose(head)
    assert isinstance(node, yaml.MappingNode)
    plain = []
    for _key, value in node.value:
        values = value.value if isinstance(value, yaml.SequenceNode) else [value]
        plain += [v.value for v in values if isinstance(v, yaml.ScalarNode) and v.style is None]
    return plain


def test_properties_have_the_types_obsidian_expects(
    capsys: pytest.CaptureFixture[str], export_dir: Path, vault: Path
) -> None:
    """Keys, pages and titles that look like numbers, dates, booleans or null stay text."""
    anns = [
        Ann("22222222", text="all digits key", page="12", parent="23456789"),
        Ann("2E222222", text="a key that reads as a float", page="1e5", parent="23456789"),
        Ann("NULL2345", text="a key that starts like null", page="iv", parent="23456789"),
        Ann("TRUE2345", text="EPUB", epub_cfi="epubcfi(/6/4!/4/2,/1:0,/1:9)", parent="23456789"),
        Ann(None, kind="note", comment="a sticky note", color=None, page="0x1F", parent="23456789"),
        Ann("IMAGE234", kind="image", comment="an image", page="2024-01-02", parent="23456789"),
    ]
    write(export_dir, "numbers.md", anns, "2024", "NOTE2345")
    write(export_dir, "true.md", [Ann("YES23456", text="t", parent="34567892")], "true", "NOTE3456")
    write(export_dir, "null.md", [Ann("NO234567", text="n", parent="45678923")], "null", "NOTE4567")
    write(export_dir, "date.md", [Ann("ON234567", text="d", parent="56789234")], "2001-12-14", "NOTE5678")  # fmt: skip
    (export_dir / "attachments").mkdir()
    (export_dir / "attachments" / "QGZ7JHTT.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    sync_json(capsys, export_dir, vault)
    # One annotation gone from its export: its note says so, as text too.
    write(export_dir, "true.md", [Ann("YES23456", text="t", parent="34567892"), Ann("OFF23456", text="o", parent="34567892")], "true", "NOTE3456")  # fmt: skip
    sync_json(capsys, export_dir, vault)
    write(export_dir, "true.md", [Ann("YES23456", text="t", parent="34567892")], "true", "NOTE3456")
    sync_json(capsys, export_dir, vault)

    found = notes(vault)
    assert len(found["annotation"]) == len(anns) + 4
    assert len(found["source"]) == 4
    for path, values in found["annotation"]:
        head, _ = frontmatter(path)
        for key in ANNOTATION_TEXT:
            assert isinstance(values[key], str), (path, key, values[key])
        assert isinstance(values.get("color", ""), str), path
        assert isinstance(values.get("annotation-status", ""), str), path
        assert isinstance(values["tags"], list), path
        assert all(isinstance(tag, str) for tag in values["tags"]), path
        assert re.fullmatch(r"\[\[[^\[\]|#^]+\]\]", values["source"]), path
        assert re.search(r'^source: "\[\[[^"]+\]\]"$', head, re.M), head  # a link, quoted
        assert not [v for v in plain_scalars(head) if YAML12_NOT_TEXT.fullmatch(v)], head
    keys = {values["annotation-key"] for _, values in found["annotation"]}
    assert {"22222222", "2E222222", "NULL2345", "TRUE2345", "IMAGE234"} <= keys
    pages = {values["page"] for _, values in found["annotation"]}
    assert {"12", "1e5", "iv", "0x1F", "2024-01-02", ""} <= pages
    removed = [v for _, v in found["annotation"] if v.get("annotation-status") == "removed"]
    assert [v["annotation-key"] for v in removed] == ["OFF23456"]
    for path, values in found["source"]:
        head, _ = frontmatter(path)
        for key in SOURCE_TEXT:
            assert isinstance(values[key], str), (path, key, values[key])
        assert isinstance(values["tags"], list), path
        assert not [v for v in plain_scalars(head) if YAML12_NOT_TEXT.fullmatch(v)], head
    assert {v["title"] for _, v in found["source"]} == {"2024", "true", "null", "2001-12-14"}
    assert {v["item-key"] for _, v in found["source"]} == {
        "23456789",
        "34567892",
        "45678923",
        "56789234",
    }


# -- papers that share a title --------------------------------------------------------


def assert_links_resolve_to_their_own_paper(vault: Path) -> None:
    found = notes(vault)
    sources = {values["item-key"]: path for path, values in found["source"]}
    annotations = {values["annotation-key"]: path for path, values in found["annotation"]}
    paper_of = {}
    for path, values in found["annotation"]:
        source = resolve(vault, values["source"][2:-2])
        assert frontmatter(source)[1]["item-key"] == paper_of_note(path), path
        paper_of[values["annotation-key"]] = frontmatter(source)[1]["item-key"]
        for link in links(path):  # the body's link to the paper, too
            assert resolve(vault, link) == source, (path, link)
    for key, path in sources.items():
        listed = [resolve(vault, link) for link in links(path)]
        assert listed, path
        for target in listed:
            target_key = frontmatter(target)[1].get("annotation-key")
            assert target_key is not None and paper_of[target_key] == key, (path, target)
        assert {p for p in annotations.values() if paper_of_note(p) == key} == set(listed)


def paper_of_note(path: Path) -> str:
    """The paper an annotation note belongs to, by the export it came from, not by names."""
    key = frontmatter(path)[1]["annotation-key"]
    return {a.key: a.parent for a in ALL_ANNS}[key] or ""


SAME_TITLES = [
    ("Deep Learning", "Deep Learning"),
    ("Deep Learning", "deep learning"),
    ("DEEP LEARNING", "deep learning"),
    ("A/B testing", "A:B testing"),
    ("Why? Because", "Why* Because"),
    ("Caf\u00e9 culture", "Cafe\u0301 culture"),  # the same name once in NFC
    ("Title [draft]", "Title #draft"),
]
FIRST = [
    Ann("FIRSTAA2", text="first paper, page one", parent="PAPERAAA"),
    Ann("FIRSTBB2", text="first paper, page two", page="2", parent="PAPERAAA"),
]
SECOND = [
    Ann("SECONDA2", text="second paper, page one", parent="PAPERBBB"),
    Ann("SECONDB2", text="second paper, page two", page="2", parent="PAPERBBB"),
]
THIRD = [Ann("THIRDAA2", text="third paper", parent="PAPERCCC")]
ALL_ANNS = FIRST + SECOND + THIRD


@pytest.mark.parametrize(("first", "second"), SAME_TITLES)
def test_papers_with_one_title_get_notes_of_their_own(
    capsys: pytest.CaptureFixture[str], export_dir: Path, vault: Path, first: str, second: str
) -> None:
    write(export_dir, "first.md", FIRST, first, "NOTEAAAA")
    write(export_dir, "second.md", SECOND, second, "NOTEBBBB")
    result = sync_json(capsys, export_dir, vault)
    assert result["sources"]["created"] == 2
    found = notes(vault)
    assert len({p.stem.casefold() for p, _ in found["source"]}) == 2
    assert_links_resolve_to_their_own_paper(vault)


def test_a_paper_whose_title_another_has_arrives_later(
    capsys: pytest.CaptureFixture[str], export_dir: Path, vault: Path
) -> None:
    """The second paper comes in a later sync: its name is checked against the vault's."""
    write(export_dir, "first.md", FIRST, "Deep Learning", "NOTEAAAA")
    sync_json(capsys, export_dir, vault)
    age(export_dir)
    write(export_dir, "second.md", SECOND, "deep learning", "NOTEBBBB")
    sync_json(capsys, export_dir, vault)
    age(export_dir)
    write(export_dir, "third.md", THIRD, "Deep  Learning", "NOTECCCC")
    sync_json(capsys, export_dir, vault)
    assert len(notes(vault)["source"]) == 3
    assert_links_resolve_to_their_own_paper(vault)
    # Their names stay when the vault is synced again.
    before = sorted(p.relative_to(vault).as_posix() for p in vault.rglob("*.md"))
    sync_json(capsys, export_dir, vault, "--full")
    assert sorted(p.relative_to(vault).as_posix() for p in vault.rglob("*.md")) == before


def test_a_title_that_is_the_name_of_a_note_already_in_the_vault(
    capsys: pytest.CaptureFixture[str], export_dir: Path, vault: Path
) -> None:
    """The user's own note, or an annotation note, named like a paper: links stay unique."""
    (vault / "Reading").mkdir()
    (vault / "Reading" / "deep learning.md").write_text("My own note about the book.\n")
    write(export_dir, "first.md", FIRST, "Deep Learning", "NOTEAAAA")
    write(export_dir, "second.md", SECOND, "FIRSTAA2", "NOTEBBBB")  # another's annotation key
    sync_json(capsys, export_dir, vault)
    assert (vault / "Reading" / "deep learning.md").read_text() == "My own note about the book.\n"
    assert len(notes(vault)["source"]) == 2
    assert_links_resolve_to_their_own_paper(vault)


# Titles made of what collides: case, accents in two spellings, characters a name drops.
TITLES = st.text(alphabet="aAbB é\u0301/:#[]|.", min_size=1, max_size=6)


@settings(max_examples=40)
@given(first=TITLES, second=TITLES, third=TITLES)
def test_any_titles_give_links_that_resolve(first: str, second: str, third: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        export, vault = Path(folder) / "export", Path(folder) / "vault"
        export.mkdir()
        write(export, "first.md", FIRST, first, "NOTEAAAA")
        write(export, "second.md", SECOND, second, "NOTEBBBB")
        write(export, "third.md", THIRD, third, "NOTECCCC")
        config = resolve_settings(config_path=None, export=export, vault=vault)
        report = run_sync(config)
        assert report.exit_code == 0, report.errors
        assert len({p.stem.casefold() for p, _ in notes(vault)["source"]}) == 3
        assert_links_resolve_to_their_own_paper(vault)
