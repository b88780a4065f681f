"""Hostile export input, end to end through ``obsync sync --json`` on real folders.

Every test first syncs a good export (one paper in Better Notes Markdown) and writes the
user's own text below the marker of its notes. Then a hostile file joins the export folder,
and the good file gains one annotation. Each test checks the promises for bad input:

* bad input is reported in ``errors`` with its file (and line where known), exit code 1;
  input that is only odd is valid: no error, exit code 0;
* the rest of the run goes on: the good file's new annotation is synced;
* nothing in the vault is lost: every note synced before is byte for byte the same, and
  the good paper's literature note keeps its user text;
* nothing active reaches a note, every note has exactly one marker line and frontmatter
  that is valid YAML with the expected types;
* every file written is inside the vault's folders, with a safe name; nothing outside the
  vault and the state folder changes, and a second sync changes nothing.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsync.settings.config import DEFAULT_MARKER

from . import formats as F
from .conftest import FIXTURES
from .helpers import sync_json, time_limit, tree

GOOD = (*F.PAPER,)
GOOD_NEW = F.Ann("GOODNEW2", text="Added to the good export", comment="new", page="9")
ANN_TYPES = {"highlight", "underline", "image", "note", "text", "ink"}
FOLDERS = ("Zotero/Annotations/", "Zotero/Sources/", "Zotero/Attachments/")
BASE = "Zotero/Annotations.base"  # the one file beside them, written once
RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]|CONIN\$|CONOUT\$)", re.I)
# A Markdown block can start after blockquote and list markers, in any mix.
CONTAINERS = re.compile(r"(?:[ \t]*(?:>|[-+*][ \t]|\d{1,9}[.)][ \t]))*[ \t]*")
# Raw HTML (and Templater's <% %>); obsync's own links are written ](<zotero://…>).
RAW_TAG = re.compile(r"(?<!\]\()<(?!/?(?:sub|sup|u)>|zotero://[^\s<>]*>\))[A-Za-z/!?%]")
INLINE_QUERY = re.compile(r"`[ \t]*\$?=")  # Dataview's `= …` and `$= …`
# Obsidian's syntax that a highlight's quote (lines starting ">") must not hold unescaped.
_FREE = r"(?:^|(?<=[^\\]))(?:\\\\)*"  # after no escaping backslash (an even number)
QUOTED_SYNTAX = {
    "a tag": re.compile(_FREE + r"#[0-9]*[^\s0-9!-,.:-@\[-^`{-~]"),
    "a wikilink": re.compile(_FREE + r"\[\["),
    "a highlight": re.compile(_FREE + "=="),
    "a strikethrough": re.compile(_FREE + "~~"),
    "maths": re.compile(_FREE + r"\$"),
    "a block id": re.compile(r"\^[A-Za-z0-9-]+[ \t]*$"),
    "a callout": re.compile(r"^>[ \t]*\[!"),
    "emphasis": re.compile(_FREE + r"[*]"),
}
OWN_EMBED = re.compile(r"!\[\[([A-Za-z0-9_-]+\.[A-Za-z0-9]+)\]\]")
# A literature note's colour chart, as obsync draws it: only colours (hex) and counts in it.
OWN_CHART = re.compile(
    r'^## Colours\n\n```mermaid\n%%\{init: \{"theme": "base", "themeVariables": \{'
    r'"pie1": "#[0-9a-f]{6}"(?:, "pie\d+": "#[0-9a-f]{6}")*\}\}\}%%\n'
    r'pie showData\n(?:    "[a-z0-9]+" : \d+\n)+```\n',
    re.M,
)

# A paper of the hostile file's own, so the good paper's notes have no reason to change.
HOSTILE = F.Ann(
    "HOSTILE2", text="hostile", attachment="HSTLATT3", parent="HSTLPAR2", citation="Evil, 2024"
)


def hostile(key: str | None, **changes: Any) -> F.Ann:
    return replace(HOSTILE, key=key, **changes)


# -- writing exports ---------------------------------------------------------------------

Writer = Callable[[Sequence[F.Ann]], str]
WRITERS: dict[str, tuple[str, Writer]] = {
    "better-notes": ("hostile.md", lambda anns: F.better_notes(anns, note_key="HSTLNOTE")),
    "better-notes-old": ("hostile.md", lambda anns: F.better_notes(anns, old=True)),
    "zotero-md-links": ("hostile.md", F.zotero_markdown),
    "zotero-md-no-links": ("hostile.md", lambda anns: F.zotero_markdown(anns, links=False)),
    "note-html": ("hostile.html", F.note_html),
    "zotero-html": ("hostile.html", F.zotero_html),
}
KEYED = ("better-notes", "zotero-md-links", "note-html")  # formats that carry keys and data


def line_of(text: str, needle: str, *, last: bool = False) -> int:
    return text[: text.rindex(needle) if last else text.index(needle)].count("\n") + 1


# -- the world every test starts from --------------------------------------------------


@dataclass
class World:
    tmp: Path
    export: Path
    vault: Path
    home: Path
    state: Path
    capsys: pytest.CaptureFixture[str]
    marker: str = DEFAULT_MARKER
    config: Path | None = None
    before: dict[str, bytes] | None = None  # every vault file the hostile run must keep
    good: frozenset[str] = frozenset()  # the good paper's files

    @property
    def extra(self) -> tuple[str, ...]:
        return ("--config", str(self.config)) if self.config else ()

    def sync(self, code: int) -> dict[str, Any]:
        return sync_json(self.capsys, self.export, self.vault, *self.extra, code=code)

    def outside(self) -> dict[str, tuple[bytes, int]]:
        """Every file in the test's folders that is neither in the vault nor obsync's state."""
        files: dict[str, tuple[bytes, int]] = {}
        for root in (self.tmp, self.home):
            for path in sorted(root.rglob("*")):
                if path.is_symlink() or not path.is_file():
                    continue
                if path.is_relative_to(self.vault) or path.is_relative_to(self.state):
                    continue
                files[str(path)] = (path.read_bytes(), path.stat().st_mtime_ns)
        return files


GOOD_SOURCE = "Zotero/Sources/A Survey of Large Language Models.md"
GOOD_NEW_PATH = f"Zotero/Annotations/A Survey of Large Language Models/{GOOD_NEW.key}.md"
USER_TEXT = "\nMy own thinking, which must survive: %% not a comment of obsync's %%\n"


@pytest.fixture
def world(
    tmp_path: Path, export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> World:
    home, state = Path(os.environ["HOME"]), Path(os.environ["XDG_STATE_HOME"])
    return World(tmp_path, export_dir, vault, home, state, capsys)


def start(w: World, marker: str = DEFAULT_MARKER) -> None:
    """Sync the good export, then write the user's text below the marker of every note."""
    if marker != DEFAULT_MARKER:
        w.marker = marker
        w.config = w.tmp / "config.toml"
        w.config.write_text(f"[notes]\nmarker = {json.dumps(marker)}\n")
    (w.export / "good.md").write_text(F.better_notes(GOOD))
    (w.export / "attachments").mkdir()
    shutil.copy(
        FIXTURES / "better_notes/attachments/QGZ7JHTT.png", w.export / "attachments/QGZ7JHTT.png"
    )
    result = w.sync(0)
    assert result["annotations"]["created"] == len(GOOD) and not result["errors"]
    for path in w.vault.rglob("*.md"):
        path.write_bytes(path.read_bytes() + USER_TEXT.encode())
    w.before = {name: data for name, (data, _mtime) in tree(w.vault).items()}
    w.good = frozenset([*w.before, GOOD_NEW_PATH])
    # The good file gains an annotation: the hostile run has to sync it.
    (w.export / "good.md").write_text(F.better_notes([*GOOD, GOOD_NEW]))


