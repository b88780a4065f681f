"""A small, exact scanner for the raw HTML that Better Notes leaves in its Markdown.

Better Notes writes annotation spans as machine-generated HTML (hast-util-to-html):
double-quoted attributes, balanced ``<span>`` tags. A full HTML parser per
paragraph costs more than the whole rest of a sync, so this module finds the
few elements obsync needs with regular expressions and a depth counter.

A tag's inside never holds ``<`` (Zotero URL-encodes its attribute data): a tag
that is never closed then costs only the text up to the next ``<``, not the rest
of the file, so hostile input (thousands of unclosed tags) stays linear.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_SPAN_OPEN = re.compile(r"""<span\b((?:[^<>"']|"[^<"]*"|'[^<']*')*)>""", re.IGNORECASE)
_SPAN_EDGE = re.compile(r"<span\b|</span\s*>", re.IGNORECASE)
_TAG = re.compile(r"""<([A-Za-z][A-Za-z0-9]*)\b((?:[^<>"']|"[^<"]*"|'[^<']*')*?)/?>""")


def parse_attrs(source: str) -> dict[str, str]:
    """Attributes of one tag's inside, names lower-cased, values HTML-unescaped."""
    attrs: dict[str, str] = {}
    for match in _ATTR.finditer(source):
        name, double, single, bare = match.groups()
        name = name.lower()
        if name in attrs:
            continue
        value = double if double is not None else single if single is not None else bare or ""
        attrs[name] = html.unescape(value) if "&" in value else value
    return attrs


def first_tag(source: str, name: str) -> dict[str, str] | None:
    """The attributes of the first ``<name …>`` tag in ``source``, or None."""
    for match in _TAG.finditer(source):
        if match.group(1).lower() == name:
            return parse_attrs(match.group(2))
    return None


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int  # after the matching </span>; -1 when the span is never closed
    attrs: dict[str, str]
    inner: str


def spans(source: str) -> Iterator[Span]:
    """Every outermost ``<span>`` in ``source`` with its balanced contents, in order."""
    pos = 0
    while (opening := _SPAN_OPEN.search(source, pos)) is not None:
        depth, cursor, end, inner_end = 1, opening.end(), -1, len(source)
        while (edge := _SPAN_EDGE.search(source, cursor)) is not None:
            depth += 1 if edge.group(0)[1] != "/" else -1
            cursor = edge.end()
            if depth == 0:
                end, inner_end = cursor, edge.start()
                break
        inside = opening.group(1)
        attrs = parse_attrs(inside) if inside.strip() else {}
        yield Span(opening.start(), end, attrs, source[opening.end() : inner_end])
        if end == -1:
            break
        pos = end
