"""The marker split and merge: the user's text comes back byte for byte."""

from __future__ import annotations

import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from obsync.settings.config import DEFAULT_MARKER as MARKER
from obsync.vault import note

HEAD = "---\nannotation-key: ABCD2345\ntags:\n  - zotero/yellow\n---\n> quoted\n\n"

# Text a user might type: any characters, with CRLF, %% and the marker text mixed in.
user_text = st.lists(
    st.one_of(
        st.text(),
        st.sampled_from(
            ["\r\n", "\n", "%%", "%% comment %%", "---\n", MARKER, f"x {MARKER} y", "\r"]
        ),
    )
).map("".join)


@given(user_text)
def test_user_text_round_trips_byte_for_byte(tail: str) -> None:
    assume(not any(line.strip() == MARKER for line in tail.split("\n")))
    text = note.join(HEAD, MARKER + "\n", tail)
    parts = note.split(text, MARKER)
    assert isinstance(parts, note.Parts)
    assert parts.tail == tail
    assert parts.head == HEAD
    # A new head keeps the tail exactly, and bytes survive encoding.
    rewritten = note.join("---\nannotation-key: X\n---\nnew\n\n", parts.marker_line, parts.tail)
    assert note.split(rewritten, MARKER) == note.Parts(
        "---\nannotation-key: X\n---\nnew\n\n", parts.marker_line, tail
    )


@given(st.binary())
def test_any_bytes_survive_decode_and_encode(data: bytes) -> None:
    assert note.encode(note.decode(data)) == data


@given(user_text)
def test_a_second_marker_line_is_reported_not_guessed(tail: str) -> None:
    text = note.join(HEAD, MARKER + "\n", tail + "\n" + MARKER + "\n")
    assert note.split(text, MARKER) is note.MarkerProblem.DOUBLED


def test_marker_inside_a_line_is_user_text() -> None:
    tail = f"I quote {MARKER} here\r\nand %% here %%\r\n"
    parts = note.split(HEAD + MARKER + "\r\n" + tail, MARKER)
    assert isinstance(parts, note.Parts)
    assert parts.marker_line == MARKER + "\r\n"
    assert parts.tail == tail


def test_missing_marker() -> None:
    assert note.split(HEAD + "no marker here\n", MARKER) is note.MarkerProblem.MISSING


def test_marker_as_last_line_without_newline() -> None:
    parts = note.split(HEAD + MARKER, MARKER)
    assert parts == note.Parts(HEAD, MARKER, "")


def test_frontmatter_blocks_keep_user_text_exactly() -> None:
    head = note.parse_head(
        "---\nannotation-key: K\nmy-date: 2024-01-01  # mine\ntags:\n- a\n- b\n"
        'aliases:\n  - "x: y"\n---\nbody\n'
    )
    assert head.blocks is not None
    assert [b.key for b in head.blocks] == ["annotation-key", "my-date", "tags", "aliases"]
    assert head.blocks[1].text == "my-date: 2024-01-01  # mine\n"
    assert head.body == "body\n"
    assert head.values()["tags"] == ["a", "b"]


@given(st.text())
def test_yaml_string_always_reads_back(value: str) -> None:
    value = value.replace("\x00", "")
    loaded = yaml.safe_load(note.property_block("k", value))
    assert loaded == {"k": value}


@given(st.lists(st.text(min_size=1)).map(tuple))
def test_yaml_lists_read_back(values: tuple[str, ...]) -> None:
    assert yaml.safe_load(note.property_block("tags", values)) == {"tags": list(values)}
