"""File names from export data: safe on every OS and in Obsidian links."""

from __future__ import annotations

import re
import unicodedata

_RESERVED = {
    "CON", "PRN", "AUX", "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}  # fmt: skip
# / \ : * ? " < > | are unsafe in paths; [ ] # ^ | break Obsidian links.
_UNSAFE = re.compile(r'[/\\:*?"<>|\[\]#^]')
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
MAX_BYTES = 120


def safe_stem(text: str, fallback: str = "Untitled") -> str:
    """A file name stem made from export text.

    NFC; no path separators, link-breaking or control/bidi characters; no
    leading dots; not a reserved device name; at most ``MAX_BYTES`` UTF-8 bytes.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in _INVISIBLE or c.isspace() else c for c in text)
    text = _UNSAFE.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    while len(text.encode("utf-8")) > MAX_BYTES:
        text = text[:-1]
    text = text.rstrip(" .")
    if not text:
        return fallback
    if text.split(".")[0].upper() in _RESERVED:
        text = f"{text}_"
    return text