def run(w: World, files: dict[str, bytes | str], *, code: int) -> dict[str, Any]:
    """Add the hostile files, sync, and check every promise that holds for any input."""
    assert w.before is not None, "start(world) first"
    for name, data in files.items():
        path = w.export / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    outside = w.outside()
    result = w.sync(code)
    assert w.outside() == outside, "a file outside the vault changed"
    for error in result["errors"]:
        assert Path(error["file"]).name != "good.md", error
        assert error["message"] and "\n" not in error["message"], error
    check_vault(w)
    check_nothing_lost(w)
    # Once more: nothing changes, and the same problems are reported.
    after = tree(w.vault)
    again = w.sync(code)
    assert tree(w.vault) == after
    assert again["errors"] == result["errors"]
    return result


def errors_in(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in result["errors"] if Path(e["file"]).name == name]


def assert_error(
    result: dict[str, Any], name: str, words: str, line: int | str | None = "any"
) -> None:
    """An error names the file (and the line, when given) and says ``words``."""
    found = errors_in(result, name)
    matching = [e for e in found if words in e["message"]]
    assert matching, f"no error saying {words!r} for {name}: {result['errors']}"
    if line != "any":
        assert any(e["line"] == line for e in matching), matching
    for error in found:
        assert Path(error["file"]).is_absolute()
        assert error["line"] is None or (isinstance(error["line"], int) and error["line"] >= 1)


def check_nothing_lost(w: World) -> None:
    assert w.before is not None
    now = {name: data for name, (data, _mtime) in tree(w.vault).items()}
    for name, data in w.before.items():
        assert name in now, f"{name} is gone"
        if name == GOOD_SOURCE:  # lists the good file's new annotation now
            assert now[name].endswith((w.marker + "\n" + USER_TEXT).encode())
            assert b"[[GOODNEW2|" in now[name]
        else:
            assert now[name] == data, f"{name} changed"
    assert GOOD_NEW_PATH in now, "the good file's new annotation was not synced"


# -- what every note must be -------------------------------------------------------------


@dataclass
class Note:
    path: str
    properties: dict[str, Any]
    body: str  # between the frontmatter and the marker line
    text: str


