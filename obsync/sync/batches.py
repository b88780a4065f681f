"""A sync's papers in batches of a few each, planned and written one batch at a time, so a
sync of 100,000 notes never holds every note's new text at once.

A batch is some papers, their annotations and the records of those annotations (by the
paper each is in now, else the one it was in) and of the papers; a last batch holds the
records of papers the export no longer has. Planned in turn by :class:`InBatches`, the
batches decide what one plan over everything would: every paper is named first, names
given in a batch are taken for the next, and so are pictures copied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from obsync.model import Annotation, ExportRead, Kind
from obsync.settings.config import Settings
from obsync.sync.plan import Plan, Seen, make_plan, source_paths
from obsync.sync.state import Record, Snapshot
from obsync.vault.names import FreeNames
from obsync.vault.read import NoteKey, Notes
from obsync.vault.write import Action

PAPERS_PER_BATCH = 50


@dataclass(frozen=True, slots=True)
class Batch:
    """Some papers of a sync: their annotations and their records."""

    papers: tuple[str, ...]
    export: ExportRead
    state: Snapshot

    @property
    def notes(self) -> set[NoteKey]:
        """The key of every note the batch's plan looks at."""
        keys: set[NoteKey] = {(Kind.ANNOTATION, a.key) for a in self.export.annotations}
        keys |= {(Kind.SOURCE, a.source.key) for a in self.export.annotations}
        return keys | set(self.state.records)


def batches(
    export: ExportRead, state: Snapshot, size: int | None = PAPERS_PER_BATCH
) -> list[Batch]:
    """The papers of ``export`` and ``state`` in batches of ``size`` (None: one batch)."""
    by_paper: dict[str, list[Annotation]] = defaultdict(list)
    for annotation in export.annotations:
        by_paper[annotation.source.key].append(annotation)
    if size is None:
        return [Batch(tuple(sorted(by_paper)), export, state)]
    now = {a.key: a.source.key for a in export.annotations}
    records: dict[str, dict[NoteKey, Record]] = defaultdict(dict)
    for (kind, key), record in state.records.items():
        paper = now.get(key, record.source_key) if kind == Kind.ANNOTATION else key
        records[paper][(kind, key)] = record
    papers = sorted(by_paper)
    groups = [papers[i : i + size] for i in range(0, len(papers), size)]
    if gone := sorted(set(records) - set(by_paper)):
        groups.append(gone)
    return [
        Batch(
            tuple(group),
            replace(export, annotations=tuple(a for p in group for a in by_paper.get(p, ()))),
            Snapshot({k: r for p in group for k, r in records[p].items()}, state.meta),
        )
        for group in groups
    ]


@dataclass(slots=True)
class InBatches:
    """Plans a sync's batches in turn, as one plan over all of them would."""

    settings: Settings
    restore_deleted: bool
    sources: Mapping[str, PurePosixPath]  # where every paper's literature note is or will be
    names: FreeNames  # the vault's names, and those given so far
    same_images: set[PurePosixPath] = field(default_factory=set)

    @classmethod
    def start(
        cls,
        export: ExportRead,
        settings: Settings,
        *,
        found: Mapping[str, PurePosixPath],
        taken: set[str],
        same_images: set[PurePosixPath],
        restore_deleted: bool = False,
    ) -> InBatches:
        """Every paper named first (``found``: the literature notes there are), as one
        plan would, before any annotation note is."""
        names = FreeNames(set(taken))
        infos = {a.source.key: a.source for a in export.annotations}
        sources = source_paths(infos, found, names, settings)
        for path in sources.values():
            names.take(path.stem)
        return cls(settings, restore_deleted, sources, names, set(same_images))

    def plan(self, batch: Batch, notes: Notes) -> Plan:
        """The plan of one batch, its notes read; the names and pictures it gives are
        taken for the batches after it."""
        seen = Seen(notes, self.names.taken, frozenset(self.same_images))
        result = make_plan(
            batch.export, seen, batch.state, self.settings,
            restore_deleted=self.restore_deleted, sources=self.sources,
        )  # fmt: skip
        for write in result.writes:
            if write.action is Action.CREATE:
                self.names.take(write.path.stem)
        self.same_images.update(copy.path for copy in result.copies)
        return result
