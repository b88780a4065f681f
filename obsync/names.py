"""File names from export data: safe on every OS and in Obsidian links."""

from __future__ import annotations

import re
import unicodedata

from obsync.scan import CONFLICT_SUFFIX

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