def safe_name(part: str) -> bool:
    bare = part.removesuffix(".md")
    # obsync's convention for device names is a "_" at the end ("CON_", "nul.txt_").
    device = RESERVED.fullmatch(bare.split(".")[0].rstrip(" ")) and not bare.endswith("_")
    return (
        bool(part)
        and part not in {".", ".."}
        and not part.startswith(".")
        and unicodedata.is_normalized("NFC", part)
        and not any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for c in part)
        and not set(part) & set('/\\:*?"<>|[]#^`')
        and "%%" not in part
        and not device
        and len(part.encode()) <= 255
    )


def active_content(body: str, attachments: set[str]) -> list[str]:
    """What in a note's generated body Obsidian or a plugin would act on."""
    found = []
    body = OWN_CHART.sub("", body, count=1)
    if "\r" in body:
        found.append("a carriage return (a line break to Markdown)")
    if "%%" in body:
        found.append("%% (an Obsidian comment)")
    if RAW_TAG.search(body):
        found.append(f"raw HTML or Templater: {RAW_TAG.search(body)}")
    if INLINE_QUERY.search(body):
        found.append("an inline Dataview query")
    for match in re.finditer(r"!\[", body):
        own = OWN_EMBED.match(body, match.start())
        if own is None or own.group(1) not in attachments:
            found.append(f"an embed: {body[match.start() : match.start() + 40]!r}")
    for line in body.split("\n"):
        if line.startswith(">"):
            found += [f"{name}: {line!r}" for name, p in QUOTED_SYNTAX.items() if p.search(line)]
        bare = CONTAINERS.sub("", line, count=1)
        if bare.startswith(("```", "~~~")):
            found.append(f"a code fence: {line!r}")
        if re.fullmatch(r"[ \t]*-{3,}[ \t]*", line):
            found.append(f"a --- line: {line!r}")
    return found


def check_vault(w: World) -> list[Note]:
    """Every file is in obsync's folders with a safe name; every note is well formed."""
    attachments = {p.name for p in (w.vault / "Zotero/Attachments").glob("*")}
    notes = []
    for path in sorted(w.vault.rglob("*")):
        relative = path.relative_to(w.vault).as_posix()
        assert not path.is_symlink()
        if path.is_dir():
            continue
        assert relative.startswith(FOLDERS) or relative == BASE, relative
        assert all(safe_name(part) for part in relative.split("/")), relative
        if path.suffix != ".md":
            continue
        text = path.read_bytes().decode("utf-8")
        lines = text.split("\n")
        markers = [i for i, line in enumerate(lines) if line.strip() == w.marker]
        assert len(markers) == 1, f"{relative}: {len(markers)} marker lines"
        head = "\n".join(lines[: markers[0]])
        assert head.startswith("---\n"), relative
        end = head.index("\n---\n", 3)
        properties = yaml.safe_load(head[4 : end + 1])
        assert isinstance(properties, dict), relative
        body = head[end + 5 :]
        problems = active_content(body, attachments)  # properties are YAML, not Markdown
        assert not problems, f"{relative}: {problems}\n{text}"
        if relative.startswith("Zotero/Annotations/"):
            check_annotation_properties(properties, relative)
        else:
            check_source_properties(properties, relative)
        notes.append(Note(relative, properties, body, text))
    return notes


def check_annotation_properties(p: dict[str, Any], where: str) -> None:
    assert isinstance(p["annotation-key"], str), where
    assert re.fullmatch(r"[A-Za-z0-9_-]+", p["annotation-key"]), where
    assert Path(where).stem.startswith(p["annotation-key"]), where
    assert p["annotation-type"] in ANN_TYPES, where
    assert isinstance(p["source"], str) and re.fullmatch(r"\[\[[^\[\]|#^]+\]\]", p["source"])
    assert isinstance(p["page"], str), where
    if "color" in p:
        assert isinstance(p["color"], str) and re.fullmatch(r"#[0-9a-f]{6}", p["color"]), where
    assert isinstance(p["tags"], list) and all(isinstance(t, str) for t in p["tags"]), where
    assert isinstance(p["zotero"], str), where
    assert p["zotero"] == "" or p["zotero"].startswith("zotero://"), where
    assert not re.search(r"[\s<>]", p["zotero"]), where
    assert isinstance(p["citation"], str), where
    assert set(p) <= {
        "annotation-key", "annotation-type", "source", "page", "order", "color", "tags",
        "author", "zotero", "citation", "annotation-status", "obsync",
    }, where  # fmt: skip


def check_source_properties(p: dict[str, Any], where: str) -> None:
    assert isinstance(p["item-key"], str) and re.fullmatch(r"[A-Za-z0-9_-]+", p["item-key"])
    for key in ("title", "citation", "zotero"):
        assert isinstance(p[key], str), (where, key)
    assert not re.search(r"[\s<>]", p["zotero"]), where
    assert p["tags"] == ["zotero/source"], where


def hostile_notes(w: World) -> list[Note]:
    """The notes of the hostile file: everything but the good paper's."""
    return [n for n in check_vault(w) if n.path not in w.good]


