"""File names made from export data."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from obsync.vault.names import MAX_BYTES, safe_stem


def test_examples() -> None:
    assert safe_stem("A Survey of Large Language Models") == "A Survey of Large Language Models"
    assert safe_stem("../../etc/passwd") == "etc passwd"
    assert safe_stem('a/b\\c:d*e?f"g<h>i|j[k]l#m^n') == "a b c d e f g h i j k l m n"
    assert safe_stem("CON") == "CON_"
    assert safe_stem("con.txt") == "con.txt_"
    assert safe_stem("  ...  ") == "Untitled"
    assert safe_stem("evil\u202egnp.exe") == "evil gnp.exe"
    assert safe_stem("e\u0301") == "\u00e9"


@given(st.text())
def test_any_text_gives_a_safe_name(text: str) -> None:
    stem = safe_stem(text)
    assert stem and stem not in {".", ".."}
    assert not set(stem) & set('/\\:*?"<>|[]#^')
    assert not stem.startswith(".") and not stem.endswith((".", " "))
    assert len(stem.encode("utf-8")) <= MAX_BYTES + 1
    assert unicodedata.is_normalized("NFC", stem) or stem == "Untitled"
    assert all(unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp"} for c in stem)
