"""The vault's names, no note read: the one walk of the vault's folders.

obsync's own files in a vault have names of three shapes, all decided here: a note
(``NAME.md``), its conflict copy (``NAME (obsync conflict).md``, beside it) and a write
in progress (``.obsync-tmp-PID-NAME``, which a killed run may leave; never a note).
Hidden folders, Obsidian's settings and trash, and ``.git`` are not walked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CONFLICT_SUFFIX = " (obsync conflict)"
TEMP_PREFIX = ".obsync-tmp-"  # obsync's writes in progress: never notes
_SKIP_DIRS = {".obsidian", ".trash", ".git"}


def conflict_copy_of(note: PurePosixPath) -> PurePosixPath:
    """Where the conflict copy of ``note`` is: beside it, named after it."""
    return note.with_name(f"{note.stem}{CONFLICT_SUFFIX}.md")


def is_conflict_copy(path: PurePosixPath) -> bool:
    return path.name.endswith(f"{CONFLICT_SUFFIX}.md")


def note_of_copy(copy: PurePosixPath) -> PurePosixPath:
    """The note a conflict copy is the new version of (the inverse of :func:`conflict_copy_of`)."""
    return copy.with_name(copy.name.removesuffix(f"{CONFLICT_SUFFIX}.md") + ".md")


def temp_name(pid: int, target: str) -> str:
    """The name of a write in progress of ``target``, in the target's folder."""
    return f"{TEMP_PREFIX}{pid}-{target}"


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
        """The notes' names, casefolded, as Obsidian resolves links."""
        return {p.rsplit("/", 1)[-1][:-3].casefold() for p in self.paths if p.endswith(".md")}

    def below(self, folders: tuple[str, ...]) -> Names:
        """The names in some folders (each given as ``"folder/"``)."""
        return Names({p for p in self.paths if p.startswith(folders)}, [])

    def without(self, paths: set[str]) -> Names:
        return Names(self.paths - paths, [])


def list_names(vault: Path, below: str = "") -> Names:
    """Every file's name in the vault (or in its folder ``below``), temporary files apart."""
    paths: set[str] = set()
    temp: list[PurePosixPath] = []
    top = vault / below if below else vault
    if not top.is_dir():
        return Names(paths, temp)
    for folder, _dirs, files in _folders(top):
        prefix = Path(folder).relative_to(vault).as_posix() + "/"
        prefix = "" if prefix == "./" else prefix
        for name in files:
            if name.startswith(TEMP_PREFIX):
                temp.append(PurePosixPath(prefix + name))
            else:
                paths.add(prefix + name)
    return Names(paths, sorted(temp))


def has_notes(vault: Path, below: str) -> bool:
    """Any Markdown file in the vault's folder ``below``: obsync has synced there before."""
    return any(n.endswith(".md") for _f, _d, files in _folders(vault / below) for n in files)