# -- the tests -----------------------------------------------------------------------------


PATH_KEYS = ["../../x", "a/b", "..", "CON", "nul", "x\ny", "%2e%2e"]


@pytest.mark.parametrize("fmt", KEYED)
def test_annotation_keys_with_path_parts(world: World, fmt: str) -> None:
    """Keys are not file names: a bad one is reported, the annotation synced under a stable id."""
    start(world)
    name, write = WRITERS[fmt]
    anns = [hostile(key, text=f"text {i}", page=str(i + 1)) for i, key in enumerate(PATH_KEYS)]
    if fmt == "zotero-md-links":  # a key in a link cannot hold a line break
        anns = [a for a in anns if a.key and "\n" not in a.key]
    text = write(anns)
    result = run(world, {name: text}, code=1)
    bad = [e for e in errors_in(result, name) if "is not a Zotero key" in e["message"]]
    assert len(bad) == len(anns)
    for ann in anns:
        if fmt == "better-notes":  # the line of the highlight's span
            assert_error(result, name, repr(ann.key), line_of(text, f'annotation={ann.key}">'))
        elif fmt == "note-html":  # all on one line, as Zotero writes it
            assert_error(result, name, repr(ann.key), line_of(text, ann.text))
    notes = [n for n in hostile_notes(world) if n.path.startswith("Zotero/Annotations/")]
    assert sorted(n.properties["annotation-key"][:4] for n in notes) == ["obs-"] * len(anns)
    assert {n.body.split("\n")[0] for n in notes} == {f"> {a.text}" for a in anns}


@pytest.mark.parametrize("fmt", ["better-notes", "note-html"])
@pytest.mark.parametrize(
    ("parent", "attachment"),
    [("..", "../../x"), ("a/b", "b/c"), ("CON", "HSTLATT3"), (f"X\n{DEFAULT_MARKER}\nY", "..")],
    ids=["dotdot", "slash", "device", "marker"],
)
def test_item_keys_with_path_parts(world: World, fmt: str, parent: str, attachment: str) -> None:
    """Item and attachment keys name literature notes and go into links: bad ones are refused."""
    start(world)
    name, write = WRITERS[fmt]
    text = write([hostile("PATHITEM", parent=parent, attachment=attachment, text="about items")])
    result = run(world, {name: text}, code=1)
    assert_error(result, name, "is not a Zotero item URI", line_of(text, "about items"))
    (note,) = [n for n in hostile_notes(world) if n.path.startswith("Zotero/Annotations/")]
    assert note.properties["annotation-key"] == "PATHITEM"  # still synced
    for n in hostile_notes(world):
        assert ".." not in n.properties.get("zotero", "")


@pytest.mark.parametrize(
    ("url", "words"),
    [("../secret.png", "image file not found"), ("attachments/x.p%25%25ng", "no usable extension")],
    ids=["outside", "extension"],
)
def test_image_files_that_cannot_be_copied(world: World, url: str, words: str) -> None:
    """An image outside the export is never read; one whose name would break the embed is refused."""
    start(world)
    (world.tmp / "secret.png").write_bytes(b"\x89PNG not for the vault")
    (world.export / "attachments/x.p%%ng").write_bytes(b"\x89PNG not for the vault either")
    text = F.better_notes([hostile("IMAGEOUT", kind="image")])
    text = text.replace("attachments/QGZ7JHTT.png", url)
    result = run(world, {"hostile.md": text}, code=1)
    assert_error(result, "hostile.md", words, line_of(text, "![\\<img"))
    (note,) = [n for n in hostile_notes(world) if "IMAGEOUT" in n.path]
    assert "image not found" in note.body
    for path in (world.vault / "Zotero").rglob("*"):
        assert not path.is_file() or b"not for the vault" not in path.read_bytes()


TITLES = [
    "..",
    "../../etc/passwd",
    "a/b\\c",
    "C:\\Windows\\win.ini",
    "control\x00\x01\x1b[2Jchars\x7f",
    "bidi \u202egnp.exe",
    "CON",
    "nul.txt",
    "com¹",
    "T" * 1000,
    "e\u0301te\u0301 NFD",
    "line\nbreak\r\n---\n%% obsync: write your notes below this line %%",
    "100%% sure `$= dv.el('b', 1)` ![[embed]] <script>x</script>",
    "Paper (obsync conflict)",
    "\ufeff\u2028\u2029\ufffe\uffff",
    "",
]


@pytest.mark.parametrize("title", TITLES, ids=[repr(t[:20]) for t in TITLES])
def test_odd_titles_are_made_safe(world: World, title: str) -> None:
    """A title is valid, however odd: no error; the file name is safe, the property exact."""
    start(world)
    text = note_html_titled([hostile("TITLED22", text="a highlight")], title)
    result = run(world, {"hostile.html": text}, code=0)
    assert not result["errors"]
    notes = hostile_notes(world)
    (source,) = [n for n in notes if n.path.startswith("Zotero/Sources/")]
    (annotation,) = [n for n in notes if n.path.startswith("Zotero/Annotations/")]
    # An empty title is no title: the paper is named by its citation, never by a bare key.
    assert source.properties["title"] == (title.strip() or "Evil, 2024")
    assert annotation.properties["source"] == f"[[{Path(source.path).stem}]]"
    assert len(source.path.encode()) < 200
    assert not Path(source.path).stem.endswith("(obsync conflict)")


