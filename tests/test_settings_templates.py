"""Templates for the generated part of notes: config keys, re-rendering, errors, the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from obsync.cli import main
from obsync.settings.config import DEFAULT_MARKER as MARKER
from obsync.sync.batches import PAPERS_PER_BATCH as PAPERS_PER_PART
from obsync.vault import note, render

from . import formats
from .helpers import age, copy_fixture, note_path, sync_json, tree
from .test_vault_render import SOURCE, entry, make

README = Path(__file__).parent.parent / "README.md"


def configure(tmp_path: Path, export: Path, vault: Path, **templates: str) -> Path:
    """A config file naming templates written beside it; returns the config's path."""
    lines = [f'export = "{export}"', f'vault = "{vault}"', "[templates]"]
    for kind, text in templates.items():
        (tmp_path / f"{kind}.md.j2").write_text(text)
        lines.append(f'{kind} = "{kind}.md.j2"')
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def sync(config: Path, *extra: str) -> int:
    return main(["-q", "sync", "--config", str(config), *extra])


def test_a_new_template_rewrites_every_note_and_keeps_user_text(
    tmp_path: Path, export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_fixture(export_dir)
    sync_json(capsys, export_dir, vault)
    path = note_path(vault, "RC4HW3AF")
    path.write_text(path.read_text() + "My own thinking, kept.\n")
    template = "{{ color_name }} on p. {{ page }}\n\n{{ text | quote }}\n\n{{ source }}\n"
    config = configure(tmp_path, export_dir, vault, annotation=template)
    assert sync(config) == 0
    text = path.read_text()
    body = note.split(text, MARKER)
    assert isinstance(body, note.Parts)
    assert body.tail == "My own thinking, kept.\n"
    assert body.head.split("---\n", 2)[2].startswith("yellow on p. 1\n\n> Since the")
    assert not list(vault.rglob("*conflict*"))
    for other in (vault / "Zotero" / "Annotations").rglob("*.md"):
        assert " on p. " in other.read_text(), other


def test_a_literature_note_template_is_used(tmp_path: Path, export_dir: Path, vault: Path) -> None:
    copy_fixture(export_dir)
    template = (
        "{{ title }}: {{ entries | length }} annotations\n"
        "{% for c in colors %}{{ c.name }}={{ c.count }} {% endfor %}\n"
    )
    assert sync(configure(tmp_path, export_dir, vault, source=template)) == 0
    text = (vault / "Zotero/Sources/A Survey of Large Language Models.md").read_text()
    assert re.search(r"\nA Survey of Large Language Models: \d+ annotations\nyellow=\d+ ", text)


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [
        ("{{ key }}\n\n{% if %}\n", 3, "Expected an expression"),
        ("{{ key }}\n{{ no_such_variable }}\n", 2, "'no_such_variable' is undefined"),
        ("{{ key }}\n\n\n{{ text | no_such_filter }}\n", 4, "No filter named 'no_such_filter'"),
        ("{% for x in 3 %}{% endfor %}\n", 1, "TypeError"),
    ],
    ids=["syntax", "undefined", "filter", "runtime"],
)
def test_a_broken_template_is_named_with_its_line_and_nothing_is_written(
    tmp_path: Path,
    export_dir: Path,
    vault: Path,
    capsys: pytest.CaptureFixture[str],
    template: str,
    line: int,
    message: str,
) -> None:
    copy_fixture(export_dir)
    sync_json(capsys, export_dir, vault)
    before = tree(vault)
    config = configure(tmp_path, export_dir, vault, annotation=template)
    capsys.readouterr()
    assert sync(config) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{tmp_path / 'annotation.md.j2'}:{line}: template error" in err
    assert message in err
    assert tree(vault) == before


