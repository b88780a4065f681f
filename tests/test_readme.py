"""The README's configuration reference documents exactly the keys the Config model holds."""

from __future__ import annotations

import re
from pathlib import Path

from .helpers import config_keys

README = Path(__file__).parent.parent / "README.md"


def configuration_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Configuration\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def documented() -> set[str]:
    """The keys in the first column of the reference table: ``| `daemon.debounce` |``."""
    rows = re.findall(r"^\| `([^`]+)` \|", configuration_section(), flags=re.MULTILINE)
    return {normal(key) for key in rows}


def normal(key: str) -> str:
    """``colors.<colour>`` -> ``colors.<*>``: a placeholder for the user's own keys."""
    return re.sub(r"<[^>]*>", "<*>", key)


def test_the_walk_finds_the_model_keys() -> None:
    keys = config_keys()
    assert {"export", "vault", "state", "notes.marker", "daemon.debounce", "colors.<*>"} <= set(
        keys
    )
    assert "folders.annotations" in keys and "folders" not in keys and "daemon" not in keys


def test_every_config_key_is_documented() -> None:
    missing = [key for key in config_keys() if key not in documented()]
    assert not missing, f"add these keys to the README's configuration reference: {missing}"


def test_every_documented_key_exists() -> None:
    unknown = sorted(documented() - set(config_keys()))
    assert not unknown, f"the README documents keys the Config model does not hold: {unknown}"


def test_the_section_says_how_to_get_a_config() -> None:
    assert "obsync init" in configuration_section()
