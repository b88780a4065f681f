"""The Obsidian Base of the annotation notes: ``Zotero/Annotations.base``, written once.

A Base (Obsidian's core Bases plugin) is a YAML file of filters, formulas, properties and
views that shows notes as tables by their properties. obsync writes one beside the
annotations folder, named after it, on the first sync of a vault: every annotation note
by paper, by colour, the removed ones, and "This paper", the view a literature note
embeds (``![[Annotations.base#This paper]]``) to list its own annotations.

It is the user's from then on: Obsidian rewrites the file whenever a view is changed, and
the user may delete it. So obsync never rewrites it and never writes it again. The
state remembers that it was written (meta ``base``). Should the state be lost, a vault
that already holds annotation notes has been synced before, so its Base was written then
(and is there, or was deleted by the user, whose wish stands): it is not written again.
A state from before obsync wrote Bases (it has synced, and says nothing of a Base) gets
one, once, unless a file of that name is there.
"""

from __future__ import annotations

import logging
import os
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from obsync.model import Kind
from obsync.settings.config import Settings
from obsync.vault.listing import CONFLICT_SUFFIX, has_notes
from obsync.vault.write import write_new

if TYPE_CHECKING:
    from obsync.sync.state import StateStore

log = logging.getLogger(__name__)

META = "base"  # in the state's meta: what became of the Base, so it is decided once
THIS_PAPER = "This paper"


def base_path(annotations_folder: str) -> PurePosixPath:
    """``Zotero/Annotations`` -> ``Zotero/Annotations.base``: beside the folder, named after it."""
    folder = PurePosixPath(annotations_folder)
    return folder.parent / f"{folder.name}.base"


def base_text(name: str) -> str:
    """The Base named ``name``, as YAML. In expressions, a property whose name holds a
    ``-`` is read as ``note["…"]`` (a bare ``annotation-type`` would be a subtraction)."""
    columns = ["file.name", "note.page", "note.annotation-type", "note.color", "formula.zotero"]
    # Zotero's reading order: each note's ``order`` (its sort index), text that sorts as it
    # should whatever the page labels are (``iv``, ``12-13``).
    by_page = [{"property": "note.order", "direction": "ASC"}]
    base: dict[str, Any] = {
        "filters": {
            "and": [
                f'file.hasProperty("{Kind.ANNOTATION.field}")',
                f'!file.name.contains("{CONFLICT_SUFFIX}")',
            ]
        },
        "formulas": {
            "zotero": 'link(zotero, "Open in Zotero")',
        },
        "properties": {
            "file.name": {"displayName": "Annotation"},
            "note.source": {"displayName": "Paper"},
            "note.page": {"displayName": "Page"},
            "note.order": {"displayName": "Order"},
            "note.author": {"displayName": "By"},
            "note.annotation-type": {"displayName": "Type"},
            "note.color": {"displayName": "Colour"},
            "note.annotation-status": {"displayName": "Status"},
            "note.citation": {"displayName": "Citation"},
            "formula.zotero": {"displayName": "Zotero"},
        },
        "views": [
            {
                "type": "table",
                "name": "By paper",
                "groupBy": {"property": "note.source", "direction": "ASC"},
                "order": [*columns, "note.annotation-status"],
                "sort": by_page,
            },
            {
                "type": "table",
                "name": "By colour",
                "groupBy": {"property": "note.color", "direction": "ASC"},
                "order": ["file.name", "note.source", "note.page", "note.tags"],
                "sort": [{"property": "note.source", "direction": "ASC"}, *by_page],
            },
            {
                "type": "table",
                "name": "Removed",
                "filters": {"and": ['note["annotation-status"] == "removed"']},
                "order": ["file.name", "note.source", "note.page", "note.citation"],
                "sort": [{"property": "note.source", "direction": "ASC"}, *by_page],
            },
            {
                "type": "table",
                "name": THIS_PAPER,
                # In a note that embeds the Base, `this` is that note: its annotations are
                # those whose `source` links to it.
                "filters": {"and": ["source == this"]},
                "order": [*columns, "note.annotation-status"],
                "sort": by_page,
            },
        ],
    }
    head = (
        "# Written once by obsync on the first sync; yours to change: obsync never rewrites\n"
        f"# it. In a literature note, ![[{name}#{THIS_PAPER}]] lists that paper's annotations.\n"
    )
    return head + yaml.dump(base, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    """YAML as Obsidian writes it: lists indented under their key, no anchors."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_once(settings: Settings, store: StateStore) -> bool:
    """Write the Base if this vault never had one from obsync; True when written now."""
    meta = store.load_meta()
    if meta is None and store.path.exists():
        store.load()  # unreadable: moved aside, as the sync would, and taken as lost
    meta = meta or {}
    if META in meta:
        return False
    relative = base_path(settings.annotations_folder)
    target = settings.vault / relative
    if os.path.lexists(target):
        store.set_meta({META: f"kept {relative}: it was there"})
        return False
    if "last_sync" not in meta and has_notes(settings.vault, settings.annotations_folder):
        # No state, yet notes: the state was lost, and the Base written long ago (perhaps
        # deleted since). Written again, it would undo the user's deletion.
        store.set_meta({META: f"not written {relative}: the vault was synced before"})
        return False
    settings.vault.mkdir(parents=True, exist_ok=True)
    text = base_text(relative.name)
    written = write_new(settings.vault, relative, text.encode(), f"wrote the Base {relative}")
    if written or os.path.lexists(target):
        store.set_meta({META: f"wrote {relative}" if written else f"kept {relative}"})
    return written
