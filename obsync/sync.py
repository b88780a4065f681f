"""One sync: read the export, scan the vault, plan, apply, remember."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obsync import export
from obsync.config import Settings
from obsync.model import ExportRead
from obsync.plan import Counts, Plan, make_plan
from obsync.scan import SameFile, scan
from obsync.state import StateStore
from obsync.vault import Applied, apply, remove_temp_files

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Report:
    export: ExportRead
    plan: Plan
    applied: Applied | None  # None for a dry run

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = [
            {"file": str(e.file), "line": e.line, "message": e.message} for e in self.export.errors
        ]
        errors += [
            {"file": str(p.path), "line": None, "message": p.message} for p in self.plan.problems
        ]
        if self.applied is not None:
            errors += [
                {"file": str(path), "line": None, "message": f"not written: {why}"}
                for path, why in self.applied.failed
            ]
        return errors

    @property
    def exit_code(self) -> int:
        failed = self.applied is not None and bool(self.applied.failed)
        return 1 if self.export.errors or failed else 0

    def as_json(self) -> dict[str, Any]:
        def counts(c: Counts, *, annotations: bool) -> dict[str, int]:
            out = {"created": c.created, "updated": c.updated, "unchanged": c.unchanged}
            if annotations:
                out |= {"removed": c.removed, "conflicts": c.conflicts}
            return out

        return {
            "annotations": counts(self.plan.annotations, annotations=True),
            "sources": counts(self.plan.sources, annotations=False),
            "files": {"read": self.export.files_read, "failed": self.export.files_failed},
            "errors": self.errors,
            "conflicts": [
                {"note": str(c.path), "copy": str(c.copy), "key": c.key}
                for c in self.plan.conflicts
            ],
            "dry_run": self.applied is None,
        }

    def summary(self) -> str:
        a, s = self.plan.annotations, self.plan.sources
        return (
            f"annotations: {a.created} created, {a.updated} updated, {a.unchanged} unchanged, "
            f"{a.removed} marked removed, {a.conflicts} conflicts; "
            f"sources: {s.created} created, {s.updated} updated, {s.unchanged} unchanged; "
            f"files: {self.export.files_read} read, {self.export.files_failed} with errors"
        )


def run_sync(
    settings: Settings,
    *,
    dry_run: bool = False,
    restore_deleted: bool = False,
    cache: export.ReadCache | None = None,
    unsettled: frozenset[Path] = frozenset(),
    stop: Callable[[], bool] = lambda: False,
) -> Report:
    read = export.read_folder(settings.export, cache, hold=unsettled)
    for error in read.errors:
        log.warning("%s", error)
    index = scan(settings.vault)
    if not dry_run:
        remove_temp_files(settings.vault, index.temp_files)
    store = StateStore(settings.state_file)
    state = store.load()
    plan = make_plan(
        read,
        index,
        state,
        settings,
        restore_deleted=restore_deleted,
        same_file=SameFile(settings.vault),
    )
    for problem in plan.problems:
        log.warning("%s: %s", problem.path, problem.message)
    for conflict in plan.conflicts:
        log.warning(
            "conflict: %s was edited above the marker and changed in Zotero; new version in %s",
            conflict.path,
            conflict.copy,
        )
    if dry_run:
        return Report(read, plan, None)
    settings.vault.mkdir(parents=True, exist_ok=True)
    applied = apply(plan, settings.vault, stop)
    not_done = {path for path, _ in applied.failed} | {path for path, _ in applied.skipped}
    undone = {(w.kind, w.key) for w in plan.writes if w.path in not_done}
    records = [
        r if (r.kind, r.key) not in undone else state.get(r.kind, r.key) for r in plan.records
    ]
    report = Report(read, plan, applied)
    store.save(
        [r for r in records if r is not None],
        {
            "last_sync": datetime.now(UTC).isoformat(timespec="seconds"),
            "last_report": json.dumps(report.as_json(), ensure_ascii=False),
            "vault": str(settings.vault),
            "export": str(settings.export),
        },
    )
    return report
