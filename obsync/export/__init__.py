"""Read an export folder: find the export files, read each with its format's reader, merge."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from obsync.export import better_notes, common, note_html, zotero_markdown
from obsync.export.paragraphs import MAX_ERRORS, STOP
from obsync.model import Annotation, ExportRead, InputError, SourceInfo
from obsync.progress import READING, Progress
from obsync.system import can_fork_reader

EXPORT_SUFFIXES = (".md", ".markdown", ".html", ".htm")
# Each format: whether a file's text is in it, and its reader. The first to claim a file reads it.
READERS = (
    (better_notes.looks_like, better_notes.read_text),
    (note_html.looks_like, note_html.read_text),
    (zotero_markdown.looks_like, zotero_markdown.read_text),
)


@dataclass(frozen=True, slots=True)
class FileRead:
    """What one export file gave: its annotations and the errors met reading it."""

    path: Path
    annotations: tuple[Annotation, ...]
    errors: tuple[InputError, ...]
    failed: bool = False


def is_export_file(name: str) -> bool:
    """Export files by name: hidden files and the ``*.tmp`` of atomic writes are not."""
    return not name.startswith(".") and name.lower().endswith(EXPORT_SUFFIXES)


def export_files(root: Path) -> Iterator[Path]:
    """Every export file below ``root``, in a stable order; hidden folders skipped."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if is_export_file(name):
                yield Path(folder) / name


def decode(data: bytes, path: Path) -> tuple[str, list[InputError]]:
    """UTF-8 text of a file; invalid bytes are reported (with their line) and replaced."""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        error = InputError(path, line, f"not valid UTF-8 (byte {exc.start}); bad bytes replaced")
        return data.decode("utf-8", errors="replace"), [error]


