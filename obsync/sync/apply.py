"""The last steps of a sync: plan a batch, write it, commit its records; batch after batch.

What was written is remembered at once. A note not written keeps its record; a note
written and not remembered (a kill between the two) carries its own stamp, so the next
sync knows it as obsync's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from obsync.progress import SYNCING, Progress
from obsync.settings.config import Settings
from obsync.sync.batches import Batch, InBatches
from obsync.sync.plan import Plan, combine, outcome
from obsync.sync.state import Commit, Record, Snapshot, StateStore
from obsync.vault.read import NoteKey, VaultReader
from obsync.vault.write import Applied, apply

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Written:
    """What the batches of a sync did: the plan's outcome, what was written, the key of
    every record kept (None: stopped before the last batch, the rest is the next sync's)."""

    plan: Plan
    applied: Applied = field(default_factory=Applied)
    kept: set[NoteKey] | None = field(default_factory=set)


def dry_run(planner: InBatches, batches: list[Batch], vault: VaultReader) -> Plan:
    """The plan of every batch, nothing written."""
    return combine(planner.plan(batch, vault.notes(batch.notes)) for batch in batches)


def write(
    settings: Settings,
    store: StateStore,
    vault: VaultReader,
    planner: InBatches,
    batches: list[Batch],
    records: Snapshot,
    *,
    everything: bool,
    stop: Callable[[], bool],
    progress: Progress | None,
) -> Written:
    """Plan each batch, write it, commit its records, until done or told to stop."""
    plans: list[Plan] = []
    done = Written(combine([]))
    papers = sum(len(_exported(b)) for b in batches)
    papers_done, started = 0, False
    for batch in batches:
        if plans and stop():
            return Written(combine(plans), done.applied, None)
        step = planner.plan(batch, vault.notes(batch.notes))
        log_findings(step)
        if not started and not step.empty:
            store.commit(Commit(meta=(("complete", "0"),)))  # cut short: everything next
            started = True
        applied = apply(step, settings.vault, stop, None if everything else progress)
        done.applied.extend(applied)
        papers_done += len(_exported(batch))
        if everything and progress is not None:
            progress(SYNCING, papers_done, papers)
        kept = _remember(store, step, applied, records)
        assert done.kept is not None
        done.kept |= kept
        plans.append(outcome(step))
    done.plan = combine(plans)
    return done


def _exported(batch: Batch) -> set[str]:
    return {a.source.key for a in batch.export.annotations}


def _remember(store: StateStore, step: Plan, applied: Applied, records: Snapshot) -> set[NoteKey]:
    """Commit the records of what was written; the keys of the records kept."""
    not_done = {path for path, _ in applied.failed} | {path for path, _ in applied.skipped}
    undone = {(w.kind, w.key) for w in step.writes if w.path in not_done}
    new: list[Record | None] = [
        r if (r.kind, r.key) not in undone else records.get(r.kind, r.key) for r in step.records
    ]
    kept = {(r.kind, r.key) for r in new if r is not None}
    changed = tuple(r for r in new if r is not None and records.get(r.kind, r.key) != r)
    if changed:
        store.commit(Commit(records=changed))
    return kept


def log_findings(plan: Plan) -> None:
    for problem in plan.problems:
        log.warning("%s: %s", problem.path, problem.message)
    for conflict in plan.conflicts:
        log.warning(
            "conflict: %s was edited above the marker and changed in Zotero; new version in %s",
            conflict.path,
            conflict.copy,
        )
