"""Frozen value objects shared by the readers, the planner and the renderer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class AnnotationType(StrEnum):
    HIGHLIGHT = "highlight"
    UNDERLINE = "underline"
    IMAGE = "image"
    NOTE = "note"
    TEXT = "text"
    INK = "ink"


class Kind(StrEnum):
    """The two kinds of note obsync keeps, and the frontmatter property holding each one's
    Zotero key: an annotation note (``annotation-key``), a literature note (``item-key``)."""

    ANNOTATION = "annotation"
    SOURCE = "source"

    @property
    def field(self) -> str:
        return _FIELDS[self]

    @classmethod
    def of_field(cls, name: str) -> Kind | None:
        """The kind whose key a frontmatter property holds, or None."""
        return _KINDS.get(name)


_FIELDS = {Kind.ANNOTATION: "annotation-key", Kind.SOURCE: "item-key"}
_KINDS = {name: kind for kind, name in _FIELDS.items()}


@dataclass(frozen=True, slots=True)
class Library:
    """A Zotero library: the user's own (``group`` is None) or a group library."""

    group: str | None = None

    def link_part(self) -> str:
        return "library" if self.group is None else f"groups/{self.group}"


@dataclass(frozen=True, slots=True)
class Location:
    """Where an export item came from, for error messages and tie-breaks."""

    file: Path
    line: int
    index: int = 0  # its place among the file's annotations: many may share a line


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What an export tells about the Zotero item an annotation belongs to.

    ``key`` is the parent item key from the citation, else the attachment key.
    ``title`` is the best title the export offers (may be empty);
    ``title_rank`` says how much to trust it (higher wins when copies disagree).
    """

    key: str
    library: Library
    title: str
    title_rank: int
    citation: str


NO_PAGE = "99999"  # the sort index of an annotation whose page is not known: last


@dataclass(frozen=True, slots=True)
class Annotation:
    """One Zotero annotation as read from an export.

    ``text`` is what the user highlighted or underlined, plain text as Zotero holds it:
    the exporter's escapes removed, and with them the formatting the note gave it (bold,
    italics, ``<sub>``/``<sup>``, the underline's ``<u>``), its text kept; a ``*`` in it is
    a ``*``. ``comment`` is what the user wrote, escapes removed, rich text kept as light
    inline Markdown (``**``, ``*``) and ``<sub>``/``<sup>`` for Zotero's own marks.
    """

    key: str
    keyed: bool  # False: ``key`` is a stable id derived by obsync
    type: AnnotationType
    text: str
    comment: str
    color: str | None
    page_label: str
    zotero_link: str
    citation: str
    source: SourceInfo
    image: Path | None
    location: Location
    # Zotero's annotationSortIndex where the source holds it (a PDF's "00003|001234|00100":
    # page, offset in the text, top; an EPUB's "00003|00000027"; a snapshot's "0000099");
    # "" where it does not (exports): then its page, ``page_sort`` ("00003"), and where it
    # stands in its file order it.
    sort_index: str = ""
    page_sort: str = NO_PAGE
    tags: tuple[str, ...] = ()  # the annotation's own tags in Zotero, as Zotero names them
    author: str = ""  # who made it, in a group library

    def richness(self) -> tuple[int, int, int, int, int, int]:
        """Orders copies of the same annotation: the richer copy wins (one with Zotero's
        sort index and tags, the API's, over an export's that says as much besides)."""
        return (
            self.color is not None,
            self.image is not None,
            self.keyed,
            bool(self.zotero_link),
            len(self.text) + len(self.comment),
            bool(self.sort_index) + bool(self.tags),
        )


@dataclass(frozen=True, slots=True)
class InputError:
    """Something in an export that could not be read."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        name = printable(str(self.file))
        where = f"{name}:{self.line}" if self.line is not None else name
        return f"{where}: {self.message}"


def printable(text: str) -> str:
    """``text`` with control, bidi and other invisible characters escaped: safe for a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True, slots=True)
class ExportRead:
    """The result of reading an export folder (or one file)."""

    annotations: tuple[Annotation, ...] = ()
    errors: tuple[InputError, ...] = ()
    files: tuple[Path, ...] = ()  # every export file present, read or not
    failed: frozenset[Path] = frozenset()  # files with errors: they may have lost annotations

    @property
    def files_failed(self) -> int:
        return len(self.failed)

    @property
    def files_read(self) -> int:
        return len(self.files)