def note_html_titled(anns: Sequence[F.Ann], title: str) -> str:
    """Note HTML whose ``data-citation-items`` give the hostile paper's title."""
    text = F.note_html(anns, title=title)
    item = {"uris": [F.USER + "7UKARWPR"], "itemData": {"type": "article", "title": title}}
    ours = {"uris": [F.USER + str(HOSTILE.parent)], "itemData": item["itemData"]}
    assert F.encode([item]) in text
    return text.replace(F.encode([item]), F.encode([ours]))


BN_TITLES = ["..", "../x", "a/b\\c", "CON", "nul.txt", "T" * 1000, "e\u0301te\u0301", "%%x%%"]


@pytest.mark.parametrize("title", BN_TITLES, ids=[t[:12] for t in BN_TITLES])
def test_odd_parents_in_better_notes_headers(world: World, title: str) -> None:
    start(world)
    text = F.better_notes([hostile("TITLED22", text="a highlight")], title=title)
    result = run(world, {"hostile.md": text}, code=0)
    assert not result["errors"]
    (source,) = [n for n in hostile_notes(world) if n.path.startswith("Zotero/Sources/")]
    assert source.properties["title"] == title


@pytest.mark.parametrize("fmt", ["better-notes", "note-html"])
@pytest.mark.parametrize("color", ["red", "#zzz", "javascript:alert(1)", "#ffd400\n---", "#"])
def test_colours_that_are_not_hex(world: World, fmt: str, color: str) -> None:
    start(world)
    name, write = WRITERS[fmt]
    text = write([hostile("COLOUR22", text="coloured", color=color), HOSTILE])
    result = run(world, {name: text}, code=1)
    assert_error(result, name, "is not a hex colour", line_of(text, "coloured"))
    (note,) = [n for n in hostile_notes(world) if "COLOUR22" in n.path]
    assert "color" not in note.properties and note.properties["tags"] == []


PAGES = ["../../x", "a/b", "..", "\\..\\x", "1\n---\n%%", "<script>x</script>", "`$= 1`"]


@pytest.mark.parametrize("fmt", KEYED)
def test_page_labels_with_path_parts(world: World, fmt: str) -> None:
    """A page label is odd but valid: shown as it is, never used as a path."""
    start(world)
    name, write = WRITERS[fmt]
    anns = [hostile(f"PAGE{i:04d}", text=f"page {i}", page=str(i + 1)) for i in range(len(PAGES))]
    text = write(anns)
    for i, page in enumerate(PAGES):
        if fmt == "zotero-md-links":  # the page label is the citation's locator
            if "\n" in page or "`" in page:
                continue
            text = text.replace(f", p. {i + 1}](", f", p. {page}](")
        else:
            text = text.replace(
                f"%22pageLabel%22%3A%22{i + 1}%22", "%22pageLabel%22%3A" + F.encode(page)
            )
    run(world, {name: text}, code=0)
    pages = {
        n.properties["annotation-key"]: n.properties["page"]
        for n in hostile_notes(world)
        if "annotation-key" in n.properties
    }
    for i, page in enumerate(PAGES):
        if fmt == "zotero-md-links" and ("\n" in page or "`" in page):
            continue
        assert pages[f"PAGE{i:04d}"] == page


MARKER_LINE = DEFAULT_MARKER
CUSTOM_MARKER = "## My notes"
COMMENTS = [
    MARKER_LINE,
    CUSTOM_MARKER,
    f"  {MARKER_LINE}  ",
    "before %% hidden by Obsidian %% after",
    "<script>alert(1)</script>",
    '<iframe src="https://evil.example/x"></iframe>',
    "```dataviewjs\ndv.el('b', 'dataviewjs ran')\n```",
    "```tasks\nnot done\n```",
    "~~~dataview\nLIST FROM #secret\n~~~",
    '<% tp.system.exec("rm -rf ~") %>',
    "![[Secret note]] and ![](Other%20note.md)",
    "---\ntitle: injected\n---",
    "{{title}} {{date:YYYY}}",
    "- ```dataviewjs\n  dv.el('b', 'in a list')\n  ```",
    "> ```dataviewjs\n> dv.el('b', 'in a quote')\n> ```",
    "inline `$= dv.el('b', 'inline js')` and `= this.file.name`",
    "carriage\r```dataviewjs\rdv.el('b', 'cr')\r```",
]
SHOWN = [
    "alert(1)",
    "evil.example",
    "not done",
    "rm -rf ~",
    "Secret note",
    "{{title}}",
    "inline js",
]


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [(fmt, DEFAULT_MARKER) for fmt in WRITERS] + [(fmt, CUSTOM_MARKER) for fmt in KEYED],
)
def test_comments_and_highlights_are_shown_not_run(world: World, fmt: str, marker: str) -> None:
    """Export text that would run, hide or forge is valid input: shown, never active."""
    start(world, marker)
    name, write = WRITERS[fmt]
    anns = [
        hostile(f"CMNT{i:04d}", text=f"quote {i}: {c}", comment=c, page=str(i + 1))
        for i, c in enumerate(COMMENTS)
    ]
    result = run(world, {name: write(anns)}, code=0)
    assert not result["errors"]
    notes = [n for n in hostile_notes(world) if n.path.startswith("Zotero/Annotations/")]
    assert len(notes) == len(COMMENTS)
    shown = "\n".join(n.body for n in notes)
    for words in SHOWN:
        assert words in shown


