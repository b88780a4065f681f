"""Apply a plan: the only module that writes into the vault.

Every write is atomic: a temporary file in the note's own folder, made durable,
then renamed over the note, keeping the note's file mode. Durability is batched,
not dropped: one syncfs per batch of files instead of an fsync per file, and the
folders fsynced once per sync, after all renames (see ``_Writer``). On macOS, where
there is no syncfs and fsync stops at the drive's cache, each file gets an F_FULLFSYNC.
Nothing is written through a symbolic link or outside the vault.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from obsync.model import Kind
from obsync.platform.system import exchange, make_durable, syncfs
from obsync.progress import WRITING, Progress
from obsync.vault.listing import TEMP_PREFIX, temp_name
from obsync.vault.note import encode

if TYPE_CHECKING:
    from obsync.sync.plan import Plan

log = logging.getLogger(__name__)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    MARK_REMOVED = "mark-removed"
    CONFLICT_COPY = "conflict-copy"


@dataclass(frozen=True, slots=True)
class NoteWrite:
    action: Action
    kind: Kind
    key: str
    path: PurePosixPath  # relative to the vault
    content: str
    expected: str | None  # the note's text the plan was made from (None: must not exist)


@dataclass(frozen=True, slots=True)
class ImageCopy:
    source: Path
    path: PurePosixPath


class UnsafePath(Exception):
    """A path that would leave the vault or go through a symbolic link."""


@dataclass(slots=True)
class Applied:
    # As text: a full sync writes 100,000 notes, and a path object is four times a str.
    written: list[str] = field(default_factory=list)
    failed: list[tuple[PurePosixPath, str]] = field(default_factory=list)
    skipped: list[tuple[PurePosixPath, str]] = field(default_factory=list)

    def extend(self, other: Applied) -> None:
        self.written += other.written
        self.failed += other.failed
        self.skipped += other.skipped


def _check_inside(relative: PurePosixPath) -> None:
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise UnsafePath(f"{relative} is not inside the vault")


def _safe_target(vault: Path, relative: PurePosixPath) -> Path:
    """The absolute path for ``relative``, refusing ``..``, absolute paths and symlinks."""
    _check_inside(relative)
    current = vault
    for part in relative.parts[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
            raise UnsafePath(f"{current} is a symbolic link or not a folder; not written")
    target = current / relative.parts[-1]
    if target.is_symlink():
        raise UnsafePath(f"{target} is a symbolic link; not written")
    return target


@dataclass(slots=True)
class _Folders:
    """The vault's folders one apply writes into: each is checked (a real folder, not a
    symbolic link) or made once per apply, not once per note."""

    vault: Path
    ready: set[Path] = field(default_factory=set)

    def target(self, relative: PurePosixPath) -> Path:
        """The absolute path for ``relative``, its folders made; refuses ``..``, absolute
        paths and symbolic links on the way (the note itself is checked when written)."""
        _check_inside(relative)
        current = self.vault
        for part in relative.parts[:-1]:
            current = current / part
            if current in self.ready:
                continue
            try:
                current.mkdir()
            except FileExistsError:
                mode = os.lstat(current).st_mode
                if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
                    raise UnsafePath(
                        f"{current} is a symbolic link or not a folder; not written"
                    ) from None
            self.ready.add(current)
        return current / relative.parts[-1]


BATCH = 256  # temporary files made durable together, then renamed into place
# syncfs flushes the whole file system, other programs' writes too: for a few files (the
# daemon's usual sync) an fsync each costs less, and does not wait on anyone else's data.
SYNCFS_FROM = 16


@dataclass(slots=True)
class _Staged:
    relative: PurePosixPath
    target: Path
    tmp: Path
    done: str  # the log line once it is in place
    expected: bytes | None  # what the note must still hold when it is replaced
    new: bool  # a new note: there must still be none


def _changed_since_plan(item: _Staged) -> str | None:
    """Why the note must not be replaced now (the user saved it meanwhile), or None."""
    if not item.new and item.expected is None:
        return None
    try:
        now = item.target.read_bytes()
    except FileNotFoundError:
        now = None
    if item.new:
        return "appeared since the plan was made" if now is not None else None
    return "changed since the plan was made" if now != item.expected else None


@dataclass(slots=True)
class _Writer:
    """Atomic writes, with durability batched.

    Each file goes to a temporary file in its own folder (keeping the file mode of
    the note it replaces). Every ``BATCH`` files, the temporary files are made
    durable together (one syncfs; for fewer than ``SYNCFS_FROM`` files, or if syncfs
    fails or is missing, an fsync per file, so a failure is pinned on its own file),
    then renamed over their notes. The
    folders are fsynced once at the end. A crash at any moment leaves each note
    whole, old or new; temporary files left behind are removed by the next sync.
    """

    vault: Path
    result: Applied
    staged: list[_Staged] = field(default_factory=list)
    folders: set[Path] = field(default_factory=set)

    def write(
        self,
        relative: PurePosixPath,
        target: Path,
        data: bytes,
        done: str,
        *,
        expected: bytes | None = None,
        new: bool = False,
    ) -> None:
        try:
            mode: int | None = os.lstat(target).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISLNK(mode):
            raise UnsafePath(f"{target} is a symbolic link; not written")
        tmp = target.with_name(temp_name(os.getpid(), target.name))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mode is not None:
                os.fchmod(fd, stat.S_IMODE(mode))
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        self.staged.append(_Staged(relative, target, tmp, done, expected, new))
        if len(self.staged) >= BATCH:
            self.flush()

    def flush(self) -> None:
        staged, self.staged = self.staged, []
        if not staged:
            return
        if len(staged) >= SYNCFS_FROM and self._syncfs():
            durable = staged
        else:
            durable = [item for item in staged if self._fsync(item)]
        for item in durable:
            if (why := _changed_since_plan(item)) is not None:
                item.tmp.unlink(missing_ok=True)
                self.result.skipped.append((item.relative, why))
                log.info("skipped %s: %s; the next sync sees it", item.relative, why)
                continue
            try:
                kept = self._put_in_place(item)
            except OSError as exc:
                item.tmp.unlink(missing_ok=True)
                self._failed(item, exc)
                continue
            if kept is not None:
                self.result.skipped.append((item.relative, kept))
                log.info("skipped %s: %s; the next sync sees it", item.relative, kept)
                continue
            self.result.written.append(str(item.relative))
            self.folders.add(item.target.parent)
            log.info("%s", item.done)

    def _put_in_place(self, item: _Staged) -> str | None:
        """Move the new version over its note; why it was not (the user saved), or None.

        A note that exists is swapped with the new version in one step, and what was
        swapped out is compared with what the plan saw: a save of the user's that came
        after the last look is swapped back, not lost. Where the system cannot swap,
        the new version replaces the note (the last look stands).
        """
        if item.expected is None or not exchange(item.tmp, item.target):
            os.replace(item.tmp, item.target)
            return None
        if item.tmp.read_bytes() != item.expected:  # saved between the last look and now
            exchange(item.tmp, item.target)
            item.tmp.unlink(missing_ok=True)
            return "changed as it was written"
        item.tmp.unlink(missing_ok=True)
        return None

    def _syncfs(self) -> bool:
        """One syncfs for every staged file; False: fsync each (to pin an error on its file)."""
        try:
            syncfs(self.vault)
        except OSError:
            return False
        return True

    def _fsync(self, item: _Staged) -> bool:
        try:
            fd = os.open(item.tmp, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                make_durable(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            item.tmp.unlink(missing_ok=True)
            self._failed(item, exc)
            return False
        return True

    def _failed(self, item: _Staged, exc: OSError) -> None:
        self.result.failed.append((item.relative, str(exc)))
        log.warning("could not write %s: %s", item.relative, exc)

    def finish(self) -> None:
        self.flush()
        _fsync_folders(self.folders)


def _fsync_folders(folders: Iterable[Path]) -> None:
    for folder in sorted(folders):
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            make_durable(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def remove_temp_files(vault: Path, found: Iterable[PurePosixPath]) -> int:
    """Remove the temporary files of writes an interrupted run left behind."""
    removed = 0
    for relative in found:
        try:
            path = _safe_target(vault, relative)
            if path.name.startswith(TEMP_PREFIX) and path.is_file():
                path.unlink()
                removed += 1
                log.info("removed %s, left by an interrupted sync", relative)
        except (OSError, UnsafePath) as exc:
            log.warning("could not remove %s: %s", relative, exc)
    return removed


def apply(
    plan: Plan,
    vault: Path,
    stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> Applied:
    """Carry out a plan. A note that fails is reported; the others still happen.

    When ``stop`` says so, the write in hand is finished and the rest is skipped.
    ``progress`` is told of each image and note handled (written, failed or skipped).
    """
    result = Applied()
    writer = _Writer(vault, result)
    folders = _Folders(vault)
    total = len(plan.copies) + len(plan.writes)
    try:
        for number, copy in enumerate(plan.copies, 1):
            try:
                target = folders.target(copy.path)
                writer.write(
                    copy.path, target, copy.source.read_bytes(), f"copied image {copy.path}"
                )
            except (OSError, UnsafePath) as exc:
                result.failed.append((copy.path, str(exc)))
                log.warning("could not copy image %s: %s", copy.path, exc)
            if progress is not None:
                progress(WRITING, number, total)
        for number, write in enumerate(plan.writes, len(plan.copies) + 1):
            if stop():
                result.skipped.append((write.path, "stopping"))
            else:
                _write_note(writer, folders, write, result)
            if progress is not None:
                progress(WRITING, number, total)
    finally:
        writer.finish()
    return result


def _write_note(writer: _Writer, folders: _Folders, write: NoteWrite, result: Applied) -> None:
    try:
        target = folders.target(write.path)
        expected = None if write.expected is None else encode(write.expected)
        new = write.expected is None and write.action is Action.CREATE
        done = f"{write.action.value} {write.kind} {write.path}"
        writer.write(write.path, target, encode(write.content), done, expected=expected, new=new)
    except (OSError, UnsafePath) as exc:
        result.failed.append((write.path, str(exc)))
        log.warning("could not write %s: %s", write.path, exc)


def write_new(vault: Path, relative: PurePosixPath, data: bytes, done: str) -> bool:
    """Write one file that must not exist yet, as every note is written (atomic, inside the
    vault, through no symbolic link). False, and a warning, when it was not written."""
    result = Applied()
    writer = _Writer(vault, result)
    try:
        writer.write(relative, _Folders(vault).target(relative), data, done, new=True)
        writer.finish()
    except (OSError, UnsafePath) as exc:
        result.failed.append((relative, str(exc)))
        log.warning("could not write %s: %s", relative, exc)
    return bool(result.written)