def test_a_missing_template_file_is_a_config_error(
    tmp_path: Path, export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = configure(tmp_path, export_dir, vault)
    config.write_text(config.read_text() + 'source = "nowhere.md.j2"\n')
    assert sync(config) == 2
    assert f"{tmp_path / 'nowhere.md.j2'}: cannot read template" in capsys.readouterr().err


def test_a_template_cannot_forge_the_marker(tmp_path: Path, export_dir: Path, vault: Path) -> None:
    copy_fixture(export_dir)
    template = f"{{{{ key }}}}\n{MARKER}\n"
    assert sync(configure(tmp_path, export_dir, vault, annotation=template)) == 0
    parts = note.split(note_path(vault, "RC4HW3AF").read_text(), MARKER)
    assert isinstance(parts, note.Parts) and parts.tail == ""


def documented(section: str) -> set[str]:
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_.]+)`", body, re.M))


def test_the_readme_documents_every_template_variable() -> None:
    annotation = set(render.annotation_values(make(), "Paper", None, (), MARKER))
    entries = [entry("A", (0, 0.0, 0.0, 1, "A"))]
    source = render.source_values(SOURCE, "zotero://x", entries, MARKER)
    wanted = set(source)
    wanted |= {f"pages.{k}" for k in source["pages"][0]}  # type: ignore[index]
    wanted |= {f"entries.{k}" for k in source["entries"][0]}  # type: ignore[index]
    wanted |= {f"colors.{k}" for k in source["colors"][0]}  # type: ignore[index]
    assert documented("Templates") == {f"annotation.{k}" for k in annotation} | {
        f"source.{k}" for k in wanted
    }


def many_papers(export: Path, count: int) -> None:
    """``count`` papers of one annotation each: more than one part of a full sync."""
    for number in range(count):
        paper = f"PAPR{number:04d}"
        ann = formats.Ann(f"K{number:04d}ANN", text=f"Text of paper {number}", parent=paper)
        path = export / f"{paper}.md"
        path.write_text(
            formats.better_notes([ann], title=f"Paper {number}", note_key=f"N{number:04d}XYZ")
        )
    age(export)


def test_a_template_failing_on_one_later_paper_writes_nothing(
    tmp_path: Path, export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full sync is written in parts; the user's templates are tried on every note first."""
    papers = PAPERS_PER_PART * 2 + 1
    many_papers(export_dir, papers)
    sync_json(capsys, export_dir, vault)
    before = tree(vault)
    last = f"Text of paper {papers - 1}"
    template = (
        f"{{{{ text }}}}\n{{% if text == {last!r} %}}{{{{ no_such_variable }}}}{{% endif %}}\n"
    )
    config = configure(tmp_path, export_dir, vault, annotation=template)
    capsys.readouterr()
    assert sync(config) == 2
    err = capsys.readouterr().err.strip()
    assert f"{tmp_path / 'annotation.md.j2'}:2: template error" in err, err
    assert tree(vault) == before
    # Mended, the template rewrites every note: none is taken for the user's.
    configure(tmp_path, export_dir, vault, annotation="{{ text }} (mended)\n")
    assert sync(config) == 0
    assert not list(vault.rglob("*conflict*"))
    notes = list((vault / "Zotero" / "Annotations").rglob("*.md"))
    assert len(notes) == papers and all("(mended)" in n.read_text() for n in notes)


def test_the_trial_of_the_users_templates_sees_the_names_notes_will_have(
    tmp_path: Path, export_dir: Path, vault: Path
) -> None:
    """The templates are tried on every note with the values the notes get: a literature
    note's new name is not taken for another's (which would add its key to the name)."""
    many_papers(export_dir, PAPERS_PER_PART * 2 + 1)
    template = '{% if "(" in source_name %}{{ no_such_variable }}{% endif %}{{ text }}\n'
    config = configure(tmp_path, export_dir, vault, annotation=template)
    assert sync(config) == 0
    assert len(list((vault / "Zotero" / "Annotations").rglob("*.md"))) == PAPERS_PER_PART * 2 + 1
