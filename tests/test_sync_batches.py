"""The plan in batches (sync/batches.py) decides exactly what one plan over everything decides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from obsync.model import ExportRead
from obsync.settings.config import Settings, resolve
from obsync.sync import Request, run_sync
from obsync.sync.batches import InBatches, batches
from obsync.sync.plan import Plan, Seen, combine, make_plan
from obsync.sync.state import Snapshot, StateStore
from obsync.vault.listing import list_names
from obsync.vault.read import Notes, read_keyed
from tests.helpers import read_folder

from . import formats
from .formats import Ann
from .helpers import age, note_path

PAPERS = ["PAPER001", "PAPER002", "PAPER003", "PAPER004", "PAPER005"]


def annotations(paper: str, count: int = 2) -> list[Ann]:
    return [
        Ann(f"K{paper[-3:]}EY{n:02d}", text=f"{paper} text {n}", parent=paper) for n in range(count)
    ]


def write(export: Path, paper: str, anns: list[Ann], title: str) -> None:
    path = export / f"{paper}.md"
    path.write_text(formats.better_notes(anns, title=title, note_key=f"N{paper[-3:]}2345"))
    age(path)


def seen(settings: Settings) -> Seen:
    """Every note of the vault, read, and every name: the vault as a plan sees it."""
    names = list_names(settings.vault)
    notes = Notes()
    read_keyed(settings.vault, names.paths, notes)
    return Seen(notes, frozenset(names.stems))


def in_batches(read: ExportRead, state: Snapshot, settings: Settings, size: int) -> Plan:
    vault = seen(settings)
    found = {key: f.path for key, f in vault.notes.sources.items()}
    planner = InBatches.start(
        read, settings, found=found, taken=set(vault.taken), same_images=set()
    )
    return combine([planner.plan(batch, vault.notes) for batch in batches(read, state, size)])


def both_ways(settings: Settings) -> tuple[Plan, Plan]:
    read = read_folder(settings.export)
    state = StateStore(settings.state_file).load()
    whole = make_plan(read, seen(settings), state, settings)
    parts = in_batches(read, state, settings, 1)
    return whole, parts


def same_decisions(whole: Plan, parts: Plan) -> None:
    assert sorted(whole.writes, key=lambda w: w.path) == sorted(parts.writes, key=lambda w: w.path)
    assert sorted(whole.copies, key=lambda c: c.path) == sorted(parts.copies, key=lambda c: c.path)
    assert set(whole.conflicts) == set(parts.conflicts)
    assert set(whole.problems) == set(parts.problems)
    assert set(whole.records) == set(parts.records)
    assert whole.annotations == parts.annotations and whole.sources == parts.sources


@pytest.fixture
def settings(export_dir: Path, vault: Path) -> Settings:
    return resolve(config_path=None, export=export_dir, vault=vault)


def test_a_first_sync_in_parts_names_same_title_papers_apart(
    settings: Settings, export_dir: Path
) -> None:
    for paper in PAPERS:
        write(export_dir, paper, annotations(paper), "Same title")  # five papers, one title
    whole, parts = both_ways(settings)
    same_decisions(whole, parts)
    names = {w.path.stem.casefold() for w in parts.writes if w.kind == "source"}
    assert len(names) == len(PAPERS)


def test_a_later_sync_in_parts_decides_as_one_plan(
    settings: Settings, export_dir: Path, vault: Path
) -> None:
    for paper in PAPERS:
        write(export_dir, paper, annotations(paper, 3), f"Paper {paper}")
    run_sync(settings, Request(full=True))
    # An annotation moves between papers, one is removed, a paper's export is gone, a new
    # paper shares a title, the user deletes one note and edits another.
    moved = replace(annotations(PAPERS[0], 3)[0], parent=PAPERS[4])
    write(export_dir, PAPERS[0], annotations(PAPERS[0], 3)[1:], f"Paper {PAPERS[0]}")
    write(export_dir, PAPERS[4], [*annotations(PAPERS[4], 3), moved], f"Paper {PAPERS[4]}")
    write(export_dir, PAPERS[1], annotations(PAPERS[1], 2), f"Paper {PAPERS[1]}")
    (export_dir / f"{PAPERS[2]}.md").unlink()
    write(export_dir, "PAPER006", annotations("PAPER006"), f"Paper {PAPERS[3]}")
    note_path(vault, "K004EY00").unlink()
    edited = note_path(vault, "K004EY01")
    edited.write_text(edited.read_text().replace("text 1", "my words"))
    whole, parts = both_ways(settings)
    same_decisions(whole, parts)
    assert parts.annotations.removed == 1 and parts.annotations.deleted == 1


@hypothesis_settings(max_examples=25, deadline=None)
@given(
    titles=st.lists(
        st.sampled_from(["A", "a", "B", "PAPER002", "K002EY00"]), min_size=1, max_size=5
    ),
    size=st.integers(1, 3),
)
def test_parts_of_any_size_decide_as_one_plan(
    tmp_path_factory: pytest.TempPathFactory, titles: list[str], size: int
) -> None:
    root = tmp_path_factory.mktemp("parts")
    (root / "export").mkdir()
    settings = resolve(config_path=None, export=root / "export", vault=root / "vault")
    for paper, title in zip(PAPERS, titles, strict=False):
        write(root / "export", paper, annotations(paper), title)
    read = read_folder(settings.export)
    state = StateStore(settings.state_file).load()
    whole = make_plan(read, seen(settings), state, settings)
    parts = in_batches(read, state, settings, size)
    same_decisions(whole, parts)
