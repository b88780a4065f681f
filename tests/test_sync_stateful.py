"""A stateful test of the sync: random interleavings of Zotero changes, user edits and syncs.

In the style of vdirsyncer's SyncMachine: after every sync, no user text is lost, there is
exactly one note per live key, a second sync writes nothing, and a sync of everything
(``--full``) would write nothing either: syncing only what changed missed nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import frontmatter
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from obsync.cli import main
from obsync.settings.config import DEFAULT_MARKER as MARKER
from obsync.settings.config import resolve
from obsync.sync import Request, run_sync
from obsync.sync.report import describe
from obsync.vault import note
from obsync.vault.listing import CONFLICT_SUFFIX

from .formats import Ann, better_notes
from .helpers import tree

KEY_CHARS = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
keys = st.text(KEY_CHARS, min_size=8, max_size=8)
words = st.text("abcdefghij klmnop,.!?é中", min_size=1, max_size=20).map(str.strip).filter(bool)
user_lines = st.lists(
    st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=30
    ).filter(lambda line: line.strip() != MARKER),
    min_size=1,
    max_size=3,
).map(lambda lines: "".join(f"{line}\n" for line in lines))
COLOURS = ["#ffd400", "#ff6666", "#5fb236", "#2ea8e5", None]


class SyncMachine(RuleBasedStateMachine):
    annotations = Bundle("annotations")

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="obsync-stateful-"))
        self.export = self.root / "export"
        self.vault = self.root / "vault"
        self.export.mkdir()
        self.files: dict[str, dict[str, Ann]] = {"a.md": {}, "b.md": {}}
        self.user_text: dict[str, str] = {}  # key -> what the user wrote below the marker
        self.deleted: set[str] = set()  # notes the user deleted
        self.synced_once: set[str] = set()
        self.write_export()

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the export ---------------------------------------------------------------

    def write_export(self) -> None:
        for name, anns in self.files.items():
            path = self.export / name
            if anns:
                path.write_text(better_notes(list(anns.values())))
            elif path.exists():
                path.unlink()

    def live(self) -> dict[str, Ann]:
        return {k: a for anns in self.files.values() for k, a in anns.items()}

    @rule(
        target=annotations,
        key=keys,
        text=words,
        comment=words,
        colour=st.sampled_from(COLOURS),
        page=st.integers(1, 30),
        file=st.sampled_from(["a.md", "b.md"]),
    )
    def add(
        self, key: str, text: str, comment: str, colour: str | None, page: int, file: str
    ) -> str:
        if key not in self.live():
            self.files[file][key] = Ann(
                key, text=text, comment=comment, color=colour, page=str(page)
            )
            self.write_export()
        return key

    @rule(key=annotations, comment=words)
    def edit_comment(self, key: str, comment: str) -> None:
        for anns in self.files.values():
            if key in anns:
                anns[key] = replace(anns[key], comment=comment)
        self.write_export()

    @rule(key=annotations, colour=st.sampled_from(COLOURS))
    def change_colour(self, key: str, colour: str | None) -> None:
        for anns in self.files.values():
            if key in anns:
                anns[key] = replace(anns[key], color=colour)
        self.write_export()

    @rule(key=consumes(annotations))
    def remove_in_zotero(self, key: str) -> None:
        for anns in self.files.values():
            anns.pop(key, None)
        self.write_export()

    @rule(file=st.sampled_from(["a.md", "b.md"]))
    def delete_export_file(self, file: str) -> None:
        self.files[file] = {}
        self.write_export()

    # -- the user in Obsidian -----------------------------------------------------

    def note_of(self, key: str) -> Path | None:
        for path in self.vault.rglob("*.md"):
            if CONFLICT_SUFFIX in path.name:
                continue
            if f"annotation-key: {key}\n" in path.read_text(errors="replace"):
                return path
        return None

    @rule(key=annotations, text=user_lines)
    def write_below_marker(self, key: str, text: str) -> None:
        path = self.note_of(key)
        if path is not None:
            path.write_bytes(path.read_bytes() + text.encode())
            self.user_text[key] = self.user_text.get(key, "") + text

    @rule(key=annotations)
    def edit_above_marker(self, key: str) -> None:
        path = self.note_of(key)
        if path is not None:
            path.write_text(path.read_text().replace("\n> ", "\n> (edited) ", 1))

    @rule(key=annotations, tag=st.sampled_from(["mine", "to-read"]))
    def add_tag(self, key: str, tag: str) -> None:
        path = self.note_of(key)
        if path is not None:
            path.write_text(path.read_text().replace("tags:\n", f"tags:\n  - {tag}\n", 1))

    @rule(key=annotations, name=st.sampled_from(["renamed", "Elsewhere/moved"]))
    def rename(self, key: str, name: str) -> None:
        path = self.note_of(key)
        if path is not None:
            target = self.vault / f"{name} {key}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)

    @rule(key=annotations)
    def delete_note(self, key: str) -> None:
        path = self.note_of(key)
        if path is not None:
            path.unlink()
            self.deleted.add(key)
            self.user_text.pop(key, None)

    # -- syncing ------------------------------------------------------------------

    @rule()
    def sync(self) -> None:
        code = main(["-q", "sync", "--export", str(self.export), "--vault", str(self.vault)])
        assert code == 0
        before = tree(self.vault)
        assert main(["-q", "sync", "--export", str(self.export), "--vault", str(self.vault)]) == 0
        assert tree(self.vault) == before, "a second sync wrote something"
        # Syncing only what changed left the vault as a sync of everything would.
        settings = resolve(config_path=None, export=self.export, vault=self.vault)
        whole = run_sync(settings, Request(dry_run=True, full=True)).plan
        assert not whole.writes and not whole.copies, list(describe(whole))
        self.synced_once |= set(self.live())

    @invariant()
    def user_text_is_never_lost(self) -> None:
        for key, text in self.user_text.items():
            path = self.note_of(key)
            assert path is not None, key
            parts = note.split(note.decode(path.read_bytes()), MARKER)
            assert isinstance(parts, note.Parts)
            assert parts.tail == text

    @invariant()
    def one_note_per_key(self) -> None:
        if not self.vault.exists():
            return
        seen: dict[str, int] = {}
        for path in self.vault.rglob("*.md"):
            if CONFLICT_SUFFIX in path.name:
                continue
            key = frontmatter.load(path).get("annotation-key")
            if key is not None:
                seen[key] = seen.get(key, 0) + 1
        assert all(count == 1 for count in seen.values()), seen
        for key in self.synced_once - self.deleted:
            assert key in seen, f"note for {key} vanished"


SyncMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
TestSync = SyncMachine.TestCase
