"""Fuzzing the readers and the marker merge: no exception escapes, and no input hangs.

Arbitrary bytes go through the real file reader (so decoding and format detection are
fuzzed too). Inputs built to make regular expressions backtrack or parsers recurse run
under a generous alarm: it catches a hang, it does not measure speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsync.export.read import read_file
from obsync.model import InputError
from obsync.vault import note

from .helpers import time_limit

SUFFIXES = [".md", ".html", ".markdown", ".htm"]


def read_bytes(folder: Path, data: bytes, suffix: str) -> None:
    path = folder / f"export{suffix}"
    path.write_bytes(data)
    result = read_file(path, folder)
    assert result.path == path
    for error in result.errors:
        assert isinstance(error, InputError) and error.file == path
        # Lines as an editor counts them: a lone CR ends a line too (b"a\rb" has two).
        assert error.line is None or 1 <= error.line <= len(data.splitlines()) + 1
        assert error.message


PIECES = st.sampled_from(
    [
        b"---\n", b"$itemKey: ABCD2345\n", b"# Annotations\n", b'<div data-schema-version="9">',
        b'<span class="highlight" data-annotation="%7B%22annotationKey%22%3A%22K%22%7D">',
        b'<span class="citation" data-citation="%7B', b"</span>", b"</div>", b"<p>", b"</p>",
        b"zotero://open-pdf/library/items/ABCD2345?page=1&annotation=KEY23456", b"\xe2\x80\x9c",
        b"\xe2\x80\x9d", b"([Zhao, 2023](zotero://select/library/items/X))", b"\\\n", b"\n\n",
        b"![\\<img ", b'ztype="zimage">](attachments/x.png)', b"\xff\xfe", b"\x00", b"\r\n",
        b'<div class="zotero-notes">', b"<blockquote>", b"&#x26;", b"%%", b"[image]",
    ]
)  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_read_without_an_exception(tmp_path: Path, data: bytes, suffix: str) -> None:
    read_bytes(tmp_path, data, suffix)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.lists(st.one_of(PIECES, st.binary(max_size=6)), max_size=60).map(b"".join),
    suffix=st.sampled_from(SUFFIXES),
)
def test_near_miss_exports_read_without_an_exception(
    tmp_path: Path, data: bytes, suffix: str
) -> None:
    read_bytes(tmp_path, data, suffix)


PATHOLOGICAL = {
    "open-brackets": b"[" * 200_000,
    "backslashes": b"\\" * 200_000,
    "open-tags": b"<span " * 50_000,
    "nested-spans": b'<span class="highlight">' * 50_000,
    "nested-divs": b"<div>" * 100_000 + b"</div>" * 100_000,
    "quotes": "“".encode() * 100_000,
    "parens": b"(" * 200_000 + b"zotero://open-pdf/library/items/X?page=1",
    "links": b"([a](zotero://select/library/items/" * 20_000,
    "percent": b'data-annotation="' + b"%7B" * 100_000,
    "yaml": b"---\n" + b"a: [" * 50_000 + b"\n---\n",
    "one-long-line": b"x" * 5_000_000,
    "many-lines": b"\n" * 1_000_000,
    "crlf": b"\r\n" * 500_000,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_pathological_input_does_not_hang(tmp_path: Path, name: str, suffix: str) -> None:
    with time_limit():
        read_bytes(tmp_path, PATHOLOGICAL[name], suffix)


MARKER = "%% obsync: write your notes below this line %%"


@given(st.binary(max_size=3000))
def test_marker_split_never_raises_and_round_trips_any_bytes(data: bytes) -> None:
    text = note.decode(data)
    parts = note.split(text, MARKER)
    if isinstance(parts, note.Parts):
        assert note.encode(parts.head + parts.marker_line + parts.tail) == data
        assert note.encode(note.join(parts.head, parts.marker_line, parts.tail)) == data


@pytest.mark.parametrize(
    "text",
    [
        (MARKER + " \n") * 100_000,
        "-" * 1_000_000,
        "---\n" * 200_000,
        "---\n" + "key: value\n" * 200_000 + "---\n" + MARKER + "\n",
        " " * 2_000_000 + MARKER,
    ],
)
def test_marker_split_does_not_hang(text: str) -> None:
    with time_limit():
        parts = note.split(text, MARKER)
        if isinstance(parts, note.Parts):
            note.parse_head(parts.head)
