"""Reading the vault: obsync's notes, found by the keys in their frontmatter (reads only).

A sync reads the vault through one :class:`VaultReader`: the names listed once (or not at
all, between the daemon's rescans), each note of the scope located where the state says it
is or, when it is not there, looked for by key among the names no other note of obsync's
has; the notes' texts read a part at a time, as the plan needs them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from obsync.model import Kind
from obsync.vault.listing import (
    Names,
    conflict_copy_of,
    is_conflict_copy,
    list_names,
    note_of_copy,
)
from obsync.vault.note import decode

_KEY = re.compile(
    rf"^({Kind.ANNOTATION.field}|{Kind.SOURCE.field})[ \t]*:[ \t]*"
    r"""(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"][^\n#]*?))[ \t]*$""",
    re.M,
)
_FRONTMATTER_END = re.compile(r"^---[ \t]*$", re.M)

NoteKey = tuple[Kind, str]


@dataclass(frozen=True, slots=True)
class Found:
    path: PurePosixPath  # relative to the vault, with / separators
    text: str


@dataclass(slots=True)
class Notes:
    """Some of obsync's notes, read: by key, with the conflict copies beside them."""

    annotations: dict[str, Found] = field(default_factory=dict)
    sources: dict[str, Found] = field(default_factory=dict)
    conflict_copies: dict[PurePosixPath, str] = field(default_factory=dict)
    read: int = 0  # notes read to find them: what tests count

    def table(self, kind: Kind) -> dict[str, Found]:
        return self.annotations if kind == Kind.ANNOTATION else self.sources

    def add(self, kind: Kind, key: str, found: Found) -> None:
        """A note found by key; the first found of a key stands."""
        self.table(kind).setdefault(key, found)

    @property
    def paths(self) -> set[str]:
        return {str(f.path) for f in (*self.annotations.values(), *self.sources.values())}


def frontmatter_key(text: str) -> NoteKey | None:
    """The kind of note and its Zotero key, from a note's frontmatter, if it has one."""
    if not text.startswith("---"):
        return None
    end = _FRONTMATTER_END.search(text, 3)
    if end is None:
        return None
    match = _KEY.search(text, 0, end.start())
    if match is None:
        return None
    value = next(g for g in match.group(2, 3, 4) if g is not None).strip()
    kind = Kind.of_field(match.group(1))
    return (kind, value) if value and kind is not None else None


