"""Pieces the readers share (export/text.py)."""

from __future__ import annotations

from urllib.parse import quote, unquote

from hypothesis import example, given
from hypothesis import strategies as st

from obsync.export.text import percent_decode

# Text made of what percent-encoded JSON holds: escapes, upper and lower case, stray `%`.
_PIECES = st.sampled_from(["%", "%2", "%25", "%22", "%3a", "%3A", "%E4", "%B8", "%AD", "a", " "])
_ENCODED = st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=30).map("".join)


@given(st.text())
def test_percent_decode_reads_what_encode_uri_component_wrote(text: str) -> None:
    encoded = quote(text, safe="-_.!~*'()")
    assert percent_decode(encoded) == unquote(encoded)


@given(_ENCODED)
@example("%2522")  # an escaped % before digits: not a quote
@example("%E4%22%B8")  # a UTF-8 sequence broken by an escape
@example("%%22")
def test_percent_decode_is_unquote_on_any_text(text: str) -> None:
    assert percent_decode(text) == unquote(text)
