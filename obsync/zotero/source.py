"""Zotero's Web API as a source: fetch what changed, keep it, hand a sync its annotations.

Each library's items (annotations, their attachments and papers) are kept in the
state store as of a library version. A pull asks for what changed since that version
(a 304 when nothing did: one request), the keys deleted since, and the parents the
new annotations need; a 409 starts the library again from 0, and a library that
moves while it is read is read again. The annotations then join the export's, each
library standing where an export has a file (``zotero:users/NNN``): an annotation
the library no longer holds is marked removed, as one gone from its export file is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from obsync.export.assemble import valid_key
from obsync.export.merge import best_sources, with_source
from obsync.model import Annotation, ExportRead, InputError
from obsync.sync.state import Snapshot, StateStore
from obsync.zotero import items as api_items
from obsync.zotero.api import KEYS_PER_REQUEST, Unreachable, VersionGone, ZoteroApi
from obsync.zotero.settings import Secret, ZoteroSettings

log = logging.getLogger(__name__)

ROUNDS = 4  # passes over a library that keeps moving before its first version is kept
USER_META = "zotero_user"  # the key's own library, found once
WAITING_META = "zotero_waiting"  # image annotations whose picture Zotero has not rendered


@dataclass(slots=True)
class Pulled:
    """What the API source has for this sync."""

    settings: ZoteroSettings
    store: StateStore
    libraries: tuple[str, ...]
    unreachable: set[str] = field(default_factory=set)
    versions: dict[str, int] = field(default_factory=dict)  # as fetched
    changed: bool = False  # the vault is behind what was fetched
    requests: int = 0
    # Keys of the items this pull fetched or saw deleted. ``touched_all``: they are every
    # change since the vault was synced, so a sync of their papers alone would do (the
    # sync here looks at everything when ``changed``; a narrower one may use these).
    touched: set[str] = field(default_factory=set)
    touched_all: bool = True


def pull(
    settings: ZoteroSettings,
    store: StateStore,
    api_factory: Callable[[ZoteroSettings], ZoteroApi] | None = None,
) -> Pulled:
    """Bring every library's kept items up to date; a server out of reach is a warning."""
    make = api_factory or (lambda s: ZoteroApi(s.api_url, s.key))
    libraries = settings.libraries
    pulled = Pulled(settings, store, libraries)
    if not libraries:
        try:
            libraries = (own_library(settings, store, make),)
        except Unreachable as exc:
            log.warning("Zotero API: %s; syncing the export folder alone", exc)
            return pulled  # no library known yet: nothing to read
        pulled.libraries = libraries
    known = store.zotero_versions()
    for library in libraries:
        with make(settings) as api:  # one client, one request at a time, per library
            fetched, synced_at = known.get(library, (0, -1))
            one = LibraryPull(api, store, library, fetched)
            try:
                version = one.run()
                pulled.touched |= one.touched
                pulled.touched_all &= fetched == synced_at and not one.reset
            except Unreachable as exc:
                log.warning("Zotero API, %s: %s; the next sync catches up", library, exc)
                pulled.unreachable.add(library)
                version = fetched
            finally:
                pulled.requests += api.requests
        pulled.versions[library] = version
        if version != synced_at and library not in pulled.unreachable:
            pulled.changed = True
    if not pulled.changed and _pictures_arrived(pulled):
        pulled.changed, pulled.touched_all = True, False
    return pulled


def own_library(
    settings: ZoteroSettings, store: StateStore, make: Callable[[ZoteroSettings], ZoteroApi]
) -> str:
    """``users/NNN`` of the key, asked once per key and then remembered (by a digest
    of the key, never the key)."""
    tag = _digest(settings.key)
    meta = store.load_meta() or {}
    kept_tag, _, library = meta.get(USER_META, "").partition(" ")
    if kept_tag == tag and library:
        return library
    with make(settings) as api:
        library = api.user_id()
    store.set_meta({USER_META: f"{tag} {library}"})
    return library


def _digest(key: Secret) -> str:
    return hashlib.sha256(b"obsync zotero key\0" + key.reveal().encode()).hexdigest()[:16]


