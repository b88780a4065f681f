"""Write the bundled demo export (examples/export/): two papers in the Better Notes format.

Run from the repository root: ``python examples/make_demo.py``. The output is deterministic
and committed; the writer is the one the tests use (tests/formats.py), which follows
docs/formats.md byte for byte.
"""

from __future__ import annotations

import struct
import sys
import zlib
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.formats import Ann, better_notes  # noqa: E402

OUT = ROOT / "examples" / "export"
vaswani = partial(Ann, attachment="9D2ZJ8WX", parent="3NQ8GQ4H", citation="Vaswani et al., 2017")

SURVEY = [
    Ann(
        "RC4HW3AF",
        text="Since the researchers have found that model scaling can lead to an improved model capacity",
        comment="The central claim of the survey: scale changes capability, not just loss.",
        page="1",
    ),
    Ann(
        "M2XQ8ZKA",
        text="large language models (LLMs) have shown strong capabilities in solving various NLP tasks",
        color="#2ea8e5",
        page="1",
    ),
    Ann(
        "B7RFW3TN",
        text="emergent abilities",
        comment="Define this precisely before citing it. See [6–9] for the original discussion.",
        color="#ff6666",
        page="2",
    ),
    Ann(
        "K4DSP9QY",
        text="the scaling law of Kaplan et al.",
        comment="Compare with Chinchilla (Hoffmann et al.)",
        color="#5fb236",
        page="3",
    ),
    Ann(
        "T8HNV2LC",
        text="in-context learning, instruction following & step-by-step reasoning",
        comment="Three abilities, three sections of my chapter:\n1. ICL\n2. instruction tuning\n\n3. chain of thought",
        color="#a28ae5",
        page="4",
    ),
    Ann("P3GZ6WJE", text="pre-training data of high quality", color="#f19837", page="5"),
    Ann(
        "W9MKC4RB",
        text="data scheduling",
        comment="这个观点很重要：数据配比比数据量更关键。",
        color="#e56eee",
        page="6",
    ),
    Ann(
        "F6YTQ2NX", text="RLHF", comment="Reward model *and* PPO; cost?", color="#aaaaaa", page="7"
    ),
    Ann("Z5LBR8VD", text="instruction tuning", page="8"),
    Ann(
        None,
        kind="note",
        comment="Check whether the figures in section 4 were reproduced anywhere.",
        color=None,
        page="9",
    ),
    Ann(
        "QGZ7JHT2",
        kind="image",
        comment="Timeline of LLMs: good overview figure for the talk.",
        color="#5fb236",
        page="10",
        image_key="QGZ7JHTT",
    ),
    Ann(
        "H3NS4PXK",
        text="alignment tax",
        comment="Counter-argument in the appendix.",
        color="#ff6666",
        page="11",
    ),
    Ann("E8WC2QJM", text="parameter-efficient fine-tuning", color="#2ea8e5", page="12"),
    Ann("R6VJ9TDA", text="LoRA", comment="Used in my experiments.", page="12"),
    Ann(
        "D2KP7MXS",
        kind="image",
        comment="Prompting strategies table.",
        color="#ffd400",
        page="14",
        image_key="C9RT5BWE",
    ),
    Ann(
        "N4GF8LZY",
        text="hallucination",
        comment="Open problem; link to my note on evaluation.",
        color="#ff6666",
        page="16",
    ),
    Ann("Y7QH3CRE", text="evaluation benchmarks", color="#f19837", page="18"),
    Ann("J5TB2WNK", text="The future directions", comment="", color="#a28ae5", page="20"),
]
ATTENTION = [
    vaswani(
        "U3KD8RVA",
        text="The dominant sequence transduction models are based on complex recurrent or convolutional neural networks",
        page="1",
    ),
    vaswani(
        "S8PL2MYC",
        text="Attention Is All You Need",
        comment="The title says it all.",
        color="#ff6666",
        page="1",
    ),
    vaswani(
        "G6WN4TQZ",
        text="Scaled Dot-Product Attention",
        comment="softmax(QK^T / sqrt(d_k)) V",
        color="#5fb236",
        page="4",
    ),
    vaswani("A9XR3JHD", text="Multi-Head Attention", color="#2ea8e5", page="4"),
    vaswani(
        "V2CE7KMB",
        kind="image",
        comment="The Transformer architecture.",
        color="#a28ae5",
        page="3",
        image_key="L7HX2PQN",
    ),
    vaswani(
        "X4MT9BWS",
        text="positional encodings",
        comment="Sinusoidal; later work learns them.",
        color="#ffd400",
        page="6",
    ),
]


def png(width: int, height: int, colours: list[tuple[int, int, int]]) -> bytes:
    """A small PNG of vertical colour bars."""
    band = max(1, width // len(colours))
    row = b"".join(bytes(colours[min(x // band, len(colours) - 1)]) for x in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    (OUT / "attachments").mkdir(parents=True, exist_ok=True)
    (OUT / "Annotations-(3-15-2024,-10-22-13-AM)-ABCD2345.md").write_text(
        better_notes(SURVEY, title="A Survey of Large Language Models"), encoding="utf-8"
    )
    (OUT / "Annotations-(3-15-2024,-10-22-13-AM)-GHJK6789.md").write_text(
        better_notes(ATTENTION, title="Attention Is All You Need", old=True, note_key="GHJK6789"),
        encoding="utf-8",
    )
    palette = [(255, 212, 0), (255, 102, 102), (95, 178, 54), (46, 168, 229), (162, 138, 229)]
    for index, name in enumerate(["QGZ7JHTT", "C9RT5BWE", "L7HX2PQN"]):
        image = png(64, 40, palette[index:] + palette[:index])
        (OUT / "attachments" / f"{name}.png").write_bytes(image)


if __name__ == "__main__":
    main()
