"""What one sync looks at: a pure function of what the export, the vault and the state say.

Every sync looks cheaply at both sides first: a stat listing of the export folder, the
state's record of each export file as last read (its stamp, a digest of its bytes, the
papers and citations it held). :func:`scope` turns that into a :class:`Scope`: which
papers, which export files to read. "Everything" is only the widest scope: the first
sync, one after a sync that did not finish, changed settings, ``--full``. Otherwise the
scope holds the papers of the files that changed, and :func:`widen` adds what those
papers need, until nothing more is added:

* every file holding a paper in scope (one paper's annotations merge across files);
* the papers a file read now holds (a new paper, an annotation that moved papers);
* a paper known only by its citation (an export without links) could be the same as any
  paper of that citation: those papers and their files;
* the papers of the notes the user deleted, on ``--restore-deleted``.

A file whose stamp changed but whose bytes did not changes nothing: only its stamp is kept
anew. A new paper needs no wider look at the export: its note's name is chosen against the
vault's names (a names-only listing), see sync/look.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Set
from dataclasses import dataclass, field

from obsync import __version__
from obsync.export.folder import Stamp
from obsync.settings.config import Settings
from obsync.sync.state import FileRecord

KEYLESS = "obs-"  # the key of a paper known only by its citation


def settings_fingerprint(settings: Settings) -> str:
    """What a note's rendering depends on besides the export: a change means everything."""
    values = {
        "version": __version__,
        # 2: notes carry a stamp of their generated part; 3: Zotero's order, its tags, the
        # author, highlighted text literal
        "notes": 3,
        "export": str(settings.export),
        "vault": str(settings.vault),
        "folders": [
            settings.annotations_folder,
            settings.sources_folder,
            settings.attachments_folder,
        ],
        "marker": settings.marker,
        "colors": sorted((k, list(v)) for k, v in settings.colors.items()),
        "tag_prefix": settings.tag_prefix,
        "comment_links": settings.comment_links,
        "templates": [settings.templates.annotation.text, settings.templates.source.text],
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Request:
    """What was asked of this sync."""

    full: bool = False  # look at every export file and note
    restore_deleted: bool = False  # write again the notes the user deleted
    dry_run: bool = False  # plan, write nothing
    list_vault: bool = True  # list the vault's names first (else only when a note needs them)


ORDINARY = Request()  # a sync of what changed, as `obsync sync` runs it


@dataclass(frozen=True, slots=True)
class Contents:
    """What a file read in this sync holds, as the scope needs it."""

    papers: frozenset[str]
    citations: frozenset[str]


@dataclass(frozen=True, slots=True)
class Scope:
    """The part of the library one sync looks at."""

    everything: bool
    papers: frozenset[str] = frozenset()  # with everything: those found so far
    files: frozenset[str] = frozenset()  # export files to read
    same: frozenset[str] = frozenset()  # a new stamp, the same bytes: only restamped
    gone: frozenset[str] = frozenset()  # files the state knows that are no longer there
    reasons: tuple[str, ...] = field(default=(), compare=False)

    @property
    def empty(self) -> bool:
        return not (self.everything or self.papers or self.files or self.gone)


def restamped(listing: Mapping[str, Stamp], stored: Mapping[str, FileRecord]) -> list[str]:
    """The files whose stamp is not the one the state keeps: new or written again."""
    return sorted(n for n, stamp in listing.items() if n not in stored or stored[n].stamp != stamp)


def scope(
    request: Request,
    listing: Mapping[str, Stamp],
    stored: Mapping[str, FileRecord],
    meta: Mapping[str, str] | None,
    fingerprint: str,
    *,
    held: Set[str] = frozenset(),
    digests: Mapping[str, str] | None = None,
    deleted_papers: Set[str] = frozenset(),
) -> Scope:
    """The scope a sync starts from (pure). ``digests``: of the files :func:`restamped`
    names, read now; ``held``: files still being written, not listed; ``deleted_papers``:
    the papers of the notes the user deleted."""
    reasons = []
    if request.full:
        reasons.append("asked for (--full)")
    if not meta:
        reasons.append("no state: the first sync")
    elif meta.get("complete") != "1":
        reasons.append("the last sync did not finish")
    elif meta.get("settings") != fingerprint:
        reasons.append("the settings or obsync's version changed")
    if reasons:
        return Scope(True, files=frozenset(listing), reasons=tuple(reasons))
    digests = digests or {}
    changed = set(restamped(listing, stored))
    same = {
        n for n in changed
        if n in stored and stored[n].digest and digests.get(n) == stored[n].digest
    }  # fmt: skip
    files = changed - same
    gone = {n for n in stored if n not in listing and n not in held}
    papers = {s for n in files | gone if n in stored for s in stored[n].sources}
    if request.restore_deleted:
        papers |= deleted_papers
    start = Scope(False, frozenset(papers), frozenset(files), frozenset(same), frozenset(gone))
    return widen(start, {}, stored, listing)


def widen(
    scope: Scope,
    read: Mapping[str, Contents],
    stored: Mapping[str, FileRecord],
    listing: Mapping[str, Stamp],
    papers: Set[str] = frozenset(),
) -> Scope:
    """``scope`` with what its papers need (pure): the papers the files read hold and
    ``papers`` (an annotation's former paper), the files holding any of them, and the
    papers a citation could match. Returns ``scope`` itself when nothing is added."""
    if scope.everything:
        return scope
    known = _known(scope, read, stored)
    wanted = set(scope.papers) | set(papers)
    for name in scope.files & read.keys():
        wanted |= read[name].papers
    files = set(scope.files)
    keyless = {c for k in known.values() if any(p.startswith(KEYLESS) for p in k.papers)
               for c in k.citations}  # fmt: skip
    while more := _files_needed(known, keyless, wanted, files, listing):
        files |= more
        wanted |= {p for n in more for p in known[n].papers}
    if frozenset(wanted) == scope.papers and frozenset(files) == scope.files:
        return scope
    return Scope(False, frozenset(wanted), frozenset(files), scope.same, scope.gone, scope.reasons)


def _known(
    scope: Scope, read: Mapping[str, Contents], stored: Mapping[str, FileRecord]
) -> dict[str, Contents]:
    """What every export file there is holds: as read now, else as the state recorded it."""
    known = {
        name: Contents(frozenset(record.sources), frozenset(record.citations))
        for name, record in stored.items()
    }
    known |= read
    return {name: contents for name, contents in known.items() if name not in scope.gone}


def _files_needed(
    known: Mapping[str, Contents],
    keyless: Set[str],
    wanted: Set[str],
    files: Set[str],
    listing: Mapping[str, Stamp],
) -> set[str]:
    """The listed files not yet in scope that hold a paper in it, or a citation (of those
    of keyless papers, ``keyless``) that a paper in it shares: a paper known only by its
    citation could be that paper."""
    cited = {c for k in known.values() if k.papers & wanted for c in k.citations} & keyless
    return {
        n for n, k in known.items()
        if n not in files and n in listing and (k.papers & wanted or k.citations & cited)
    }  # fmt: skip
