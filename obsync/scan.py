"""Find obsync's notes in a vault by the keys in their frontmatter (reads only)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
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


def listing(vault: Path) -> tuple[set[str], bool]:
    """Every file's path relative to the vault (``/``-separated), and whether obsync's
    temporary files are among them: what a sync checks before trusting the state."""
    paths: set[str] = set()
    temp = False
    for folder, _dirs, files in _folders(vault):
        prefix = Path(folder).relative_to(vault).as_posix() + "/"
        prefix = "" if prefix == "./" else prefix
        temp = temp or any(name.startswith(TEMP_PREFIX) for name in files)
        paths.update(prefix + name for name in files)
    return paths, temp


@dataclass(frozen=True, slots=True)
class OpenConflict:
    note: PurePosixPath  # the user's note, kept as it was
    copy: PurePosixPath  # the new version beside it, until the user deletes it
    key: str | None


def open_conflicts(vault: Path) -> list[OpenConflict]:
    """Every conflict copy still in the vault: a conflict stays open until its copy is gone."""
    found = []
    paths, _temp = listing(vault) if vault.is_dir() else (set(), False)
    for path in sorted(paths):
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


def scan(vault: Path) -> VaultIndex:
    index = VaultIndex()
    if not vault.is_dir():
        return index
    for folder, _dirs, files in _folders(vault):
        relative_folder = PurePosixPath(Path(folder).relative_to(vault).as_posix())
        for name in sorted(files):
            relative = relative_folder / name
            if name.startswith(TEMP_PREFIX):
                index.temp_files.append(relative)
                continue
            index.files.add(relative)
            if not name.endswith(".md"):
                continue
            stem = name[:-3]
            index.stems.add(stem.casefold())
            path = Path(folder) / name
            if path.is_symlink():
                continue
            try:
                text = decode(path.read_bytes())
            except OSError:
                continue
            if stem.endswith(CONFLICT_SUFFIX):
                index.conflict_copies[relative] = text
                continue
            found = frontmatter_key(text)
            if found is None:
                continue
            kind, key = found
            table = index.annotations if kind == "annotation-key" else index.sources
            if key in table:
                index.duplicates.append((key, relative))
                continue
            table[key] = Found(relative, text)
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
