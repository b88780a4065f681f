"""One sync, the same for every sync: look, decide the scope, read, plan, apply, commit.

1. Look cheaply at both sides (sync/look.py): a stat listing of the export folder, the
   state's record of each export file, and (for ``obsync sync``, the daemon's start and
   rescans) the names of the vault's files, no note read.
2. Decide the scope (sync/scope.py, pure); "everything" is the widest scope.
3. Read the export files in scope (one reader, one cache), widening the scope by what
   the papers read need, until it no longer grows.
4. Locate the scope's notes where the state says they are; a note not there is looked for
   by key before it counts as deleted (vault/read.py).
5. Plan in batches of a few papers (sync/plan.py, pure; sync/batches.py), write each
   batch (vault/write.py, the one writer) and commit its records at once (sync/apply.py,
   sync/state.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from obsync.export.folder import NO_HOLD, ExportFolder, Hold
from obsync.model import ExportRead
from obsync.progress import PLANNING, Progress
from obsync.settings.config import Settings
from obsync.settings.templates import DEFAULT as DEFAULT_TEMPLATES
from obsync.sync import apply, look
from obsync.sync.batches import PAPERS_PER_BATCH, InBatches, batches
from obsync.sync.plan import combine, removed_before
from obsync.sync.report import ALL, CHANGED, NOTHING, Report
from obsync.sync.scope import ORDINARY, Request, settings_fingerprint
from obsync.sync.state import Commit, StateStore
from obsync.vault import base
from obsync.vault.read import VaultReader, same_images
from obsync.vault.write import Applied, remove_temp_files
from obsync.zotero import source as zotero

__all__ = ["Report", "Request", "run_sync"]

log = logging.getLogger(__name__)


def _never() -> bool:
    return False


def run_sync(
    settings: Settings,
    request: Request = ORDINARY,
    *,
    folder: ExportFolder | None = None,
    hold: Hold = NO_HOLD,
    stop: Callable[[], bool] = _never,
    progress: Progress | None = None,
) -> Report:
    """Sync what the export and the vault say changed since the last sync; everything
    when asked (``request.full``) or when the state cannot say. ``folder``: the export
    folder with its read cache, kept from sync to sync (the daemon's); ``hold``: export
    files still being written, not read now; ``stop`` is asked between writes;
    ``progress`` is told of each export file read and each note written."""
    with StateStore(settings.state_file) as store:
        if not request.dry_run:
            base.write_once(settings, store)  # the vault's Base, once ever
        folder = folder or ExportFolder(settings.export)
        vault = VaultReader.of(settings.vault, own_folders(settings), listed=request.list_vault)
        # Zotero's Web API, when configured: what it changed calls for a look at everything.
        pulled = zotero.pull(settings.zotero, store) if settings.zotero is not None else None
        if pulled is not None and pulled.changed:
            request = replace(request, full=True)
        looked = look.look(settings, request, store, folder, vault, hold=hold, progress=progress)
        if looked.scope.empty:
            return _nothing_changed(settings, request, store, vault, looked)
        everything = looked.scope.everything
        read = zotero.merged(looked.read, pulled, None if everything else looked.records)
        for error in read.errors:
            log.warning("%s", error)
        if progress is not None:
            progress(PLANNING, 0, None)
        located = look.locate_notes(settings, replace(looked, read=read), store, vault, request)
        records = looked.records  # and, every note read, those marked removed it lost
        if everything:
            live = {a.key for a in read.annotations}
            records = removed_before(vault.read_so_far(), located.sources, records, live,
                                     settings.marker)  # fmt: skip
        if not request.dry_run:
            settings.vault.mkdir(parents=True, exist_ok=True)
            remove_temp_files(settings.vault, located.temp_files)
        planner = InBatches.start(
            read, settings, found=located.sources, taken=set(located.stems),
            same_images=same_images(settings.vault, look.images(settings, read)),
            restore_deleted=request.restore_deleted,
        )  # fmt: skip
        scope = ALL if everything else CHANGED
        if request.dry_run:
            plan = apply.dry_run(planner, batches(read, records), vault)
            return Report(read, plan, None, scope, vault.read)
        _try_templates(settings, planner, read, looked, vault)
        done = apply.write(
            settings, store, vault, planner, batches(read, records), looked.records,
            everything=everything, stop=stop, progress=progress,
        )  # fmt: skip
        report = Report(read, done.plan, done.applied, scope, vault.read)
        _commit(settings, store, looked, report, done)
        if done.kept is not None:
            zotero.synced(pulled)
        return report


def own_folders(settings: Settings) -> tuple[str, ...]:
    """obsync's folders in the vault, as ``"folder/"``."""
    return (f"{settings.annotations_folder}/", f"{settings.sources_folder}/")


def _nothing_changed(
    settings: Settings,
    request: Request,
    store: StateStore,
    vault: VaultReader,
    looked: look.Looked,
) -> Report:
    if not request.dry_run:
        if vault.listing is not None and vault.listing.temp_files:
            remove_temp_files(settings.vault, vault.listing.temp_files)
        store.commit(Commit(meta=(("last_sync", _now()),), files=looked.files))
    return Report(looked.read, combine([]), None if request.dry_run else Applied(), NOTHING)


def _try_templates(
    settings: Settings, planner: InBatches, read: ExportRead, looked: look.Looked,
    vault: VaultReader,
) -> None:  # fmt: skip
    """The user's templates may fail on one paper's data only: every note is tried before
    the first batch is written, so none is written with a template that fails (in one
    batch, every note is planned before any is written anyway)."""
    if settings.templates == DEFAULT_TEMPLATES:
        return
    if len({a.source.key for a in read.annotations}) > PAPERS_PER_BATCH:
        trial = batches(read, looked.records)
        trier = replace(planner, names=replace(planner.names, taken=set(planner.names.taken)),
                        same_images=set(planner.same_images))  # fmt: skip
        for batch in trial:
            trier.plan(batch, vault.notes(batch.notes))


def _commit(
    settings: Settings, store: StateStore, looked: look.Looked, report: Report,
    done: apply.Written,
) -> None:  # fmt: skip
    """The sync's end in the state: its report, and whether it went to the end."""
    assert report.applied is not None
    incomplete = done.kept is None or bool(report.applied.failed or report.applied.skipped)
    meta = {
        "last_sync": _now(),
        "last_report": json.dumps(report.as_json(), ensure_ascii=False),
        "vault": str(settings.vault),
        "export": str(settings.export),
        "settings": settings_fingerprint(settings),
        "complete": "0" if incomplete else "1",  # a sync cut short: everything next time
    }
    everything = looked.scope.everything
    store.commit(
        Commit(
            meta=tuple(meta.items()),
            files=looked.files,
            files_gone=tuple(sorted(looked.scope.gone)),
            # A sync of everything that went to the end forgets what it did not keep.
            kept=frozenset(done.kept) if everything and done.kept is not None else None,
        )
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
