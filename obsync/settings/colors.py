"""Zotero's annotation palette and the colour tags obsync gives notes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

PALETTE: dict[str, str] = {
    "#ffd400": "yellow",
    "#ff6666": "red",
    "#5fb236": "green",
    "#2ea8e5": "blue",
    "#a28ae5": "purple",
    "#e56eee": "magenta",
    "#f19837": "orange",
    "#aaaaaa": "gray",
}
NAMES: dict[str, str] = {name: hex_ for hex_, name in PALETTE.items()}

_HEX = re.compile(r"#?([0-9a-fA-F]{6})(?:[0-9a-fA-F]{2})?")


def normalise(color: object) -> str | None:
    """``"#FFD400"``, ``"ffd400"`` or ``"#ffd40080"`` -> ``"#ffd400"``; anything else -> None."""
    if not isinstance(color, str):
        return None
    match = _HEX.fullmatch(color.strip())
    return f"#{match.group(1).lower()}" if match else None


def color_name(color: str) -> str:
    """The palette name of a colour, or its hex digits for any other colour."""
    return PALETTE.get(color, color.lstrip("#"))


def color_tags(color: str | None, custom: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The tags for a colour: the user's mapping (by name or hex) else ``zotero/<name>``."""
    if color is None:
        return ()
    name = color_name(color)
    for wanted in (color, name):
        if wanted in custom:
            return tuple(custom[wanted])
    return (f"zotero/{name}",)
