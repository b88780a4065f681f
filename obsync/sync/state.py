"""What obsync last wrote, for change and conflict detection (SQLite, outside the vault).

Losing this file loses nothing: the vault's frontmatter says which note holds
which key, and every note carries a stamp of what obsync wrote into it; a note with
neither is treated as possibly edited by the user (obsync then never overwrites its
generated part, see sync/plan.py).

One :class:`StateStore` is one connection, opened on first use: a sync opens it once
and checks the schema once (stores written by older versions gain their new columns
then, in place).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from obsync.model import Kind

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    kind TEXT NOT NULL,          -- 'annotation' or 'source'
    key TEXT NOT NULL,
    path TEXT NOT NULL,          -- relative to the vault
    fingerprint TEXT NOT NULL,   -- of the generated part obsync last wrote
    tags TEXT NOT NULL,          -- JSON list: the tags obsync generated
    export_file TEXT NOT NULL,   -- the export file the annotation was read from
    source_key TEXT NOT NULL,    -- the literature note an annotation belongs to
    entry TEXT NOT NULL,         -- its last line in that literature note
    sort TEXT NOT NULL,          -- JSON: where that line goes ([order, key]: Zotero's order)
    page TEXT NOT NULL DEFAULT '',   -- its page label and colour there
    color TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS notes_by_source ON notes (source_key);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,       -- an export file, relative to the export folder
    size INTEGER NOT NULL,       -- its size and mtime (ns) when obsync last read it
    mtime_ns INTEGER NOT NULL,
    sources TEXT NOT NULL,       -- JSON list: the keys of the papers it held then
    digest TEXT NOT NULL DEFAULT '',     -- of its bytes ('' for a file read with errors)
    citations TEXT NOT NULL DEFAULT '[]' -- JSON list: its papers' citations
);
CREATE TABLE IF NOT EXISTS zotero_libraries (
    library TEXT PRIMARY KEY,    -- 'users/NNN' or 'groups/NNN' on Zotero's Web API
    version INTEGER NOT NULL,    -- the library version its items below are as of
    synced INTEGER NOT NULL      -- the version the vault was last synced with
);
CREATE TABLE IF NOT EXISTS zotero_items (
    library TEXT NOT NULL,
    key TEXT NOT NULL,
    item TEXT NOT NULL,          -- JSON: an annotation, attachment or paper as the API gave it
    PRIMARY KEY (library, key)
);
"""
VERSION = "1"


@dataclass(frozen=True, slots=True)
class Record:
    kind: Kind
    key: str
    path: str
    fingerprint: str
    tags: tuple[str, ...]
    export_file: str = ""
    source_key: str = ""
    entry: str = ""  # its link in the literature note
    sort: tuple[str, str] = ("99999", "")  # (its order in Zotero, its key)
    page: str = ""
    color: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state as it was when a sync started."""

    records: dict[tuple[Kind, str], Record]
    meta: dict[str, str]

    def get(self, kind: Kind, key: str) -> Record | None:
        return self.records.get((kind, key))


EMPTY = Snapshot({}, {})


@dataclass(frozen=True, slots=True)
class FileRecord:
    """An export file as obsync last read it: what says it changed, and which papers it held."""

    path: str  # relative to the export folder
    stamp: tuple[int, int]  # (size, mtime in ns)
    sources: tuple[str, ...]
    digest: str = ""  # of its bytes: a file written again with the same bytes changed nothing
    citations: tuple[str, ...] = ()  # its papers' citations: keyless papers are matched by them


def _sort(value: list[Any]) -> tuple[str, str]:
    """``[order, key]``; a record from before the order (``[page, top, left, line, key]``)
    keeps its page, so a removed annotation's line stays on its page."""
    if len(value) == 2:
        return (str(value[0]), str(value[1]))
    page, key = int(value[0]), str(value[-1])
    return (f"{page:05d}" if 0 <= page < 99999 else "99999", key)