def read_file(path: Path, root: Path) -> FileRead:
    """Read one export file; any problem is an error in the result, never an exception."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileRead(path, (), (InputError(path, None, f"cannot read: {exc.strerror}"),), True)
    if not data.strip():
        # Exporters never write an empty file: this one is being written, or was cut short.
        return FileRead(path, (), (InputError(path, None, "the file is empty"),))
    text, errors = decode(data, path)
    if (nul := data.find(b"\0")) != -1:
        line = data.count(b"\n", 0, nul) + 1
        errors.append(InputError(path, line, "NUL byte: binary data, not a text export"))
    annotations: list[Annotation] = []
    for claims, read_text in READERS:
        if claims(text):
            annotations, found = read_text(text, path, root)
            errors += found
            break
    return FileRead(
        path, tuple(annotations), tuple(name_unread_keys(data, text, path, annotations, errors))
    )


def name_unread_keys(
    data: bytes, text: str, path: Path, annotations: list[Annotation], errors: list[InputError]
) -> list[InputError]:
    """``errors``, naming each annotation key the file shows that no annotation read carries.

    Whatever a reader misses, nothing is dropped silently: a key visible in the file's
    bytes (in ``data-annotation`` or an ``annotation=KEY`` link) ends as a note or in an
    error naming the file, the line and the key. An error the reader gave on the key's
    line (broken data, say) is given the key; otherwise the key gets an error of its own.
    """
    visible = common.visible_keys(data)
    read = {a.key for a in annotations if a.keyed}
    missing = [
        (key, line)
        for key, line in visible.items()
        if key not in read and not any(key in e.message for e in errors)
    ]
    if not missing:
        return errors
    errors = list(errors)
    unnamed: list[str] = []
    for key, line in missing:
        at = next((i for i, e in enumerate(errors) if e.line == line), None)
        if at is not None:
            errors[at] = replace(errors[at], message=f"annotation {key}: {errors[at].message}")
            continue
        stops = [
            e.line for e in errors if e.line is not None and e.line <= line and STOP in e.message
        ]
        if stops:
            why = f"it comes after line {stops[0]}, where the file stops being readable"
        elif not annotations and not any(claims(text) for claims, _ in READERS):
            why = "the file is in no export format obsync knows"
        else:
            why = "no highlight, image or note that obsync reads holds it"
        if len(errors) < MAX_ERRORS:
            errors.append(InputError(path, line, f"annotation {key} is not synced: {why}"))
        else:
            unnamed.append(key)
    if unnamed:  # a hostile file cannot flood the report, and still every key is named
        listed = ", ".join(unnamed)
        errors.append(
            InputError(path, None, f"{len(unnamed)} more annotations not synced: {listed}")
        )
    return errors


def merge(reads: Iterable[FileRead]) -> ExportRead:
    """One annotation per key: the richest copy wins, ties go to the first file and line."""
    reads = sorted(reads, key=lambda r: r.path)
    best: dict[str, Annotation] = {}
    titles: dict[str, SourceInfo] = {}
    for read in reads:
        for annotation in read.annotations:
            kept = best.get(annotation.key)
            if kept is None or annotation.richness() > kept.richness():
                best[annotation.key] = annotation
            source = annotation.source
            known = titles.get(source.key)
            if known is None or (-source.title_rank, source.title) < (
                -known.title_rank,
                known.title,
            ):
                titles[source.key] = source
    annotations = tuple(
        _with_source(a, titles[a.source.key])
        for a in sorted(_without_keyless_copies(best), key=lambda a: a.key)
    )
    return ExportRead(
        annotations=annotations,
        errors=tuple(e for r in reads for e in r.errors),
        files=tuple(r.path for r in reads),
        failed=frozenset(r.path for r in reads if r.errors),
    )


def _content(annotation: Annotation) -> tuple[str, str]:
    words = (annotation.text or annotation.comment).casefold().split()
    return annotation.page_label, " ".join(words)


def _without_keyless_copies(best: dict[str, Annotation]) -> list[Annotation]:
    """Drop annotations without a Zotero key that another export carries with one.

    Formats that lose keys (Zotero's exports without links, Better Notes' flattened
    underlines) give the same annotation as a richer format in the same folder: it is
    matched by paper, page and text (or a note's comment), and the keyed copy is kept.
    A paper known only by its citation text is matched by that text.
    """
    if all(a.keyed for a in best.values()):
        return list(best.values())  # the usual case: nothing to match, no text to fold
    ranked = sorted(
        best.values(), key=lambda a: (not a.keyed, a.source.key.startswith("obs-"), a.key)
    )
    by_item: dict[tuple[str, str, str], Annotation] = {}
    by_citation: dict[tuple[str, str, str], Annotation] = {}
    kept: list[Annotation] = []
    for annotation in ranked:
        page, text = _content(annotation)
        item = (annotation.source.key, page, text)
        cited = (annotation.source.citation, page, text)
        if not annotation.keyed and (
            item in by_item or (annotation.source.key.startswith("obs-") and cited in by_citation)
        ):
            continue
        by_item.setdefault(item, annotation)
        if annotation.source.citation:
            by_citation.setdefault(cited, annotation)
        kept.append(annotation)
    return kept


def _with_source(annotation: Annotation, source: SourceInfo) -> Annotation:
    return annotation if annotation.source == source else replace(annotation, source=source)


# path -> ((size, mtime_ns), what reading it gave): files that did not change are not re-read.
ReadCache = dict[Path, tuple[tuple[int, int], FileRead]]


# A stamp that cannot match: the file is read again next time.
UNTRUSTED = (-1, -1)
# File times move in ticks (a few ms; 2 s on FAT): a file written again within the tick it
# was read in keeps its stamp when its size stays. Such a recent stamp is not trusted.
_RACY_NS = 2_000_000_000


def trusted(stamp: tuple[int, int], read_at_ns: int) -> tuple[int, int]:
    """``stamp``, or :data:`UNTRUSTED` when the file changed too shortly before it was read."""
    return UNTRUSTED if stamp[1] >= read_at_ns - _RACY_NS else stamp


def file_stat(path: Path) -> tuple[int, int] | None:
    """A file's (size, mtime in ns), or None when it is not there: what says it changed."""
    try:
        result = os.stat(path)
    except OSError:
        return None
    return (result.st_size, result.st_mtime_ns)


# From this many files on, a second process reads half of them (see read_files).
PARALLEL_FROM = 64


def read_files(paths: list[Path], root: Path, progress: Progress | None = None) -> list[FileRead]:
    """Read export files, in the order given.

    Many files are read by two processes: a forked child reads the second half and sends
    its reads back pickled while this process reads the first half (parsing is pure
    Python: one core each). Sending half the reads back costs a tenth of parsing them.
    Only a process with no other thread forks (the daemon's observer threads could hold
    a lock a child would then wait on for ever); on any trouble with the child, this
    process reads its half itself.
    """
    if len(paths) < PARALLEL_FROM or threading.active_count() > 1 or not can_fork_reader():
        return _read_here(paths, root, progress, 0, len(paths))
    half = len(paths) // 2
    try:
        pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_child_dies_with, initargs=(os.getpid(),),
        )  # fmt: skip
        theirs = pool.submit(_read_in_child, paths[half:], root)
    except Exception:  # no fork, no semaphores, no thread: read everything here
        return _read_here(paths, root, progress, 0, len(paths))
    with pool:
        mine = _read_here(paths[:half], root, progress, 0, len(paths))
        try:
            rest = theirs.result()
        except Exception:  # the child died (killed, out of memory): read its half here
            rest = _read_here(paths[half:], root, progress, half, len(paths))
    if progress is not None:
        progress(READING, len(paths), len(paths))
    return mine + rest


# Linux only (system.can_fork_reader): the child is tied to this process's life with prctl.
_PR_SET_PDEATHSIG = 1


def _child_dies_with(parent: int) -> None:
    """In the forked reader: die when the parent does (SIGKILL, OOM killer, kill). An
    orphan would wait for ever on its pipe, holding the vault's lock it inherited."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took hold
        os._exit(1)


def _read_in_child(paths: list[Path], root: Path) -> list[FileRead]:
    return _read_here(paths, root, None, 0, 0)


def _read_here(
    paths: list[Path], root: Path, progress: Progress | None, before: int, total: int
) -> list[FileRead]:
    if progress is None:
        return [read_file(path, root) for path in paths]
    reads = []
    for done, path in enumerate(paths, before + 1):
        reads.append(read_file(path, root))
        progress(READING, done, total)
    return reads


def read_folder(
    root: Path,
    cache: ReadCache | None = None,
    hold: frozenset[Path] = frozenset(),
    progress: Progress | None = None,
) -> ExportRead:
    """Read every export file below ``root``; with a cache, only files that changed (see
    :class:`obsync.export.folder.ExportFolder`, the one cached reader).

    Files in ``hold`` may be half written: they are not read now. Their last read
    from the cache stands in for them, or, never read before, they are left out.
    """
    from obsync.export.folder import ExportFolder, relative  # the folder module imports this one

    folder = ExportFolder(root, {} if cache is None else cache)
    listing = folder.list(hold)
    reads = folder.read(listing, listing, progress)
    reads |= folder.cached(relative(path, root) for path in hold)
    return merge(seen.read for seen in reads.values())
