"""What a sync did, told: its counts, the summary line, ``--json``, the daemon's status line,
the dry run's plan, and the last run in ``obsync status``. One place turns counts into text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from obsync.model import ExportRead
from obsync.sync.plan import Counts, Plan
from obsync.vault.write import Applied

ALL, CHANGED, NOTHING = "all", "changed", "nothing"  # what a sync looked at


@dataclass(frozen=True, slots=True)
class Report:
    export: ExportRead
    plan: Plan
    applied: Applied | None  # None for a dry run
    scope: str = ALL  # ALL notes looked at, the papers CHANGED, or NOTHING changed
    notes_read: int = 0  # what this sync cost in the vault

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
        return {
            "annotations": _counts(self.plan.annotations, annotations=True),
            "sources": _counts(self.plan.sources, annotations=False),
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
        """The line ``obsync sync`` prints, and the daemon logs."""
        if self.scope == NOTHING:
            return "nothing changed in the export since the last sync"
        s = self.plan.sources
        papers = "changed papers: " if self.scope == CHANGED else ""
        return (
            f"{papers}annotations: {annotation_counts(self.as_json()['annotations'])}; "
            f"sources: {s.created} created, {s.updated} updated, {s.unchanged} unchanged; "
            f"files: {self.export.files_read} read, {self.export.files_failed} with errors"
        )

    def status(self) -> str:
        """The daemon's status line (systemd's STATUS=)."""
        if self.scope == NOTHING:
            return "last sync: nothing changed in the export"
        a = self.plan.annotations
        total = a.created + a.updated + a.unchanged
        known = f"{total} annotations; " if self.scope == ALL else ""
        return (
            f"{known}last sync: {a.created} created, "
            f"{a.updated} updated, {a.removed} removed, {a.conflicts} conflicts, "
            f"{len(self.errors)} errors"
        )


def _counts(c: Counts, *, annotations: bool) -> dict[str, int]:
    out = {"created": c.created, "updated": c.updated, "unchanged": c.unchanged}
    if annotations:
        out |= {"removed": c.removed, "conflicts": c.conflicts}
    return out


def annotation_counts(counts: Mapping[str, int], *, unchanged: bool = True) -> str:
    """An ``annotations`` object of ``--json`` as words (the summary, ``obsync status``)."""
    words = [f"{counts['created']} created", f"{counts['updated']} updated"]
    if unchanged:
        words.append(f"{counts['unchanged']} unchanged")
    words += [f"{counts['removed']} marked removed", f"{counts['conflicts']} conflicts"]
    return ", ".join(words)


def describe(plan: Plan) -> Iterable[str]:
    """The plan as lines for ``--dry-run``."""
    for write in plan.writes:
        yield f"{write.action.value:13} {write.kind:10} {write.path}"
    for copy in plan.copies:
        yield f"{'copy':13} {'image':10} {copy.path}"
    for conflict in plan.conflicts:
        yield f"{'conflict':13} {conflict.kind:10} {conflict.path} (new version: {conflict.copy})"
    for problem in plan.problems:
        yield f"{'problem':13} {'note':10} {problem.path}: {problem.message}"
