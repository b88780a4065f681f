"""Zotero Web API items -> the annotations an export of them would give (pure).

An annotation item names its attachment (``data.parentItem``); the attachment names
the paper (its own ``parentItem``), unless it is a standalone PDF, which is then its
own paper. The result is what :class:`obsync.export.assemble.ParagraphReader`
makes of the same annotation in an export: the same key, link, citation and source
key, so an annotation seen in both sources is one note. The API's title is the
paper's own, so it outranks any export's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obsync.export import text as common
from obsync.export import titles
from obsync.export.assemble import valid_key
from obsync.export.text import ItemRef
from obsync.model import Annotation, AnnotationType, Library, Location, SourceInfo
from obsync.settings.colors import normalise

TITLE_FROM_API = titles.FROM_DATA + 1  # the item's own title: above anything an export says
PICTURED = (AnnotationType.IMAGE, AnnotationType.INK)  # Zotero renders these to a PNG

Item = Mapping[str, Any]  # one item as the API serves it: key, version, meta, data
# Where Zotero's rendered picture of an image or ink annotation is, when it is here.
FindPicture = Callable[[str, str], Path | None]
_YEAR = re.compile(r"\b(\d{4})\b")


@dataclass(frozen=True, slots=True)
class Converted:
    """An annotation item read: an annotation, or why not (``error``), or neither
    (an item in the trash, or not an annotation at all)."""

    annotation: Annotation | None = None
    error: str = ""


def library_of(name: str) -> Library:
    """``users/NNN`` -> the user's own library; ``groups/NNN`` -> that group's."""
    kind, _, ident = name.partition("/")
    return Library(ident if kind == "groups" else None)


def origin(name: str) -> Path:
    """What stands for a library where an export has its file (errors, the state)."""
    return Path(f"zotero:{name}")


def data_of(item: Item) -> Mapping[str, Any]:
    data = item.get("data")
    return data if isinstance(data, Mapping) else {}


def in_trash(item: Item | None) -> bool:
    return item is not None and bool(data_of(item).get("deleted"))


def no_pictures(_library: str, _key: str) -> Path | None:
    return None


def convert(
    library: str,
    item: Item,
    items: Mapping[str, Item],
    find_picture: FindPicture = no_pictures,
) -> Converted:
    """One annotation item, with ``items`` (by key) holding its attachment and paper."""
    data = data_of(item)
    if data.get("itemType") != "annotation" or in_trash(item):
        return Converted()
    checked = _key_and_type(item, data)
    if isinstance(checked, Converted):
        return checked
    key, kind = checked
    attachment_key = data.get("parentItem")
    if not isinstance(attachment_key, str) or not valid_key(attachment_key):
        return Converted(error=f"annotation {key}: no attachment (parentItem); skipped")
    attachment = items.get(attachment_key)
    if in_trash(attachment):
        return Converted()  # its PDF is in the trash, and the annotation with it
    paper_key = data_of(attachment).get("parentItem") if attachment is not None else None
    paper = items.get(paper_key) if isinstance(paper_key, str) else None
    if in_trash(paper):
        return Converted()  # the paper is in the trash, and its annotations with it
    source_key = paper_key if isinstance(paper_key, str) and valid_key(paper_key) else None
    lib = library_of(library)
    source = _source(lib, source_key or attachment_key, paper or attachment)
    attached = ItemRef(lib, attachment_key)
    return Converted(_annotation(library, item, (key, kind), attached, source, find_picture))


def _key_and_type(item: Item, data: Mapping[str, Any]) -> tuple[str, AnnotationType] | Converted:
    """The annotation's key and type, or why it is skipped."""
    key = data.get("key", item.get("key"))
    if not isinstance(key, str) or not valid_key(key):
        return Converted(error=f"item {common.shown(key)}: not a Zotero key; skipped")
    given = data.get("annotationType")
    if given is None or given == "":
        return Converted(error=f"annotation {key}: has no annotation type; skipped")
    try:
        return key, AnnotationType(str(given))
    except ValueError:
        shown = common.shown(given)
        return Converted(error=f"annotation {key}: type {shown} is not known to obsync; skipped")


