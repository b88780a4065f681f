"""Seed inputs for fuzz/readers.py: every test fixture and the demo export, in its format."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    sources = [*(ROOT / "tests" / "fixtures").rglob("*"), *(ROOT / "examples").rglob("*")]
    for number, path in enumerate(sorted(p for p in sources if p.suffix in (".md", ".html"))):
        prefix = b"\x01" if path.suffix == ".html" else b"\x00"
        (target / f"seed-{number:03d}").write_bytes(prefix + path.read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