HIGHLIGHTS = [
    "the #MeToo movement and #a1",
    "see [[Other note]] and ![[Embedded]]",
    "[!warning] a callout",
    "a block id ^abc123",
    "==marked== and $x$ maths",
    "*stars* and ~~struck~~",
    "a | b and [[x|y]]",
]


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_obsidian_syntax_in_highlights_is_shown_not_run(world: World, fmt: str) -> None:
    """A highlight's tags, links, callouts, block ids… are its text: shown, never active,
    in its note's quote and in the link to it from its literature note."""
    start(world)
    name, write = WRITERS[fmt]
    anns = [
        hostile(f"OBSD{i:04d}", text=text, comment="mine", page=str(i + 1))
        for i, text in enumerate(HIGHLIGHTS)
    ]
    run(world, {name: write(anns)}, code=0)  # run() checks each quote (active_content)
    notes = hostile_notes(world)
    quotes = [n.body for n in notes if n.path.startswith("Zotero/Annotations/")]
    assert len(quotes) == len(HIGHLIGHTS) and all(q.startswith("> ") for q in quotes)
    (literature,) = [n for n in notes if n.path.startswith("Zotero/Sources/")]
    links = [line for line in literature.body.split("\n") if line.startswith("- ")]
    assert len(links) == len(HIGHLIGHTS)
    for line in links:
        assert re.fullmatch(r"- \[\[[^\[\]|#^]+\|[^\[\]|]+\]\]( · \w+)?", line), line
    assert any("#MeToo" in line for line in links)


@pytest.mark.parametrize(
    ("fmt", "damage", "words"),
    [
        ("better-notes", "broken", "annotation data is not valid JSON"),
        ("better-notes", "deep", "nested too deeply"),
        ("better-notes", "not-object", "annotation data is not a JSON object"),
        ("note-html", "broken", "annotation data is not valid JSON"),
        ("note-html", "deep", "nested too deeply"),
        ("better-notes", "types", "is not a Zotero item URI"),
    ],
)
def test_broken_annotation_json(world: World, fmt: str, damage: str, words: str) -> None:
    start(world)
    name, write = WRITERS[fmt]
    broken = hostile("BROKEN22", text="broken one", page="2")
    text = write([HOSTILE, broken])
    data = F.data_annotation(broken)
    bad = {
        "broken": "%7B" + data,
        "deep": "%5B" * 100_000,
        "not-object": F.encode(["a"]),
        "types": F.encode(
            {
                "attachmentURI": 7,
                "annotationKey": ["x"],
                "pageLabel": {},
                "color": [1],
                "position": "p",
                "citationItem": {"uris": [None, "http://x/items/.."]},
            }
        ),
    }[damage]
    text = text.replace(data, bad)
    with time_limit(30):
        result = run(world, {name: text}, code=1)
    assert_error(result, name, words, line_of(text, "broken one"))
    keys = {n.properties.get("annotation-key") for n in hostile_notes(world)}
    assert HOSTILE.key in keys  # the good annotation of the same file
    if damage != "types":
        assert "BROKEN22" not in keys


def _cut(text: str, needle: str) -> str:
    return text[: text.rindex(needle) + len(needle)]


@pytest.mark.parametrize(
    ("fmt", "needle", "words"),
    [
        ("better-notes", 'data-annotation="%7B%22attach', "HTML tag"),
        ("better-notes", '<a href="zotero://open/library/items/HSTLATT3?pa', "HTML tag"),
        ("better-notes", '![\\<img data-attachment-key="QGZ7JHTT" wid', "HTML tag"),
        ("note-html", 'data-annotation="%7B%22attach', "HTML tag"),
        ("note-html", "a comment that is cut o", "<div>"),
        ("zotero-md-links", "&annotation=LAST", "Zotero link"),
        ("zotero-md-links", "([Evil, 2024, p. 3](zotero://select/li", "Zotero link"),
    ],
)
def test_truncated_export(world: World, fmt: str, needle: str, words: str) -> None:
    """A file cut short: its end is reported and not read; what it had before is kept."""
    start(world)
    name, write = WRITERS[fmt]
    kind = "image" if "img" in needle else "highlight"
    last = hostile("LAST2222", kind=kind, text="the last one", comment="a comment that is cut off")
    anns = [HOSTILE, replace(last, page="3")]
    full = write(anns)
    # The whole file is synced first; then it is rewritten in place and read half written.
    run(world, {name: full}, code=0)
    synced = {n.path: n.text for n in hostile_notes(world)}
    assert any("LAST2222" in path for path in synced)
    world.before = {name: data for name, (data, _mtime) in tree(world.vault).items()}
    cut = _cut(full, needle)
    result = run(world, {name: cut}, code=1)
    assert_error(result, name, words, line_of(full, needle, last=True))
    assert result["annotations"]["removed"] == 0
    now = {n.path: n.text for n in hostile_notes(world)}
    assert now == synced  # nothing marked removed, nothing half written


