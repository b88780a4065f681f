"""One sync: read the export, scan the vault, plan, apply, remember."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obsync import export, obsidian_base
from obsync.changes import file_records, find_scope, settings_fingerprint
from obsync.config import Settings
from obsync.model import ExportRead
from obsync.plan import (
    PAPERS_PER_PART,
    Counts,
    Plan,
    combine,
    outcome,
    plan_parts,
)
from obsync.progress import PLANNING, SYNCING, Progress
from obsync.scan import SameFile, VaultIndex, scan
from obsync.state import Record, StateStore
from obsync.templating import DEFAULT as DEFAULT_TEMPLATES
from obsync.vault import Applied, apply, remove_temp_files
from obsync.zotero import source as zotero

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Report:
    export: ExportRead
    plan: Plan
    applied: Applied | None  # None for a dry run
    scope: str = "all"  # "all" notes looked at, the papers "changed", or "nothing" changed

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
            "scope": self.scope,
        }

    def summary(self) -> str:
        if self.scope == "nothing":
            return "nothing changed in the export since the last sync"
        a, s = self.plan.annotations, self.plan.sources
        papers = "changed papers: " if self.scope == "changed" else ""
        return (
            f"{papers}annotations: {a.created} created, {a.updated} updated, "
            f"{a.unchanged} unchanged, {a.removed} marked removed, {a.conflicts} conflicts; "
            f"sources: {s.created} created, {s.updated} updated, {s.unchanged} unchanged; "
            f"files: {self.export.files_read} read, {self.export.files_failed} with errors"
        )


def run_sync(
    settings: Settings,
    *,
    dry_run: bool = False,
    restore_deleted: bool = False,
    full: bool = False,
    check_vault: bool = True,
    cache: export.ReadCache | None = None,
    unsettled: frozenset[Path] = frozenset(),
    stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> Report:
    """Sync what changed in the export since the last sync (see changes.py), or everything:
    when asked (``full``, ``restore_deleted``) or when only a whole look is safe.
    ``check_vault=False`` skips listing the vault's folders (the daemon, between rescans).
    ``progress`` is told of each export file read and each note written (the command
    line's bar; see progress.py)."""
    cache = {} if cache is None else cache
    store = StateStore(settings.state_file)
    if not dry_run:
        obsidian_base.write_once(settings, store)  # the vault's Base, once ever
    # Zotero's Web API, when configured: what it changed calls for a look at everything.
    pulled = zotero.pull(settings.zotero, store) if settings.zotero is not None else None
    full = full or (pulled is not None and pulled.changed)
    scope = (
        None
        if full or restore_deleted
        else find_scope(
            settings, store, cache, unsettled, check_vault=check_vault, progress=progress
        )
    )
    if scope is not None:
        read, index, state = scope.export, scope.index, scope.state
        files, files_gone = file_records(scope.reads, settings.export), scope.gone
        log.debug("changed since the last sync: %d files read, %d gone, %d annotations",
                  len(scope.reads), len(files_gone), len(read.annotations))  # fmt: skip
    else:
        read = export.read_folder(settings.export, cache, hold=unsettled, progress=progress)
        if progress is not None:
            progress(PLANNING, 0, None)
        index = scan(settings.vault)
        if not dry_run:
            remove_temp_files(settings.vault, index.temp_files)
        state = store.load()
        stamped = [(cache[p][1], cache[p][0]) for p in read.files if p not in unsettled]
        files, files_gone = file_records(stamped, settings.export), []
    if scope is None or not scope.empty:
        read = zotero.merged(read, pulled, None if scope is None else scope.state)
    for error in read.errors:
        log.warning("%s", error)
    if progress is not None and scope is not None and not scope.empty:
        progress(PLANNING, 0, None)
    looked_at = "all" if scope is None else "nothing" if scope.empty else "changed"
    if scope is not None and scope.empty:
        if not dry_run:
            store.set_meta({"last_sync": _now()})
        return Report(read, combine([]), None if dry_run else Applied(), looked_at)
    if not dry_run:
        settings.vault.mkdir(parents=True, exist_ok=True)

    def parts_over(index: VaultIndex) -> plan_parts:
        return plan_parts(
            read,
            index,
            state,
            settings,
            restore_deleted=restore_deleted,
            same_file=SameFile(settings.vault),
            papers=PAPERS_PER_PART if scope is None else None,
        )

    if not dry_run and scope is None and settings.templates != DEFAULT_TEMPLATES:
        # The user's templates may fail on one paper's data only: try every note before
        # the first part is written, so none is written with a template that fails.
        # (On a copy of the vault's names: planning takes names as it goes.)
        trial = parts_over(replace(index, stems=set(index.stems), files=set(index.files)))
        if trial.papers > PAPERS_PER_PART:  # in one part, every note is planned first
            for _ in trial:
                pass
    parts = parts_over(index)
    if dry_run:
        return Report(read, combine(list(parts)), None, looked_at)

    plans: list[Plan] = []
    applied = Applied()
    kept: set[tuple[str, str]] = set()  # every record a full sync keeps
    saved: list[Record] = []
    started = stopped = False
    for part in parts:
        if plans and stop():
            stopped = True  # the papers left are for the next sync, a full one
            break
        _log_findings(part)
        if not started and not part.empty:
            store.set_meta({"complete": "0"})  # a sync cut short is followed by a full one
            started = True
        done = apply(part, settings.vault, stop, progress if scope is not None else None)
        applied.extend(done)
        if scope is None and progress is not None:
            progress(SYNCING, parts.papers_done, parts.papers)
        # What was written is remembered at once: a sync stopped in a later part (a
        # template failing there, SIGKILL) leaves no note that obsync would take for
        # the user's. A note not written keeps the record it had.
        not_done = {path for path, _ in done.failed} | {path for path, _ in done.skipped}
        undone = {(w.kind, w.key) for w in part.writes if w.path in not_done}
        records = [
            r if (r.kind, r.key) not in undone else state.get(r.kind, r.key) for r in part.records
        ]
        kept.update((r.kind, r.key) for r in records if r is not None)
        changed = [r for r in records if r is not None and state.get(r.kind, r.key) != r]
        if scope is None:
            store.update(changed, {})
        else:
            saved += changed  # one part: saved with the meta below, in one transaction
        plans.append(outcome(part))
    plan = combine(plans)
    report = Report(read, plan, applied, looked_at)
    incomplete = stopped or bool(applied.failed or applied.skipped)  # a full sync retries them
    meta = {
        "last_sync": _now(),
        "last_report": json.dumps(report.as_json(), ensure_ascii=False),
        "vault": str(settings.vault),
        "export": str(settings.export),
        "settings": settings_fingerprint(settings),
        "complete": "0" if incomplete else "1",
    }
    if scope is None and not stopped:
        store.keep_only(kept, meta, files)
    else:
        store.update(saved, meta, files, files_gone)
    if not stopped:
        zotero.synced(pulled)
    return report


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _log_findings(plan: Plan) -> None:
    for problem in plan.problems:
        log.warning("%s: %s", problem.path, problem.message)
    for conflict in plan.conflicts:
        log.warning(
            "conflict: %s was edited above the marker and changed in Zotero; new version in %s",
            conflict.path,
            conflict.copy,
        )
