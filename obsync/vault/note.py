"""A note's anatomy: frontmatter, the generated body, the marker line, the user's text.

Everything below the marker line belongs to the user and is carried over
byte for byte: notes are decoded with ``surrogateescape`` so even bytes that
are not UTF-8 survive. Frontmatter is handled as top-level blocks of lines,
so properties the user added keep their exact text when obsync rewrites its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import yaml

ENCODING = "utf-8"
ERRORS = "surrogateescape"

_LINE = re.compile(r"[^\n]*(?:\n|\Z)")
_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n((?:.*\n)*?)---[ \t]*(?:\r?\n|\Z)")
_KEY_LINE = re.compile(
    r"""^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'"""
    r"""|([^\s#'"{\[\-?:][^:]*?|-[^\s:][^:]*?))[ \t]*:(?:[ \t]|$)"""
)


# libyaml's loader where PyYAML was built with it: the same safe subset, many times faster.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def decode(data: bytes) -> str:
    return data.decode(ENCODING, ERRORS)


def encode(text: str) -> bytes:
    return text.encode(ENCODING, ERRORS)


class MarkerProblem(Enum):
    MISSING = "the marker line is missing"
    DOUBLED = "the marker line appears more than once"


@dataclass(frozen=True, slots=True)
class Parts:
    """``head`` + ``marker_line`` + ``tail`` is the note's text, exactly."""

    head: str
    marker_line: str  # the marker line as found, with its line ending
    tail: str


def split(text: str, marker: str) -> Parts | MarkerProblem:
    """Split a note at its one marker line (a line that is the marker, spaces aside)."""
    found: list[re.Match[str]] = []
    for line in _LINE.finditer(text):
        if line.group(0).strip() == marker:
            found.append(line)
            if len(found) > 1:
                return MarkerProblem.DOUBLED
        if line.end() == len(text):
            break
    if not found:
        return MarkerProblem.MISSING
    match = found[0]
    return Parts(text[: match.start()], match.group(0), text[match.end() :])


def join(head: str, marker_line: str, tail: str = "") -> str:
    """The inverse of :func:`split`: a (new) head above the marker line and the user's text."""
    if not marker_line.endswith("\n") and tail:
        marker_line += "\n"
    return head + marker_line + tail


@dataclass(frozen=True, slots=True)
class Block:
    """One top-level frontmatter entry: its key and its exact lines."""

    key: str | None  # None: comments or lines before the first key
    text: str


@dataclass(frozen=True, slots=True)
class Head:
    """The part above the marker: frontmatter blocks and the body."""

    blocks: tuple[Block, ...] | None  # None: the note has no frontmatter
    body: str

    def values(self) -> dict[str, Any]:
        """Parsed values of the frontmatter (raises yaml.YAMLError when invalid)."""
        if not self.blocks:
            return {}
        loaded = yaml.load("".join(b.text for b in self.blocks), Loader=SAFE_LOADER)
        if loaded is None:
            return {}
        if not isinstance(loaded, dict):
            raise yaml.YAMLError("frontmatter is not a mapping")
        return {str(k): v for k, v in loaded.items()}


def parse_head(head: str) -> Head:
    match = _FRONTMATTER.match(head)
    if match is None:
        return Head(None, head)
    blocks: list[Block] = []
    key: str | None = None
    lines: list[str] = []
    for raw in match.group(1).splitlines(keepends=True):
        key_match = _KEY_LINE.match(raw)
        if key_match is not None:
            if lines:
                blocks.append(Block(key, "".join(lines)))
            name = next(g for g in key_match.groups() if g is not None)
            key, lines = name, [raw]
        else:
            lines.append(raw)
    if lines:
        blocks.append(Block(key, "".join(lines)))
    return Head(tuple(blocks), head[match.end() :])


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*(?: [A-Za-z0-9._/-]+)*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


# Besides \\ and ": what YAML may not hold raw (controls, surrogates, U+FFFE, U+FFFF)
# and what it would read as a line break or a byte-order mark.
_NEEDS_ESCAPE = re.compile('[\\\\"\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\ufeff\ufffe\uffff]')


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\u{ord(char):04x}"


def yaml_string(value: str) -> str:
    """A YAML scalar for ``value``: plain when unambiguous, else double-quoted."""
    if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return '"' + _NEEDS_ESCAPE.sub(_escape, value) + '"'


Value = str | tuple[str, ...]


def property_block(key: str, value: Value) -> str:
    """One property as Obsidian writes it (lists indented by two spaces)."""
    if isinstance(value, tuple):
        if not value:
            return f"{key}: []\n"
        return f"{key}:\n" + "".join(f"  - {yaml_string(item)}\n" for item in value)
    return f"{key}: {yaml_string(value)}\n"


def render_head(
    properties: list[tuple[str, Value]], body: str, extra: tuple[Block, ...] = ()
) -> str:
    """A head with our properties first, then the user's own blocks unchanged."""
    text = "".join(property_block(k, v) for k, v in properties)
    text += "".join(b.text if b.text.endswith("\n") else b.text + "\n" for b in extra)
    return f"---\n{text}---\n{body}"
