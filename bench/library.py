"""A realistic synthetic library: N annotations over M Better Notes exports, with images.

Each export is one paper's annotation note as Better Notes writes it (YAML header, one
paragraph per annotation, citations, comments with Markdown escapes, a few image
annotations with their PNGs under ``attachments/``). The same seed gives the same bytes.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import formats  # noqa: E402  (the writer of docs/formats.md's shapes)

COLORS = ["#ffd400", "#ff6666", "#5fb236", "#2ea8e5", "#a28ae5", "#e56eee", "#f19837"]
WORDS = [
    *[
        "model",
        "language",
        "training",
        "data",
        "attention",
        "layer",
        "results",
        "method",
        "baseline",
        "corpus",
    ],
    *[
        "token",
        "evaluation",
        "benchmark",
        "scaling",
        "transformer",
        "parameter",
        "loss",
        "gradient",
    ],
    *["retrieval", "reasoning", "alignment", "survey", "analysis", "experiment", "dataset"],
]
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"


def key(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(8))


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def annotation(rng: random.Random, index: int, paper: int, images: float) -> formats.Ann:
    page = str(1 + index // 4)
    color = rng.choice(COLORS)
    comment = ""
    if rng.random() < 0.4:
        comment = sentence(rng, rng.randint(4, 30))
        if rng.random() < 0.2:
            comment += " See [6-9] & **this**."
    if rng.random() < images:
        return formats.Ann(
            f"I{paper % 1000:03d}{index:04d}"[:8], kind="image", comment=comment, color=color,
            page=page, parent=f"P{paper:07d}", attachment=f"A{paper:07d}",
            image_key=f"M{paper % 1000:03d}{index:04d}"[:8],
        )  # fmt: skip
    return formats.Ann(
        f"H{paper % 1000:03d}{index:04d}"[:8] if paper < 1000 else key(rng),
        text=sentence(rng, rng.randint(8, 40)), comment=comment, color=color, page=page,
        parent=f"P{paper:07d}", attachment=f"A{paper:07d}",
    )  # fmt: skip


def paper_text(rng: random.Random, paper: int, count: int, images: float) -> tuple[str, list[str]]:
    anns = [annotation(rng, i, paper, images) for i in range(count)]
    title = f"{sentence(rng, 6)[:-1]} ({paper})"
    text = formats.better_notes(anns, title=title, note_key=f"N{paper:07d}")
    return text, [a.image_key for a in anns if a.kind == "image"]


def generate(
    export: Path, annotations: int, exports: int, *, images: float = 0.01, seed: int = 1
) -> None:
    """Write the library into ``export`` (which should be empty)."""
    rng = random.Random(seed)
    (export / "attachments").mkdir(parents=True, exist_ok=True)
    base, extra = divmod(annotations, exports)
    for paper in range(exports):
        count = base + (1 if paper < extra else 0)
        text, image_keys = paper_text(rng, paper, count, images)
        (export / f"Paper {paper:05d}.md").write_text(text, encoding="utf-8")
        for image_key in image_keys:
            (export / "attachments" / f"{image_key}.png").write_bytes(PNG)


def change_one_comment(export: Path, paper: int, stamp: str) -> None:
    """Edit one annotation's comment, the way Better Notes rewrites a file: tmp, then rename."""
    path = export / f"Paper {paper:05d}.md"
    text = path.read_text(encoding="utf-8")
    marker = 'ztype="zcitation">'
    at = text.index(marker)
    end = text.index(")</span>", at) + len(")</span>")
    line_end = text.index("\n", end)
    changed = text[:end] + f" Edited {stamp}." + text[line_end:]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(changed, encoding="utf-8")
    tmp.rename(path)


KEYLESS = "keyless paper.md"


def keyless_paper(export: Path, count: int, *, edited: str = "", seed: int = 2) -> None:
    """One paper as Zotero's Markdown export without links writes it: no annotation keys,
    the paper known only by its citation. ``edited``: the first comment's text."""
    rng = random.Random(seed)
    anns = [
        formats.Ann(
            None, text=sentence(rng, rng.randint(8, 30)), page=str(1 + i // 4), color=None,
            parent=None, citation="Keyless et al., 2021",
            comment=edited if i == 0 and edited else "",
        )
        for i in range(count)
    ]  # fmt: skip
    (export / KEYLESS).write_text(formats.zotero_markdown(anns, links=False), encoding="utf-8")


def new_paper(export: Path, paper: int, count: int, images: float = 0.01) -> None:
    """A paper exported after the first sync, as Better Notes writes it."""
    rng = random.Random(1000 + paper)
    text, image_keys = paper_text(rng, paper, count, images)
    (export / f"Paper {paper:05d}.md").write_text(text, encoding="utf-8")
    for image_key in image_keys:
        (export / "attachments" / f"{image_key}.png").write_bytes(PNG)