def read_text(vault: Path, relative: PurePosixPath) -> str | None:
    """A note's text; None when it is not there, unreadable or a symbolic link."""
    try:
        fd = os.open(os.path.join(vault, relative), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as file:
            return decode(file.read())
    except OSError:
        return None


def conflict_copy(
    vault: Path, note: PurePosixPath, names: Names | None = None
) -> dict[PurePosixPath, str]:
    """The conflict copy beside a note, if there is one (``names`` says, when the vault
    was listed): its path and text."""
    copy = conflict_copy_of(note)
    if names is not None and str(copy) not in names.paths:
        return {}
    text = read_text(vault, copy)
    return {} if text is None else {copy: text}


def read_notes(
    vault: Path,
    wanted: Iterable[tuple[NoteKey, str]],
    notes: Notes,
    names: Names | None = None,
) -> set[NoteKey]:
    """Read notes where the state says they are (``((kind, key), path)``) into ``notes``,
    with their conflict copies (those ``names`` has, when the vault was listed); returns
    the keys of those not there, to be looked for."""
    missing: set[NoteKey] = set()
    for (kind, key), where in wanted:
        relative = PurePosixPath(where)
        text = read_text(vault, relative)
        notes.read += text is not None
        if text is None or frontmatter_key(text) != (kind, key):
            missing.add((kind, key))
            continue
        notes.add(kind, key, Found(relative, text))
        notes.conflict_copies.update(conflict_copy(vault, relative, names))
    return missing


def locate(
    vault: Path,
    keys: set[NoteKey],
    names: Names,
    notes: Notes,
    known: Iterable[str] = (),
    hints: Iterable[str] = (),
) -> set[NoteKey]:
    """Look for notes by key (a note the user moved, or moved while the vault was walked)
    among the vault's names not already read nor ``known`` to hold another note; those
    named like a ``hint`` (where the note was) first. Returns the keys not found."""
    if not keys:
        return keys
    left = set(keys)
    skip = notes.paths | set(known)
    hinted = {h.rsplit("/", 1)[-1] for h in hints}
    candidates = sorted(
        (p for p in names.paths if p.endswith(".md") and p not in skip),
        key=lambda p: (p.rsplit("/", 1)[-1] not in hinted, p),
    )
    for name in candidates:
        if not left:
            break
        relative = PurePosixPath(name)
        if is_conflict_copy(relative):
            continue
        text = read_text(vault, relative)
        notes.read += text is not None
        found = frontmatter_key(text) if text is not None else None
        if found is not None and text is not None and found in left:
            left.discard(found)
            notes.add(*found, Found(relative, text))
            notes.conflict_copies.update(conflict_copy(vault, relative))
    return left


def read_keyed(vault: Path, names: Iterable[str], notes: Notes) -> None:
    """Read the notes among ``names`` into ``notes`` by the keys in their frontmatter;
    conflict copies aside."""
    for name in sorted(p for p in names if p.endswith(".md")):
        relative = PurePosixPath(name)
        text = read_text(vault, relative)
        if text is None:
            continue
        notes.read += 1
        if is_conflict_copy(relative):
            notes.conflict_copies[relative] = text
            continue
        found = frontmatter_key(text)
        if found is not None:
            notes.add(*found, Found(relative, text))


@dataclass(frozen=True, slots=True)
class OpenConflict:
    note: PurePosixPath  # the user's note, kept as it was
    copy: PurePosixPath  # the new version beside it, until the user deletes it
    key: str | None


def open_conflicts(vault: Path) -> list[OpenConflict]:
    """Every conflict copy still in the vault: a conflict stays open until its copy is gone."""
    found = []
    for path in sorted(list_names(vault).paths):
        copy = PurePosixPath(path)
        if not is_conflict_copy(copy):
            continue
        text = read_text(vault, copy)
        key = frontmatter_key(text) if text is not None else None
        found.append(OpenConflict(note_of_copy(copy), copy, key[1] if key else None))
    return found


def same_images(vault: Path, images: Iterable[tuple[Path, PurePosixPath]]) -> set[PurePosixPath]:
    """The attachments that already hold their export image's bytes."""
    same = SameFile(vault)
    return {target for source, target in images if same(source, target)}


@dataclass(frozen=True, slots=True)
class SameFile:
    """Whether a vault file already holds exactly an export file's bytes."""

    vault: Path

    def __call__(self, source: Path, target: PurePosixPath) -> bool:
        path = self.vault / target
        try:
            if path.is_symlink() or path.stat().st_size != source.stat().st_size:
                return False
            return path.read_bytes() == source.read_bytes()
        except OSError:
            return False


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a sync of some papers asks of the vault (found from the state and the export,
    no note read): where its notes were, which were deleted, which are new here."""

    recorded: Mapping[NoteKey, PurePosixPath]  # where the state says each note is
    deleted: frozenset[NoteKey] = frozenset()  # deleted by the user: brought back since?
    new: frozenset[NoteKey] = frozenset()  # not known here: written on another computer?
    hints: frozenset[str] = frozenset()  # the names the new ones would have
    known: Callable[[], Set[str]] = frozenset  # every path the state has a note at (asked
    # only when a note is not where the state says)
    restore: bool = False  # notes the user deleted are written again: they need names


@dataclass(frozen=True, slots=True)
class Located:
    """Where a sync's notes are, and the names new notes are chosen against."""

    sources: dict[str, PurePosixPath]  # each literature note of the scope, by paper key
    stems: frozenset[str]  # every note name in the vault, casefolded (when listed)
    temp_files: tuple[PurePosixPath, ...]  # writes a killed run left


@dataclass(slots=True)
class VaultReader:
    """The vault as one sync reads it: its names, listed once when needed (or again, when a
    note moved while it was looked at); where each note of the scope is, by key; the notes'
    texts, read a part at a time."""

    root: Path
    folders: tuple[str, ...]  # obsync's own, as "folder/": where deleted notes come back
    listing: Names | None = None  # None: not listed yet in this sync
    where: dict[NoteKey, PurePosixPath] = field(default_factory=dict)
    texts: dict[NoteKey, Found] = field(default_factory=dict)  # read while looking
    read: int = 0  # notes read: what tests count

    @classmethod
    def of(cls, root: Path, folders: tuple[str, ...], *, listed: bool) -> VaultReader:
        """A reader; ``listed``: the vault's names are listed now, else only when needed."""
        return cls(root, folders, list_names(root) if listed else None)

    @property
    def listed(self) -> bool:
        return self.listing is not None

    def names(self) -> Names:
        """The vault's names, listed on first need."""
        if self.listing is None:
            self.listing = list_names(self.root)
        return self.listing

    def relist(self) -> Names:
        """The vault's names, listed again: a note may have moved since the last listing."""
        self.listing = list_names(self.root)
        return self.listing

    def in_folders(self) -> Names:
        """The names in obsync's folders (where a note the user deleted comes back)."""
        return self.names().below(self.folders)

    def find_every(self, recorded: Mapping[NoteKey, PurePosixPath]) -> Located:
        """Every note of obsync's in the vault: where the state says, else read for its key."""
        names = self.relist()
        self.where = {k: p for k, p in recorded.items() if str(p) in names.paths}
        self._look(names.without({str(p) for p in self.where.values()}), None)
        if missing := recorded.keys() - self.where.keys():  # moved while listed?
            self._look(self.relist().without(names.paths), set(missing))
        return self._located()

    def find(self, wanted: Wanted) -> Located:
        """The scope's notes: where the state says, else looked for by key now."""
        self.where = dict(wanted.recorded)
        if absent := {k for k, p in wanted.recorded.items() if not self._there(k, p)}:
            for key in absent:  # among the names no other note of obsync's has
                del self.where[key]
            known = set(wanted.known()) | {str(p) for p in wanted.recorded.values()}
            self._look(self.names().without(set(known)), absent)
        if wanted.deleted and self.listed:  # brought back (Obsidian's trash, an undo)?
            self._look(self.in_folders(), set(wanted.deleted))
        if wanted.new:  # written by obsync on another computer, unknown here?
            named = {p for p in self.names().paths if p.rsplit("/", 1)[-1] in wanted.hints}
            self._look(Names(named, []), set(wanted.new))
        if wanted.restore:
            self.names()
        return self._located()

    def _there(self, key: NoteKey, path: PurePosixPath) -> bool:
        """Whether a note may still be where the state says: the names say so, or (not
        listed) it is a literature note whose file is there (annotation notes link it by
        name, so it must be; an annotation note not there is looked for when read)."""
        if self.listing is not None:
            return str(path) in self.listing.paths
        return key[0] != Kind.SOURCE or (self.root / path).is_file()

    def _located(self) -> Located:
        sources = {key: path for (kind, key), path in self.where.items() if kind == Kind.SOURCE}
        if self.listing is None:
            return Located(sources, frozenset(), ())
        names = self.listing
        return Located(sources, frozenset(names.stems), tuple(names.temp_files))

    def _look(self, names: Names, keys: set[NoteKey] | None) -> None:
        """Read notes among ``names`` for their keys: those in ``keys`` (None: any)."""
        found = Notes()
        if keys is None:
            read_keyed(self.root, names.paths, found)
        else:
            locate(self.root, keys, names, found)
        self.read += found.read
        for kind in Kind:
            for key, note in found.table(kind).items():
                if (kind, key) not in self.where:
                    self.where[(kind, key)] = note.path
                    self.texts[(kind, key)] = note

    def read_so_far(self) -> Mapping[NoteKey, Found]:
        """The notes read to find them and not asked for yet (after :meth:`find_every`:
        every note of obsync's)."""
        return self.texts

    def notes(self, keys: set[NoteKey]) -> Notes:
        """The texts of some notes of the scope, read where they were found; a note not
        there any more is looked for by key before it counts as deleted."""
        notes = Notes()
        wanted = []
        for kind, key in sorted(keys):
            if (kind, key) in self.texts:
                note = self.texts.pop((kind, key))
                notes.add(kind, key, note)
                notes.conflict_copies.update(conflict_copy(self.root, note.path, self.listing))
            elif (kind, key) in self.where:
                wanted.append(((kind, key), str(self.where[(kind, key)])))
        if missing := read_notes(self.root, wanted, notes, self.listing):  # moved meanwhile?
            known = {str(p) for k, p in self.where.items() if k not in missing}
            hints = [p for k, p in wanted if k in missing]
            locate(self.root, missing, self.relist(), notes, known=known, hints=hints)
        self.read += notes.read
        return notes
