"""Read one export file with its format's reader, or many at once: annotations and errors,
never an exception. Whatever a reader misses, no annotation key the file shows is dropped
silently (:func:`name_unread_keys`)."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from obsync.export import text as common
from obsync.export.assemble import MAX_ERRORS, STOP
from obsync.export.formats import format_of
from obsync.model import Annotation, InputError
from obsync.platform.system import can_fork_reader
from obsync.progress import READING, Progress


@dataclass(frozen=True, slots=True)
class FileRead:
    """What one export file gave: its annotations and the errors met reading it."""

    path: Path
    annotations: tuple[Annotation, ...]
    errors: tuple[InputError, ...]
    failed: bool = False


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
    if (reader := format_of(text)) is not None:
        annotations, found = reader.read_text(text, path, root)
        errors += found
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
        why = _why_unread(line, errors, not annotations and format_of(text) is None)
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


def _why_unread(line: int, errors: list[InputError], unknown_format: bool) -> str:
    """Why a key the file shows on ``line`` is not synced, as its error says."""
    stops = [e.line for e in errors if e.line is not None and e.line <= line and STOP in e.message]
    if stops:
        return f"it comes after line {stops[0]}, where the file stops being readable"
    if unknown_format:
        return "the file is in no export format obsync knows"
    return "no highlight, image or note that obsync reads holds it"


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