@dataclass(frozen=True, slots=True)
class Commit:
    """What one step of a sync tells the state."""

    records: tuple[Record, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()
    files: tuple[FileRecord, ...] = ()
    files_gone: tuple[str, ...] = ()
    kept: frozenset[tuple[str, str]] | None = None  # a sync of everything: forget the rest


class StateStore:
    """The state file: one connection, opened on first use, closed by :meth:`close` (or
    at the end of a ``with`` block)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path)
            try:
                migrate(db)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def load(self) -> Snapshot:
        """The stored state; an unreadable store is moved aside and rebuilt."""
        if not self.path.exists():
            return EMPTY
        try:
            db = self._connect()
            rows = db.execute(f"SELECT {_COLUMNS} FROM notes").fetchall()
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
            return Snapshot(_records(rows), meta)
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            self.close()
            aside = self.path.with_name(self.path.name + ".corrupt")
            log.warning(
                "state %s is unreadable (%s); moved to %s, rebuilding", self.path, exc, aside
            )
            self.path.replace(aside)
            return EMPTY

    def load_meta(self) -> dict[str, str] | None:
        """The stored meta values, or None when there is no readable state."""
        if not self.path.exists():
            return None
        try:
            return dict(self._connect().execute("SELECT name, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            self.close()
            return None

    def load_files(self) -> dict[str, FileRecord]:
        """The export files as last read, by path relative to the export folder."""
        rows = self._connect().execute(
            "SELECT path, size, mtime_ns, sources, digest, citations FROM files"
        )
        return {
            path: FileRecord(
                path, (size, mtime), tuple(json.loads(sources)), digest, tuple(json.loads(cited))
            )
            for path, size, mtime, sources, digest, cited in rows
        }

    def load_scope(self, sources: Iterable[str], keys: Iterable[str]) -> Snapshot:
        """The records of some papers (literature notes and annotations) and of some
        annotation keys, with the meta values: what a sync of those papers starts from."""
        db = self._connect()
        _wanted(db, "wanted_sources", sources)
        _wanted(db, "wanted_keys", keys)
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM notes WHERE"
            " (kind = 'source' AND key IN (SELECT key FROM temp.wanted_sources))"
            " OR (kind = 'annotation' AND source_key IN (SELECT key FROM temp.wanted_sources))"
            " OR (kind = 'annotation' AND key IN (SELECT key FROM temp.wanted_keys))"
        ).fetchall()
        meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
        return Snapshot(_records(rows), meta)

    def paths(self) -> set[str]:
        """Where every note obsync keeps is (those the user deleted aside)."""
        if not self.path.exists():
            return set()
        rows = self._connect().execute("SELECT path FROM notes WHERE path != ''")
        return {path for (path,) in rows}

    def papers_at(self, paths: Iterable[str]) -> set[str]:
        """The papers of the notes the state has at ``paths``."""
        db = self._connect()
        _wanted(db, "wanted_paths", paths)
        where = "path IN (SELECT key FROM temp.wanted_paths)"
        return {paper for _p, _k, _key, paper in self._places(where)}

    def deleted(self) -> dict[tuple[Kind, str], str]:
        """The notes the user deleted (and obsync left deleted): (kind, key) -> paper."""
        if not self.path.exists():
            return {}
        return {(Kind(k), key): paper for _p, k, key, paper in self._places("path = ''")}

    def _places(self, where: str) -> list[tuple[str, str, str, str]]:
        return (
            self._connect()
            .execute(
                "SELECT path, kind, key, CASE kind WHEN 'source' THEN key ELSE source_key END"
                f" FROM notes WHERE {where}"
            )
            .fetchall()
        )

    def count(self) -> dict[str, int]:
        """How many notes of each kind obsync keeps a record of."""
        if not self.path.exists():
            return {}
        rows = self._connect().execute("SELECT kind, COUNT(*) FROM notes GROUP BY kind")
        return dict(rows.fetchall())

    def set_meta(self, meta: dict[str, str]) -> None:
        """Some meta values, kept (a commit of them alone)."""
        self.commit(Commit(meta=tuple(sorted(meta.items()))))

    def commit(self, commit: Commit) -> None:
        """The one way the state is written: some records, files and meta values, in one
        transaction; a sync of everything that finished also forgets what it did not keep."""
        db = self._connect()
        with db:
            if commit.kept is not None:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS kept"
                           " (kind TEXT, key TEXT, PRIMARY KEY (kind, key))")  # fmt: skip
                db.execute("DELETE FROM temp.kept")
                db.executemany("INSERT OR IGNORE INTO temp.kept VALUES (?, ?)", commit.kept)
                db.execute(
                    "DELETE FROM notes WHERE NOT EXISTS (SELECT 1 FROM temp.kept"
                    " WHERE temp.kept.kind = notes.kind AND temp.kept.key = notes.key)"
                )
                db.execute("DELETE FROM files")
            db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in commit.files_gone])
            _write(db, commit.records, dict(commit.meta), commit.files)

    # -- Zotero's Web API (obsync/zotero/source.py): items as of a library version ----------

    def zotero_versions(self) -> dict[str, tuple[int, int]]:
        """Each library's (version fetched, version synced into the vault)."""
        rows = self._connect().execute("SELECT library, version, synced FROM zotero_libraries")
        return {library: (version, synced) for library, version, synced in rows}

    def zotero_items(self, library: str) -> dict[str, str]:
        """A library's items as kept: key -> JSON."""
        rows = self._connect().execute(
            "SELECT key, item FROM zotero_items WHERE library = ?", (library,)
        )
        return dict(rows.fetchall())

    def zotero_update(
        self,
        library: str,
        version: int,
        items: dict[str, str],
        gone: Iterable[str] = (),
        *,
        reset: bool = False,
    ) -> None:
        """Keep a library's changed items and forget its deleted ones (all first, on
        ``reset``) as of ``version``, in one transaction."""
        db = self._connect()
        with db:
            if reset:
                db.execute("DELETE FROM zotero_items WHERE library = ?", (library,))
            db.executemany(
                "DELETE FROM zotero_items WHERE library = ? AND key = ?",
                [(library, key) for key in gone],
            )
            db.executemany(
                "INSERT OR REPLACE INTO zotero_items VALUES (?, ?, ?)",
                [(library, key, item) for key, item in items.items()],
            )
            db.execute(
                "INSERT INTO zotero_libraries VALUES (?, ?, -1) ON CONFLICT (library)"
                " DO UPDATE SET version = excluded.version",
                (library, version),
            )

    def zotero_synced(self, versions: dict[str, int]) -> None:
        """The vault now holds these libraries as of these versions."""
        db = self._connect()
        with db:
            db.executemany(
                "UPDATE zotero_libraries SET synced = ? WHERE library = ?",
                [(version, library) for library, version in versions.items()],
            )


def migrate(db: sqlite3.Connection) -> None:
    """The schema, made where missing; stores written by older versions gain the columns
    added since, in place (0.2: a note's page and colour; 0.3: a file's digest and
    citations)."""
    db.executescript(SCHEMA)
    added = {
        "notes": (("page", "''"), ("color", "''")),
        "files": (("digest", "''"), ("citations", "'[]'")),
    }
    for table, columns in added.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for column, default in columns:
            if column not in have:
                db.execute(
                    f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT {default}"
                )
    db.commit()


def _wanted(db: sqlite3.Connection, table: str, keys: Iterable[str]) -> None:
    """A temporary table of some keys, for the next query to look in (emptied first)."""
    with db:  # committed at once: no transaction is left open on the connection
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY)")
        db.execute(f"DELETE FROM temp.{table}")
        db.executemany(f"INSERT OR IGNORE INTO temp.{table} VALUES (?)", [(k,) for k in keys])