def _annotation(
    library: str,
    item: Item,
    keyed: tuple[str, AnnotationType],
    attachment: ItemRef,
    source: SourceInfo,
    find_picture: FindPicture,
) -> Annotation:
    """The annotation of a checked item (``keyed``: its key and type), in ``attachment``
    of the paper ``source``."""
    key, kind = keyed
    data = data_of(item)
    author = _author(item) if library.startswith("groups/") else ""
    position = _position(data.get("annotationPosition"))
    page_label = _string(data.get("annotationPageLabel"))
    citation = ", ".join(
        p for p in (source.citation, f"p. {page_label}" if page_label else "") if p
    )
    # The highlighted text is plain text on the API (only the comment is rich text):
    # taken as it is, never decoded as HTML.
    text = _string(data.get("annotationText")).replace("\r\n", "\n").replace("\r", "\n")
    comment = common.clean_comment(
        common.inline_text(_string(data.get("annotationComment")), markdown=False)
    )
    return Annotation(
        key=key,
        keyed=True,
        type=kind,
        text=text.strip(),
        comment=comment,
        color=normalise(data.get("annotationColor")),
        page_label=page_label,
        zotero_link=common.zotero_open_link(attachment, position, key),
        citation=citation,
        source=source,
        image=find_picture(library, key) if kind in PICTURED else None,
        location=Location(origin(library), 0),
        sort_index=_sort_index(data.get("annotationSortIndex")),
        page_sort=common.page_sort_index(position, page_label),
        tags=_tags(data.get("tags")),
        author=author,
    )


_SORT_INDEX = re.compile(r"[0-9]{1,10}(?:\|[0-9]{1,10}){0,3}")


def _sort_index(value: object) -> str:
    """Zotero's ``annotationSortIndex`` (``00003|001234|00100``), or "" if it is not one."""
    return value if isinstance(value, str) and _SORT_INDEX.fullmatch(value) else ""


def _tags(value: object) -> tuple[str, ...]:
    """``[{"tag": "to read"}, {"tag": "cute", "type": 1}]`` -> ``("to read", "cute")``:
    the tags the user gave the annotation (type 0) and those Zotero added (type 1)."""
    if not isinstance(value, list):
        return ()
    names = (t.get("tag") for t in value if isinstance(t, Mapping))
    return tuple(dict.fromkeys(n.strip() for n in names if isinstance(n, str) and n.strip()))


def _author(item: Item) -> str:
    """Who made an annotation in a group library: the name Zotero shows, else the user
    who created the item."""
    name = _string(data_of(item).get("annotationAuthorName"))
    if name:
        return name
    meta = item.get("meta")
    user = meta.get("createdByUser") if isinstance(meta, Mapping) else None
    if isinstance(user, Mapping):
        return _string(user.get("name")) or _string(user.get("username"))
    return ""


def citation_of(item: Item | None) -> str:
    """``Zhao et al., 2023`` from the item's creator summary and date, as exports cite."""
    if item is None:
        return ""
    meta = item.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    data = data_of(item)
    who = _string(meta.get("creatorSummary"))
    if not who and (title := title_of(item)):
        who = f"“{title}”"
    year = ""
    for date in (meta.get("parsedDate"), data.get("date")):
        if isinstance(date, str) and (match := _YEAR.search(date)):
            year = match.group(1)
            break
    return ", ".join(p for p in (who, year) if p)


def _source(library: Library, key: str, item: Item | None) -> SourceInfo:
    title = title_of(item)
    return SourceInfo(
        key=key,
        library=library,
        title=title or f"Zotero item {key}",  # as the export readers name an untitled paper
        title_rank=TITLE_FROM_API if title else 0,
        citation=citation_of(item),
    )


_FILE_EXTENSION = re.compile(r"\.(?:pdf|epub|html?|djvu)$", re.IGNORECASE)


def title_of(item: Item | None) -> str:
    """An item's title; a standalone PDF's (an attachment, its own paper) without the
    file's extension: ``attention-is-all-you-need.pdf`` -> ``attention-is-all-you-need``."""
    data = data_of(item) if item is not None else {}
    title = _string(data.get("title"))
    if data.get("itemType") != "attachment":
        return title
    title = title or _string(data.get("filename"))
    return _FILE_EXTENSION.sub("", title).strip() or title


def _position(value: object) -> object:
    """``annotationPosition`` is JSON in a string."""
    if isinstance(value, str):
        try:
            return common.load_json(value)
        except ValueError:
            return None
    return value


def _string(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def wanted_parents(items: Mapping[str, Item]) -> set[str]:
    """Keys of attachments and papers the annotations in ``items`` need and it lacks."""
    wanted: set[str] = set()
    for item in items.values():
        data = data_of(item)
        if data.get("itemType") not in ("annotation", "attachment"):
            continue
        parent = data.get("parentItem")
        if isinstance(parent, str) and valid_key(parent) and parent not in items:
            wanted.add(parent)
    return wanted


def dumps(item: Item) -> str:
    """What the state keeps of an item: the parts conversion reads."""
    kept = {k: item[k] for k in ("key", "version", "meta", "data") if k in item}
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