@dataclass(slots=True)
class LibraryPull:
    """One library brought up to date from ``since``: returns the version now kept."""

    api: ZoteroApi
    store: StateStore
    library: str
    since: int
    touched: set[str] = field(default_factory=set)
    reset: bool = False  # read again from 0 (first time, or after a 409)

    def run(self) -> int:
        since = self.since
        for round_ in range(1, ROUNDS + 1):
            try:
                # The last pass keeps its first version even if the library moves on:
                # what changed after it is newer, so the next sync fetches it.
                result = self.one_pass(since, strict=round_ < ROUNDS)
            except VersionGone:
                log.info("Zotero API, %s: reading the library again from the start",
                         self.library)  # fmt: skip
                since = 0
                continue
            except _Moved:
                log.info("Zotero API, %s: the library changed while read; again", self.library)
                continue
            if result is None:
                return since  # 304: nothing changed
            version, changed, gone = result
            self.store.zotero_update(self.library, version, changed, gone, reset=since == 0)
            self.touched, self.reset = set(changed) | gone, since == 0
            return version
        return since

    def one_pass(self, since: int, *, strict: bool) -> tuple[int, dict[str, str], set[str]] | None:
        """(version, items to keep, keys gone), or None when nothing changed."""
        seen = _Version(strict)
        fetched = self.fetch_changed(since, seen)
        if fetched is None:
            return None
        if seen.version is None:
            raise Unreachable("the server gave no library version")
        gone = self.fetch_gone(since, seen) if since else set()
        kept = {} if since == 0 else self.store.zotero_items(self.library)
        everything: dict[str, Any] = {
            key: json.loads(text) for key, text in kept.items() if key not in gone
        }
        changed: dict[str, Any] = {}
        # Items of any type changed: annotations are kept, other items only as parents.
        for key, item in fetched.items():
            if _type(item) == "annotation" or key in everything:
                everything[key] = changed[key] = item
        self.add_parents(everything, changed, fetched, seen)
        texts = {key: api_items.dumps(item) for key, item in changed.items()}
        return seen.version, texts, gone

    def fetch_changed(self, since: int, seen: _Version) -> dict[str, dict[str, Any]] | None:
        """The items changed since ``since`` (from 0: the annotations), None on a 304."""
        params: dict[str, str | int] = {"format": "json", "includeTrashed": 1}
        if since:
            params["since"] = since
        else:
            params["itemType"] = "annotation"  # of the rest, only the parents they need
        fetched: dict[str, dict[str, Any]] = {}
        for page in self.api.pages(f"/{self.library}/items", params, since=since or None):
            if page.status == 304:
                return None
            seen.check(page.version)
            fetched |= _by_key(page.body)
        return fetched

    def fetch_gone(self, since: int, seen: _Version) -> set[str]:
        """The keys of items deleted since ``since``."""
        response = self.api.get(f"/{self.library}/deleted", {"since": since})
        seen.check(_int(response.headers.get("Last-Modified-Version")))
        body = _json(response)
        keys = body.get("items", []) if isinstance(body, dict) else []
        return {k for k in keys if isinstance(k, str)}

    def add_parents(
        self,
        everything: dict[str, Any],
        changed: dict[str, Any],
        fetched: dict[str, dict[str, Any]],
        seen: _Version,
    ) -> None:
        """Add to ``everything`` and ``changed`` the parents the items need, up to the
        paper: from ``fetched`` when there, else asked for (once each)."""
        asked: set[str] = set()
        while True:
            wanted = api_items.wanted_parents(everything)
            if found := {k: fetched[k] for k in wanted if k in fetched}:
                everything |= found
                changed |= found
                continue
            wanted -= asked  # asked for and not there: deleted, or not readable
            if not wanted:
                break
            asked |= wanted
            for parents in self.fetch_keys(sorted(wanted), seen):
                everything |= parents
                changed |= parents

    def fetch_keys(self, keys: list[str], seen: _Version) -> Iterator[dict[str, dict[str, Any]]]:
        """The items of these keys, a page at a time, ``KEYS_PER_REQUEST`` keys a request."""
        for start in range(0, len(keys), KEYS_PER_REQUEST):
            query: dict[str, str | int] = {
                "format": "json",
                "includeTrashed": 1,
                "itemKey": ",".join(keys[start : start + KEYS_PER_REQUEST]),
            }
            for page in self.api.pages(f"/{self.library}/items", query):
                seen.check(page.version)
                yield _by_key(page.body)


@dataclass(slots=True)
class _Version:
    """The library version of a pass: every answer must give the same (when strict)."""

    strict: bool
    version: int | None = None

    def check(self, seen: int | None) -> None:
        if seen is None:
            return
        if self.version is None:
            self.version = seen
        elif seen != self.version and self.strict:
            raise _Moved()


class _Moved(Exception):
    """The library moved on between two answers of one pass."""