_COLUMNS = "kind, key, path, fingerprint, tags, export_file, source_key, entry, sort, page, color"


_KINDS = {kind.value: kind for kind in Kind}  # a dict lookup: Kind(value) costs more per row


def _records(rows: Iterable[tuple[Any, ...]]) -> dict[tuple[Kind, str], Record]:
    return {
        (_KINDS[kind], key): Record(
            _KINDS[kind],
            key,
            path,
            fp,
            tuple(json.loads(tags)),
            export_file,
            source,
            entry,
            _sort(json.loads(sort)),
            page,
            color,
        )
        for kind, key, path, fp, tags, export_file, source, entry, sort, page, color in rows
    }


def _write(
    db: sqlite3.Connection,
    records: Iterable[Record],
    meta: dict[str, str],
    files: Iterable[FileRecord],
) -> None:
    db.executemany(
        f"INSERT OR REPLACE INTO notes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.kind,
                r.key,
                r.path,
                r.fingerprint,
                json.dumps(list(r.tags)),
                r.export_file,
                r.source_key,
                r.entry,
                json.dumps(list(r.sort)),
                r.page,
                r.color,
            )
            for r in records
        ],
    )
    db.executemany(
        "INSERT OR REPLACE INTO files (path, size, mtime_ns, sources, digest, citations)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (f.path, *f.stamp, json.dumps(list(f.sources)), f.digest, json.dumps(list(f.citations)))
            for f in files
        ],
    )
    db.executemany(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        sorted({**meta, "version": VERSION}.items()),
    )
