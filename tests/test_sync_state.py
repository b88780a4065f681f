"""The state store (sync/state.py): one connection, what it keeps comes back, and the
files written by older versions and broken files still open."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from obsync.model import Kind
from obsync.settings.config import resolve
from obsync.sync import run_sync
from obsync.sync.state import EMPTY, Commit, FileRecord, Record, StateStore

from . import formats
from .formats import Ann
from .helpers import age


def record(key: str, paper: str = "PAPER111", kind: Kind = Kind.ANNOTATION) -> Record:
    return Record(
        kind,
        key,
        f"Zotero/{key}.md",
        f"fp-{key}",
        ("zotero", "highlight"),
        export_file="one.md",
        source_key=paper if kind is Kind.ANNOTATION else "",
        entry=f"- [[{key}]]",
        sort=("00003|000007", key),
        page="4",
        color="yellow",
    )


def count_connections(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every sqlite3.connect the state store makes from now on, by path."""
    opened: list[Path] = []
    real = sqlite3.connect

    def counting(path: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr("obsync.sync.state.sqlite3.connect", counting)
    return opened


def test_a_whole_sync_opens_the_state_once(
    export_dir: Path, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anns = [Ann(f"ONE{n:05d}", text=f"Highlight {n}", parent="PAPER111") for n in range(3)]
    path = export_dir / "one.md"
    path.write_text(formats.better_notes(anns, title="First paper", note_key="NONE12345"))
    age(path)
    settings = resolve(config_path=None, export=export_dir, vault=vault)
    opened = count_connections(monkeypatch)
    report = run_sync(settings)
    assert report.applied is not None and len(report.applied.written) >= 3
    assert opened == [settings.state_file]
    opened.clear()
    run_sync(settings)  # the second sync reads the state it left: one connection again
    assert opened == [settings.state_file]


def test_one_store_is_one_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = count_connections(monkeypatch)
    with StateStore(tmp_path / "state" / "s.sqlite") as store:
        store.commit(Commit(records=(record("AAAA1111"),)))
        store.load()
        store.load_files()
        store.load_scope(["PAPER111"], [])
        store.set_meta({"a": "b"})
        assert store.count() == {"annotation": 1}
    assert len(opened) == 1


def test_records_files_and_meta_come_back(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    records = (record("AAAA1111"), record("PAPER111", kind=Kind.SOURCE))
    files = (
        FileRecord("one.md", (120, 1_700_000_000_123_456_789), ("PAPER111",), "d1", ("Li, 2020",)),
        FileRecord("sub/two.md", (5, 7), (), "", ()),
    )
    with StateStore(path) as store:
        store.commit(Commit(records=records, meta=(("complete", "1"),), files=files))
    with StateStore(path) as store:  # a new connection: what was committed is on disk
        state = store.load()
        assert state.records == {(r.kind, r.key): r for r in records}
        assert state.meta["complete"] == "1" and "version" in state.meta
        assert store.load_files() == {f.path: f for f in files}
        assert store.load_meta() == state.meta


def test_load_scope_gives_the_papers_and_keys_asked(tmp_path: Path) -> None:
    records = (
        record("PAPER111", kind=Kind.SOURCE),
        record("ONE11111", "PAPER111"),
        record("ONE22222", "PAPER111"),
        record("PAPER222", kind=Kind.SOURCE),
        record("TWO11111", "PAPER222"),
        record("TWO22222", "PAPER222"),
        record("PAPER333", kind=Kind.SOURCE),
        record("THREE111", "PAPER333"),
    )
    with StateStore(tmp_path / "state.sqlite") as store:
        store.commit(Commit(records=records, meta=(("complete", "1"),)))
        scope = store.load_scope(["PAPER111"], ["TWO22222"])
        assert set(scope.records) == {
            (Kind.SOURCE, "PAPER111"),
            (Kind.ANNOTATION, "ONE11111"),
            (Kind.ANNOTATION, "ONE22222"),
            (Kind.ANNOTATION, "TWO22222"),
        }
        assert scope.meta["complete"] == "1"
        # Asked again with other papers: the last question's answer does not linger.
        assert set(store.load_scope(["PAPER333"], []).records) == {
            (Kind.SOURCE, "PAPER333"),
            (Kind.ANNOTATION, "THREE111"),
        }
        assert store.load_scope([], []).records == {}


def test_a_commit_with_kept_forgets_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with StateStore(path) as store:
        store.commit(
            Commit(
                records=(record("AAAA1111"), record("BBBB2222"), record("CCCC3333")),
                files=(FileRecord("old.md", (1, 2), ("PAPER111",)),),
            )
        )
        store.commit(
            Commit(
                records=(record("DDDD4444"),),
                files=(FileRecord("new.md", (3, 4), ("PAPER111",)),),
                kept=frozenset({("annotation", "AAAA1111"), ("annotation", "DDDD4444")}),
            )
        )
    with StateStore(path) as store:
        assert set(store.load().records) == {
            (Kind.ANNOTATION, "AAAA1111"),
            (Kind.ANNOTATION, "DDDD4444"),
        }
        assert set(store.load_files()) == {"new.md"}  # the files are those of this commit


def test_an_unreadable_state_is_moved_aside_and_loads_empty(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not an SQLite database, " * 64)
    with StateStore(path) as store:
        assert store.load() == EMPTY
    aside = tmp_path / "state.sqlite.corrupt"
    assert aside.read_bytes().startswith(b"this is not an SQLite database")
    assert not path.exists()
    with StateStore(path) as store:  # and a new state is built where it was
        store.commit(Commit(records=(record("AAAA1111"),)))
        assert set(store.load().records) == {(Kind.ANNOTATION, "AAAA1111")}


# The state schema before 0.2, written by obsync 0.1: notes without a page and colour,
# export files without a digest and citations.
SCHEMA_0_1 = """
CREATE TABLE notes (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    tags TEXT NOT NULL,
    export_file TEXT NOT NULL,
    source_key TEXT NOT NULL,
    entry TEXT NOT NULL,
    sort TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX notes_by_source ON notes (source_key);
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sources TEXT NOT NULL
);
"""


def test_a_state_of_obsync_0_1_opens_and_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    old = sqlite3.connect(path)
    with old:
        old.executescript(SCHEMA_0_1)
        old.execute(
            "INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("annotation", "AAAA1111", "Zotero/a.md", "fp", '["zotero"]', "one.md",
             "PAPER111", "- [[a]]", '[2, 0.5, 0.25, 3, "AAAA1111"]'),
        )  # fmt: skip
        old.execute("INSERT INTO files VALUES ('one.md', 10, 20, '[\"PAPER111\"]')")
        old.execute("INSERT INTO meta VALUES ('complete', '1')")
    old.close()

    with StateStore(path) as store:
        state = store.load()
        assert state.records == {
            (Kind.ANNOTATION, "AAAA1111"): Record(
                Kind.ANNOTATION,
                "AAAA1111",
                "Zotero/a.md",
                "fp",
                ("zotero",),
                "one.md",
                "PAPER111",
                "- [[a]]",
                ("00002", "AAAA1111"),
                page="",
                color="",
            )
        }  # fmt: skip  (the sort of before Zotero's order keeps its page)
        assert state.meta == {"complete": "1"}
        assert store.load_files() == {
            "one.md": FileRecord("one.md", (10, 20), ("PAPER111",), digest="", citations=())
        }
        store.commit(
            Commit(
                records=(record("AAAA1111"),),
                files=(FileRecord("one.md", (11, 21), ("PAPER111",), "d", ("Li, 2020",)),),
            )
        )

    raw = sqlite3.connect(path)
    try:
        notes = raw.execute("SELECT page, color FROM notes WHERE key = 'AAAA1111'").fetchall()
        files = raw.execute("SELECT digest, citations FROM files").fetchall()
        defaults = {
            row[1]: row[4]
            for table in ("notes", "files")
            for row in raw.execute(f"PRAGMA table_info({table})")
        }
    finally:
        raw.close()
    assert notes == [("4", "yellow")]
    assert files == [("d", '["Li, 2020"]')]
    assert (defaults["page"], defaults["color"]) == ("''", "''")
    assert (defaults["digest"], defaults["citations"]) == ("''", "'[]'")
