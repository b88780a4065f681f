"""The names obsync gives what it writes: note and attachment names from export data, safe
on every OS and in Obsidian links, and free in the vault."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from obsync.model import SourceInfo
from obsync.vault.listing import CONFLICT_SUFFIX

# Windows device names, with or without an extension, in any case; "COM¹" counts too.
_RESERVED = {
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
    *(f"COM{i}" for i in [*range(1, 10), "¹", "²", "³"]),
    *(f"LPT{i}" for i in [*range(1, 10), "¹", "²", "³"]),
}  # fmt: skip
# / \ : * ? " < > | are unsafe in paths; [ ] # ^ | break Obsidian links, and a name is
# written inside links in notes: ` could start code there, %% an Obsidian comment.
_UNSAFE = re.compile(r'[/\\:*?"<>|\[\]#^`]')
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
MAX_BYTES = 120


def is_reserved(name: str) -> bool:
    """Whether Windows would take ``name`` (with any extension) for a device."""
    return name.split(".")[0].rstrip(" ").upper() in _RESERVED


def safe_stem(text: str, fallback: str = "Untitled") -> str:
    """A file name stem made from export text.

    NFC; no path separators, link-breaking or control/bidi characters; no
    leading dots; not a reserved device name nor a conflict copy's name; at most
    ``MAX_BYTES`` UTF-8 bytes.
    The fallback, used when nothing of ``text`` is left, is made safe the same way.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in _INVISIBLE or c.isspace() else c for c in text)
    text = re.sub("%{2,}", "%", _UNSAFE.sub(" ", text))
    text = re.sub(r"\s+", " ", text).strip(" .")
    while len(text.encode("utf-8")) > MAX_BYTES:
        text = text[:-1]
    text = text.rstrip(" .")
    if not text:
        return "Untitled" if fallback == "Untitled" else safe_stem(fallback)
    if (is_reserved(text) and not text.endswith("_")) or text.endswith(CONFLICT_SUFFIX):
        text = f"{text}_"  # a device name (made safe once only); a conflict copy's name
    return text


def attachment_name(key: str, image: Path) -> str:
    """The name of an image annotation's picture in the attachments folder."""
    return f"{key}{image.suffix.lower()}"


def literature_name(source: SourceInfo, rule: str) -> str:
    """A new literature note's name by the configured rule: the paper's title (the readers
    rank where it came from, see export/titles.py), its citation, or its item key."""
    if rule == "key":
        return source.key
    if rule == "citation" and source.citation:
        return source.citation
    return source.title


def literature_stem(source: SourceInfo, rule: str) -> str:
    """The name a new literature note is given, before any free-name suffix."""
    return safe_stem(literature_name(source, rule), fallback=f"Zotero item {source.key}")


@dataclass(slots=True)
class FreeNames:
    """The names new notes are given: none that a note in the vault has, or that a new
    note of this sync was given, compared casefolded as Obsidian resolves links."""

    taken: set[str] = field(default_factory=set)  # casefolded stems

    def take(self, stem: str) -> None:
        self.taken.add(stem.casefold())

    def claim(self, folder: str, stem: str, key: str) -> PurePosixPath:
        """A path for a new note: ``stem``, else ``stem (KEY)``, else ``stem (KEY) 2``…"""
        candidate = stem
        if candidate.casefold() in self.taken:
            candidate = f"{stem} ({key})"
        number = 2
        while candidate.casefold() in self.taken:
            candidate = f"{stem} ({key}) {number}"
            number += 1
        self.take(candidate)
        return PurePosixPath(folder) / f"{candidate}.md"