def test_a_malformed_better_notes_image_is_reported(world: World) -> None:
    start(world)
    text = F.better_notes([HOSTILE, hostile("BADIMAGE", kind="image", page="2")])
    text = text.replace('src="attachments/QGZ7JHTT.png"', 'src="attachments/]]"')
    result = run(world, {"hostile.md": text}, code=1)
    assert_error(
        result, "hostile.md", "not a well-formed Markdown image", line_of(text, "![\\<img")
    )
    keys = {n.properties.get("annotation-key") for n in hostile_notes(world)}
    assert HOSTILE.key in keys and "BADIMAGE" not in keys


@pytest.mark.parametrize("fmt", KEYED)
def test_a_typed_tag_at_the_end_is_not_a_truncation(world: World, fmt: str) -> None:
    """A comment the user typed may end in ``<b`` or ``([x``: the file is whole."""
    start(world)
    name, write = WRITERS[fmt]
    text = write([HOSTILE, hostile("TYPEDTAG", text="last", page="2", comment="a <b or ([x")])
    result = run(world, {name: text.rstrip("\n")}, code=0)
    assert not result["errors"]
    keys = {n.properties.get("annotation-key") for n in hostile_notes(world)}
    assert "TYPEDTAG" in keys


@pytest.mark.parametrize(
    ("data", "words", "line"),
    [
        (random.Random(7).randbytes(20_000), "not valid UTF-8", "any"),
        (b"\x00" * 1000, "NUL byte", 1),
        (b"", "empty", None),
        (b" \n\n \n", "empty", None),
        (b"\xff\xfe\x00<\x00s\x00p\x00a\x00n", "not valid UTF-8", 1),
    ],
    ids=["garbage", "nul", "empty", "blank", "utf-16"],
)
def test_unreadable_files(world: World, data: bytes, words: str, line: int | str | None) -> None:
    start(world)
    result = run(world, {"hostile.md": data}, code=1)
    assert_error(result, "hostile.md", words, line)


def test_invalid_utf8_inside_an_export(world: World) -> None:
    """Bad bytes are reported with their line and replaced; the rest of the file is read."""
    start(world)
    text = F.better_notes([HOSTILE, hostile("BADBYTES", text="bad bytes here", page="2")])
    data = text.encode().replace(b"bad bytes here", b"bad \xff\xfe bytes here")
    result = run(world, {"hostile.md": data}, code=1)
    assert_error(result, "hostile.md", "not valid UTF-8", line_of(text, "bad bytes here"))
    (note,) = [n for n in hostile_notes(world) if "BADBYTES" in n.path]
    assert "bad \ufffd\ufffd bytes here" in note.body


def test_an_export_emptied_in_place_marks_nothing_removed(world: World) -> None:
    """Zotero truncates, then writes: a file read at size 0 says nothing about its annotations."""
    start(world)
    run(world, {"hostile.md": F.better_notes([HOSTILE])}, code=0)
    world.before = {name: data for name, (data, _mtime) in tree(world.vault).items()}
    result = run(world, {"hostile.md": b""}, code=1)
    assert result["annotations"]["removed"] == 0


DEPTH = 100_000


def _deep(kind: str) -> tuple[str, str]:
    good = F.note_html([HOSTILE])
    if kind == "html-divs":
        return "hostile.html", good.replace(
            "<h1>", "<div>" * DEPTH + "x" + "</div>" * DEPTH + "<h1>"
        )
    if kind == "html-spans-in-highlight":
        return "hostile.html", good.replace("“hostile”", "<span>" * DEPTH + "x" + "</span>" * DEPTH)
    if kind == "html-unclosed":
        return "hostile.html", good.replace("<h1>", "<p>" + "<b><i><span>" * DEPTH + "</p><h1>")
    bn = F.better_notes([HOSTILE])
    if kind == "bn-spans":
        return "hostile.md", bn + "\n" + "<span>" * DEPTH + "x" + "</span>" * DEPTH + "\n"
    if kind == "bn-unclosed-spans":
        return "hostile.md", bn + "\n" + '<span class="highlight" ztype="zhighlight">' * DEPTH
    if kind == "bn-quotes-and-lists":
        return "hostile.md", bn + "\n" + "> - " * DEPTH + "x\n\n" + "[" * DEPTH + "\n"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "html-divs",
        "html-spans-in-highlight",
        "html-unclosed",
        "bn-spans",
        "bn-unclosed-spans",
        "bn-quotes-and-lists",
    ],
)
def test_deeply_nested_input(world: World, kind: str) -> None:
    """Nesting 100,000 deep neither recurses nor hangs. Markdown reads on; HTML nested past
    what a parser reads is an error naming its line, and the annotation after it is named."""
    start(world)
    name, text = _deep(kind)
    code = 1 if kind in ("bn-unclosed-spans", "bn-spans") or kind.startswith("html") else 0
    with time_limit(120):  # a hang guard (quadratic work would take hours), not a timing
        result = run(world, {name: text}, code=code)
    if code:
        assert errors_in(result, name)
    keys = {n.properties.get("annotation-key") for n in hostile_notes(world)}
    if kind.startswith("html") or kind == "bn-spans":
        assert_error(result, name, "nested too deeply")
        assert HOSTILE.key in keys or any(
            HOSTILE.key in e["message"] for e in errors_in(result, name)
        )
    else:
        assert HOSTILE.key in keys


