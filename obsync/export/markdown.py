"""Markdown structure the Markdown exports share: paragraphs, and the prefixes users add.

Exporters write one annotation per paragraph; users then move them into block
quotes, lists, headings and footnotes. A paragraph here is a run of non-blank
lines with those prefixes removed from each line, so a reader sees the line as
the exporter wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import yaml

from obsync.export.text import without_html_comments, without_surrogates

if TYPE_CHECKING:
    from obsync.export.assemble import ParagraphReader

# Front matter: "---" on the first line, then YAML up to a line "---" (as Better Notes finds it).
HEADER = re.compile(r"\A---[ \t]*\r?\n((?:.*\r?\n)*?)---[ \t]*(?:\r?\n|\Z)")

# Block quote marks, then a list item's marker or an Obsidian footnote's label, then a heading's.
_PREFIX = re.compile(
    r"^[ \t]*(?:>[ \t]?)*"
    r"(?:(?:[-*+]|\d{1,9}[.)])[ \t]+|\[\^[^\]\s]{1,100}\]:[ \t]*)?"
    r"(?:#{1,6}[ \t]+)?"
)


def markdown_blocks(text: str, start_line: int = 1) -> Iterator[tuple[int, str]]:
    """Paragraphs (runs of non-blank lines) with their first line's number; quote, list,
    footnote and heading prefixes removed; HTML comments (not shown) left out."""
    block: list[str] = []
    first = 0
    lines = without_html_comments(text).split("\n")[start_line - 1 :]
    for number, raw in enumerate(lines, start=start_line):
        line = raw.rstrip("\r")
        if line.strip() == "":
            if block:
                yield first, "\n".join(block)
                block = []
            continue
        if not block:
            first = number
        block.append(_PREFIX.sub("", line, count=1))
    if block:
        yield first, "\n".join(block)


def front_matter(reader: ParagraphReader) -> tuple[dict[str, object], int]:
    """The file's front matter (string values, and lists of strings) and its body's first line.

    Only a block at the very top is front matter: after a blank line, ``---`` starts
    text. YAML is read with every scalar a string (``yes`` stays ``yes``, ``$itemKey``
    stays ``0123``); a one-line JSON object is YAML too. Broken YAML is reported.
    """
    match = HEADER.match(reader.text)
    if match is None:
        return {}, 1
    body_line = 1 + match.group(0).count("\n")
    try:
        loaded = yaml.load(match.group(1), Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        reader.error(line, f"YAML header is not valid YAML ({getattr(exc, 'problem', exc)})")
        return {}, body_line
    except RecursionError:
        reader.error(2, "YAML header nests too deeply to read")
        return {}, body_line
    if not isinstance(loaded, dict):
        return {}, body_line
    fields: dict[str, object] = {}
    for key, value in loaded.items():
        if isinstance(value, str):
            fields[without_surrogates(str(key))] = without_surrogates(value)
        elif isinstance(value, list):
            items = [without_surrogates(v) for v in value if isinstance(v, str)]
            fields[without_surrogates(str(key))] = items
    return fields, body_line
