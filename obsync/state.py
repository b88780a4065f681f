"""What obsync last wrote, for change and conflict detection (SQLite, outside the vault).

Losing this file loses nothing: the vault's frontmatter says which note holds
which key, and a note without a record is treated as possibly edited by the
user (obsync then never overwrites its generated part, see plan.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    sort TEXT NOT NULL,          -- JSON: where that line goes (page order)
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
VERSION = "1"


@dataclass(frozen=True, slots=True)
class Record:
    kind: str
    key: str
    path: str
    fingerprint: str
    tags: tuple[str, ...]
    export_file: str = ""
    source_key: str = ""
    entry: str = ""
    sort: tuple[int, float, float, int, str] = (1 << 30, 0.0, 0.0, 0, "")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state as it was when a sync started."""

    records: dict[tuple[str, str], Record]
    meta: dict[str, str]

    def get(self, kind: str, key: str) -> Record | None:
        return self.records.get((kind, key))


EMPTY = Snapshot({}, {})


def _sort(value: list[Any]) -> tuple[int, float, float, int, str]:
    page, top, left, line, key = value
    return (int(page), float(top), float(left), int(line), str(key))


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path)
        connection.executescript(SCHEMA)
        return connection

    def load(self) -> Snapshot:
        """The stored state; an unreadable store is moved aside and rebuilt."""
        if not self.path.exists():
            return EMPTY
        try:
            with contextlib.closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT kind, key, path, fingerprint, tags, export_file, source_key, entry,"
                    " sort FROM notes"
                ).fetchall()
                meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
            records = {
                (kind, key): Record(
                    kind,
                    key,
                    path,
                    fp,
                    tuple(json.loads(tags)),
                    export_file,
                    source,
                    entry,
                    _sort(json.loads(sort)),
                )
                for kind, key, path, fp, tags, export_file, source, entry, sort in rows
            }
            return Snapshot(records, meta)
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            aside = self.path.with_name(self.path.name + ".corrupt")
            log.warning(
                "state %s is unreadable (%s); moved to %s, rebuilding", self.path, exc, aside
            )
            self.path.replace(aside)
            return EMPTY

    def save(self, records: Iterable[Record], meta: dict[str, str]) -> None:
        """Replace the stored state with ``records`` in one transaction."""
        with contextlib.closing(self._connect()) as db, db:
            db.execute("DELETE FROM notes")
            db.executemany(
                "INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    )
                    for r in records
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                sorted({**meta, "version": VERSION}.items()),
            )