def test_deeply_nested_yaml_header(world: World) -> None:
    start(world)
    text = F.better_notes([HOSTILE]).replace("tags: []", "tags: " + "[" * DEPTH, 1)
    with time_limit(30):
        result = run(world, {"hostile.md": text}, code=1)
    assert_error(result, "hostile.md", "YAML header", 2)


# The 50 MB export runs in a child process so that its peak memory can be measured.
CHILD = """
import json, resource, sys
from obsync.cli import main
code = main(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(json.dumps({"code": code, "peak": peak}), file=sys.stderr)
"""
SIZE = 50 * 1024 * 1024


def _write_big_export(path: Path) -> None:
    """50 MB of a Better Notes export: a real highlight first and last; between them short
    paragraphs of text and of every kind of unfinished or unbalanced markup, and paragraphs
    of a megabyte each (no blank line) full of tags, unclosed tags and unclosed images."""
    first, last = F.better_notes([HOSTILE]), F.better_notes([hostile("LASTBIG2", text="z")])
    chunk = "".join(
        [
            "Plain text of a long manual note, with **bold** and a [link](https://x.org).\n\n",
            '<span class="highlight" data-annotation="%7B <span <span ztype="zhighlight"\n\n',
            '![\\<img ![\\<img ![\\<img ztype="zimage" data-annotation="%7B\n\n',
            "<b><i><u><sub>" * 8 + "x\n\n",
            "([a](zotero://select/library/items/X) ([pdf](zotero://open-pdf/" * 4 + "\n\n",
            "“quoted” (Evil, 2024, p. 1) %% ``` <% %> ---\n\n",
        ]
    )
    megabyte = 1 << 20
    giants = [
        "<span>x</span> text &amp; more \\\n",
        '<span class="highlight" ztype="zhighlight" data-annotation="%7B ',
        '![\\<img ztype="zimage" ',
        "<a <b <i title='x' ",
        "([pdf](zotero://open-pdf/library/items/X?page=1 ",
    ]
    with path.open("w", encoding="utf-8") as out:
        out.write(first)
        written = len(first)
        for giant in giants:
            out.write(giant * (megabyte // len(giant)) + "\n\n")
            written += megabyte
        while written < SIZE - 100_000:
            block = chunk * 64
            out.write(block)
            written += len(block)
        out.write(last.split("\n\n", 2)[2])


def test_a_50_mb_export(world: World) -> None:
    start(world)
    big = world.export / "big.md"
    _write_big_export(big)
    assert big.stat().st_size > SIZE - 3_000_000
    outside = world.outside()
    args = ["sync", "--export", str(world.export), "--vault", str(world.vault), "--json"]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard: quadratic work on 50 MB would take hours (no timing here)
        check=False,
    )
    status = json.loads(child.stderr.strip().splitlines()[-1])
    assert status["code"] == 1, child.stderr  # its broken images are reported
    result = json.loads(child.stdout)
    assert {Path(e["file"]).name for e in result["errors"]} == {"big.md"}
    assert any("not a well-formed Markdown image" in e["message"] for e in result["errors"])
    assert len(result["errors"]) <= 100, "one hostile file floods the report"
    assert status["peak"] < 10 * SIZE, f"peak memory {status['peak'] >> 20} MB for 50 MB"
    assert world.outside() == outside
    check_vault(world)
    check_nothing_lost(world)
    keys = {n.properties.get("annotation-key") for n in hostile_notes(world)}
    assert keys >= {HOSTILE.key, "LASTBIG2"}


def test_an_export_file_name_with_terminal_escapes_is_logged_escaped(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from obsync.cli import main

    (export_dir / "evil\x1b[2J\u202e.md").write_bytes(b"\x00\x01binary")
    capsys.readouterr()
    assert main(["sync", "--export", str(export_dir), "--vault", str(vault)]) == 1
    err = capsys.readouterr().err
    assert "evil\\x1b[2J\\u202e.md" in err
    assert "\x1b" not in err and "\u202e" not in err
