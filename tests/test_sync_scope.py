"""sync/scope.py as pure functions: the scope a sync starts from, and how it widens."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from obsync.sync.scope import Contents, Request, Scope, restamped, scope, widen
from obsync.sync.state import FileRecord

FP = "settings-fingerprint"
DONE = {"complete": "1", "settings": FP}


def record(name: str, *papers: str, stamp: tuple[int, int] = (1, 1), digest: str = "d",
           citations: tuple[str, ...] = ()) -> FileRecord:  # fmt: skip
    return FileRecord(name, stamp, papers, digest, citations)


STORED = {
    "a.md": record("a.md", "PAPERAAA"),
    "b.md": record("b.md", "PAPERBBB"),
    "ab.md": record("ab.md", "PAPERAAA", "PAPERBBB"),
    "c.md": record("c.md", "PAPERCCC"),
}
LISTING = {name: (1, 1) for name in STORED}


def test_everything_when_asked_first_unfinished_or_settings_changed() -> None:
    cases = [
        (Request(full=True), DONE),
        (Request(), None),
        (Request(), {"complete": "0", "settings": FP}),
        (Request(), {"complete": "1", "settings": "other"}),
    ]
    for request, meta in cases:
        wanted = scope(request, LISTING, STORED, meta, FP)
        assert wanted.everything and wanted.files == frozenset(LISTING) and wanted.reasons


def test_nothing_changed_is_the_empty_scope() -> None:
    wanted = scope(Request(), LISTING, STORED, DONE, FP)
    assert wanted.empty and not wanted.everything


def test_a_changed_file_brings_its_papers_and_every_file_holding_them() -> None:
    listing = {**LISTING, "a.md": (2, 2)}
    wanted = scope(Request(), listing, STORED, DONE, FP, digests={"a.md": "new"})
    assert wanted.papers == {"PAPERAAA", "PAPERBBB"}  # ab.md holds both
    assert wanted.files == {"a.md", "ab.md", "b.md"}
    assert "c.md" not in wanted.files


def test_a_file_written_again_with_the_same_bytes_is_only_restamped() -> None:
    listing = {**LISTING, "a.md": (2, 2)}
    wanted = scope(Request(), listing, STORED, DONE, FP, digests={"a.md": "d"})
    assert wanted.same == {"a.md"} and wanted.empty


def test_a_file_gone_brings_its_papers_and_is_gone() -> None:
    listing = {n: s for n, s in LISTING.items() if n != "c.md"}
    wanted = scope(Request(), listing, STORED, DONE, FP)
    assert wanted.gone == {"c.md"} and wanted.papers == {"PAPERCCC"}


def test_a_held_file_is_not_gone() -> None:
    listing = {n: s for n, s in LISTING.items() if n != "c.md"}
    assert scope(Request(), listing, STORED, DONE, FP, held={"c.md"}).empty


def test_restore_deleted_brings_the_papers_of_deleted_notes() -> None:
    wanted = scope(Request(restore_deleted=True), LISTING, STORED, DONE, FP,
                   deleted_papers={"PAPERCCC"})  # fmt: skip
    assert wanted.papers == {"PAPERCCC"} and wanted.files == {"c.md"}


def test_widen_adds_the_papers_a_file_read_now_holds() -> None:
    start = Scope(False, frozenset({"PAPERCCC"}), frozenset({"c.md"}))
    read = {"c.md": Contents(frozenset({"PAPERCCC", "PAPERAAA"}), frozenset())}
    wider = widen(start, read, STORED, LISTING)
    assert wider.papers == {"PAPERAAA", "PAPERBBB", "PAPERCCC"}  # PAPERBBB through ab.md
    assert wider.files == {"a.md", "ab.md", "b.md", "c.md"}


def test_widen_returns_the_same_scope_when_nothing_is_added() -> None:
    start = Scope(False, frozenset({"PAPERCCC"}), frozenset({"c.md"}))
    assert widen(start, {}, STORED, LISTING) is start
    everything = Scope(True, files=frozenset(LISTING))
    assert widen(everything, {}, STORED, LISTING) is everything


def test_widen_adds_an_annotations_former_paper() -> None:
    start = Scope(False, frozenset({"PAPERCCC"}), frozenset({"c.md"}))
    assert widen(start, {}, STORED, LISTING, {"PAPERAAA"}).papers == {
        "PAPERAAA", "PAPERBBB", "PAPERCCC"
    }  # fmt: skip


def test_a_keyless_paper_brings_the_papers_of_its_citation() -> None:
    stored = {
        "keyed.md": record("keyed.md", "PAPERAAA", citations=("Zhao, 2023",)),
        "keyless.md": record("keyless.md", "obs-zhao", citations=("Zhao, 2023",)),
        "other.md": record("other.md", "PAPERCCC", citations=("Vaswani, 2017",)),
    }
    listing = {name: (1, 1) for name in stored}
    start = Scope(False, frozenset({"PAPERAAA"}), frozenset({"keyed.md"}))
    wider = widen(start, {}, stored, listing)
    assert wider.files == {"keyed.md", "keyless.md"} and "obs-zhao" in wider.papers


def test_restamped_names_new_and_rewritten_files() -> None:
    listing = {**LISTING, "a.md": (2, 2), "new.md": (1, 1)}
    assert restamped(listing, STORED) == ["a.md", "new.md"]


names = st.sampled_from(["a.md", "b.md", "ab.md", "c.md"])


@given(papers=st.sets(st.sampled_from(["PAPERAAA", "PAPERBBB", "PAPERCCC"])),
       files=st.sets(names))  # fmt: skip
def test_widen_is_a_fixed_point_that_only_grows(papers: set[str], files: set[str]) -> None:
    start = Scope(False, frozenset(papers), frozenset(files))
    wider = widen(start, {}, STORED, LISTING)
    assert start.papers <= wider.papers and start.files <= wider.files
    assert widen(wider, {}, STORED, LISTING) is wider
    for name in wider.files:  # every file holding a paper in scope is in scope
        assert name in files or set(STORED[name].sources) & wider.papers
    for name, rec in STORED.items():
        if set(rec.sources) & wider.papers:
            assert name in wider.files
