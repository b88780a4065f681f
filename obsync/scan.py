"""Find obsync's notes in a vault by the keys in their frontmatter (reads only)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from obsync.note import decode

CONFLICT_SUFFIX = " (obsync conflict)"
_SKIP_DIRS = {".obsidian", ".trash", ".git"}
_KEY = re.compile(
    r"^(annotation-key|item-key)[ \t]*:[ \t]*"
    r"""(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"][^\n#]*?))[ \t]*$""",
    re.M,
)
_FRONTMATTER_END = re.compile(r"^---[ \t]*$", re.M)


TEMP_PREFIX = ".obsync-tmp-"  # obsync's writes in progress: never notes


@dataclass(frozen=True, slots=True)
class Found:
    path: PurePosixPath  # relative to the vault, with / separators
    text: str


@dataclass(slots=True)
class VaultIndex:
    """obsync's notes by key, their texts, and every note name in the vault."""

    annotations: dict[str, Found] = field(default_factory=dict)
    sources: dict[str, Found] = field(default_factory=dict)
    duplicates: list[tuple[str, PurePosixPath]] = field(default_factory=list)
    stems: set[str] = field(default_factory=set)  # casefolded, as Obsidian resolves links
    files: set[PurePosixPath] = field(default_factory=set)
    conflict_copies: dict[PurePosixPath, str] = field(default_factory=dict)
    temp_files: list[PurePosixPath] = field(default_factory=list)  # left by a killed run
    same_images: set[PurePosixPath] = field(default_factory=set)  # attachments up to date
    read: int = 0  # notes read to build it: what tests count

    def add(self, kind: str, key: str, found: Found) -> None:
        """A note found by key (kind: ``annotation-key`` or ``item-key``)."""
        table = self.annotations if kind == "annotation-key" else self.sources
        if key in table and table[key].path != found.path:
            self.duplicates.append((key, found.path))
            return
        table[key] = found
        self.files.add(found.path)
        self.stems.add(found.path.stem.casefold())


def frontmatter_key(text: str) -> tuple[str, str] | None:
    """(``annotation-key`` or ``item-key``, value) from a note's frontmatter, if any."""
    if not text.startswith("---"):
        return None
    end = _FRONTMATTER_END.search(text, 3)
    if end is None:
        return None
    match = _KEY.search(text, 0, end.start())
    if match is None:
        return None
    value = next(g for g in match.group(2, 3, 4) if g is not None).strip()
    return (match.group(1), value) if value else None