def _by_key(body: object) -> dict[str, dict[str, Any]]:
    items = body if isinstance(body, list) else []
    return {i["key"]: i for i in items if isinstance(i, dict) and isinstance(i.get("key"), str)}


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise Unreachable("the server's answer is not JSON") from None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _type(item: Mapping[str, Any]) -> object:
    return api_items.data_of(item).get("itemType")


# -- the annotations, for a sync ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiRead:
    annotations: tuple[Annotation, ...]
    errors: tuple[InputError, ...]
    waiting: tuple[str, ...]  # "library key" of annotations whose picture is not here yet


def read(pulled: Pulled) -> ApiRead:
    """Every annotation the kept items hold, converted as an export's would be."""
    finder = picture_finder(pulled.settings.data_dir)
    annotations: list[Annotation] = []
    errors: list[InputError] = []
    waiting: list[str] = []
    for library in pulled.libraries:
        kept = {k: json.loads(v) for k, v in pulled.store.zotero_items(library).items()}
        origin = api_items.origin(library)
        for item in kept.values():
            converted = api_items.convert(library, item, kept, finder)
            if converted.error:
                errors.append(InputError(origin, None, converted.error))
            if (annotation := converted.annotation) is not None:
                annotations.append(annotation)
                if annotation.type in api_items.PICTURED and annotation.image is None:
                    waiting.append(f"{library} {annotation.key}")
    annotations.sort(key=lambda a: a.key)
    errors.sort(key=lambda e: (str(e.file), e.message))
    return ApiRead(tuple(annotations), tuple(errors), tuple(sorted(waiting)))


def picture_finder(data_dir: Path | None) -> api_items.FindPicture:
    """Zotero renders image and ink annotations to ``cache/library/KEY.png`` (a group's
    to ``cache/groups/ID/KEY.png``) in its data folder."""

    def find(library: str, key: str) -> Path | None:
        if data_dir is None or not valid_key(key):
            return None
        kind, _, ident = library.partition("/")
        folder = "library" if kind == "users" else f"groups/{ident}"
        path = data_dir.expanduser() / "cache" / folder / f"{key}.png"
        return path if path.is_file() else None

    return find


def _waiting(store: StateStore) -> tuple[str, ...]:
    """The image annotations whose picture was not there at the last sync."""
    return tuple(json.loads((store.load_meta() or {}).get(WAITING_META, "[]")))


def _pictures_arrived(pulled: Pulled) -> bool:
    finder = picture_finder(pulled.settings.data_dir)
    for entry in _waiting(pulled.store):
        library, _, key = str(entry).partition(" ")
        if library in pulled.libraries and finder(library, key) is not None:
            return True
    return False


def merged(export: ExportRead, pulled: Pulled | None, state: Snapshot | None = None) -> ExportRead:
    """The export's annotations and the API's: one per key, the API's copy unless only
    the export's has the picture. ``state`` given (a sync of some papers): only the API's
    annotations of papers in that sync."""
    if pulled is None:
        return export
    api = read(pulled)
    if api.waiting != _waiting(pulled.store):
        pulled.store.set_meta({WAITING_META: json.dumps(list(api.waiting))})
    theirs = api.annotations if state is None else _of_papers_in(export, state, api.annotations)
    best = {a.key: a for a in export.annotations}
    for annotation in theirs:
        kept = best.get(annotation.key)
        if kept is None or kept.richness()[:2] <= annotation.richness()[:2]:
            best[annotation.key] = annotation
    titles = best_sources((*export.annotations, *theirs))  # the best title any copy gives
    annotations = tuple(
        with_source(a, titles[a.source.key]) for a in sorted(best.values(), key=lambda a: a.key)
    )
    origins = tuple(api_items.origin(lib) for lib in pulled.libraries)
    return replace(
        export,
        annotations=annotations,
        errors=export.errors + api.errors,
        files=export.files + origins,
        failed=export.failed
        | {api_items.origin(lib) for lib in pulled.libraries if lib in pulled.unreachable},
    )


def _of_papers_in(
    export: ExportRead, state: Snapshot, annotations: tuple[Annotation, ...]
) -> tuple[Annotation, ...]:
    """The annotations of papers in a sync of some papers: the export's, and the state's."""
    papers = {a.source.key for a in export.annotations} | {
        r.source_key or r.key for r in state.records.values()
    }
    return tuple(a for a in annotations if a.source.key in papers)


def synced(pulled: Pulled | None) -> None:
    """The vault now holds what was fetched: the next pull that fetches nothing is quiet."""
    if pulled is not None:
        reached = {k: v for k, v in pulled.versions.items() if k not in pulled.unreachable}
        pulled.store.zotero_synced(reached)
