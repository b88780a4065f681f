"""The export formats obsync reads, one module each, each a :class:`Format`.

A format says whether a file's text is in it (``looks_like``) and reads it into
annotations and errors (``read_text``); the first format in :data:`FORMATS` to claim a
file reads it. docs/formats.md describes each format byte by byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from obsync.export.formats import better_notes, note_html, zotero_markdown
from obsync.model import Annotation, InputError


class Format(Protocol):
    def looks_like(self, text: str) -> bool:
        """Whether ``text`` is in this format."""
        ...

    def read_text(
        self, text: str, path: Path, root: Path
    ) -> tuple[list[Annotation], list[InputError]]:
        """The annotations of ``text`` (read from ``path``, below ``root``), and errors."""
        ...


FORMATS: tuple[Format, ...] = (better_notes, note_html, zotero_markdown)


def format_of(text: str) -> Format | None:
    """The format a file's text is in, or None."""
    return next((f for f in FORMATS if f.looks_like(text)), None)