def _folders(vault: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """The vault's folders as obsync looks at them: hidden ones and Obsidian's skipped."""
    for folder, dirs, files in os.walk(vault):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        yield folder, dirs, files


@dataclass(frozen=True, slots=True)
class Names:
    """The vault's file names, no note read: what new notes are named against."""

    paths: set[str]  # relative to the vault, ``/``-separated; temporary files aside
    temp_files: list[PurePosixPath]  # obsync's writes a killed run left

    @property
    def stems(self) -> set[str]:
        return {p.rsplit("/", 1)[-1][:-3].casefold() for p in self.paths if p.endswith(".md")}


def list_names(vault: Path) -> Names:
    paths: set[str] = set()
    temp: list[PurePosixPath] = []
    if not vault.is_dir():
        return Names(paths, temp)
    for folder, _dirs, files in _folders(vault):
        prefix = Path(folder).relative_to(vault).as_posix() + "/"
        prefix = "" if prefix == "./" else prefix
        for name in files:
            if name.startswith(TEMP_PREFIX):
                temp.append(PurePosixPath(prefix + name))
            else:
                paths.add(prefix + name)
    return Names(paths, sorted(temp))


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


def read_notes(
    vault: Path,
    wanted: Iterable[tuple[str, str, str]],
    index: VaultIndex,
    names: Names | None = None,
) -> set[tuple[str, str]]:
    """Read notes where the state says they are (``(kind, key, path)``, kind ``annotation``
    or ``source``) into ``index``, with their conflict copies (those ``names`` has, when
    the vault was listed); returns the (kind, key) of those not there, to be looked for."""
    missing: set[tuple[str, str]] = set()
    for kind, key, where in wanted:
        relative = PurePosixPath(where)
        text = read_text(vault, relative)
        index.read += text is not None
        field = "annotation-key" if kind == "annotation" else "item-key"
        if text is None or frontmatter_key(text) != (field, key):
            missing.add((kind, key))
            continue
        index.add(field, key, Found(relative, text))
        index.conflict_copies.update(conflict_copy(vault, relative, names))
    return missing


def conflict_copy(
    vault: Path, note: PurePosixPath, names: Names | None = None
) -> dict[PurePosixPath, str]:
    """The conflict copy beside a note, if there is one (``names`` says, when the vault
    was listed): its path and text."""
    copy = note.with_name(f"{note.stem}{CONFLICT_SUFFIX}.md")
    if names is not None and str(copy) not in names.paths:
        return {}
    text = read_text(vault, copy)
    return {} if text is None else {copy: text}


def locate(
    vault: Path,
    keys: set[tuple[str, str]],
    names: Names,
    index: VaultIndex,
    known: Iterable[str] = (),
    hints: Iterable[str] = (),
    *,
    only_hinted: bool = False,
) -> set[tuple[str, str]]:
    """Look for notes by key (a note the user moved, or moved while the vault was walked)
    among the vault's names not already read nor ``known`` to hold another note; those
    named like a ``hint`` (where the note was) first, or only. Returns the keys not found."""
    if not keys:
        return keys
    left = set(keys)
    skip = {str(p) for p in index.files} | set(known)
    hinted = {h.rsplit("/", 1)[-1] for h in hints}
    candidates = sorted(
        (
            p
            for p in names.paths
            if p.endswith(".md")
            and p not in skip
            and (not only_hinted or p.rsplit("/", 1)[-1] in hinted)
        ),
        key=lambda p: (p.rsplit("/", 1)[-1] not in hinted, p),
    )
    for name in candidates:
        if not left:
            break
        relative = PurePosixPath(name)
        if relative.stem.endswith(CONFLICT_SUFFIX):
            continue
        text = read_text(vault, relative)
        index.read += text is not None
        found = frontmatter_key(text) if text is not None else None
        if found is None or text is None:
            continue
        kind = "annotation" if found[0] == "annotation-key" else "source"
        if (kind, found[1]) in left:
            left.discard((kind, found[1]))
            index.add(found[0], found[1], Found(relative, text))
            index.conflict_copies.update(conflict_copy(vault, relative))
    return left


def same_images(
    vault: Path, images: Iterable[tuple[Path, PurePosixPath]], index: VaultIndex
) -> None:
    """Note in ``index`` each attachment that already holds its export image's bytes."""
    same = SameFile(vault)
    for source, target in images:
        if same(source, target):
            index.same_images.add(target)
            index.files.add(target)


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
        if not copy.name.endswith(f"{CONFLICT_SUFFIX}.md"):
            continue
        try:
            key = frontmatter_key(decode((vault / copy).read_bytes()))
        except OSError:
            key = None
        note = copy.with_name(copy.name.removesuffix(f"{CONFLICT_SUFFIX}.md") + ".md")
        found.append(OpenConflict(note, copy, key[1] if key else None))
    return found


def read_keyed(vault: Path, names: Iterable[str], index: VaultIndex) -> None:
    """Read the notes among ``names`` into ``index`` by the keys in their frontmatter;
    conflict copies aside."""
    for name in sorted(p for p in names if p.endswith(".md")):
        relative = PurePosixPath(name)
        text = read_text(vault, relative)
        if text is None:
            continue
        index.read += 1
        if relative.stem.endswith(CONFLICT_SUFFIX):
            index.conflict_copies[relative] = text
            continue
        found = frontmatter_key(text)
        if found is not None:
            index.add(found[0], found[1], Found(relative, text))


def scan(vault: Path) -> VaultIndex:
    """Every note of the vault, read: obsync's by key, and every name."""
    names = list_names(vault)
    index = VaultIndex(temp_files=names.temp_files)
    index.stems = names.stems
    index.files = {PurePosixPath(p) for p in names.paths}
    read_keyed(vault, names.paths, index)
    return index


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
