"""Test set-up for the Zotero API source: a key file, a config naming the fake server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from obsync.cli import main
from tests.zotero_server import KEY, FakeZotero, annotation, attachment, paper


def write_config(
    root: Path,
    fake: FakeZotero,
    *,
    libraries: tuple[str, ...] = ("users/8071752",),
    export: Path | None = None,
    data_dir: Path | None = None,
    key: str = KEY,
    stream_url: str | None = None,
) -> Path:
    key_file = root / "zotero-key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    lines = [f'vault = "{root / "vault"}"']
    if export is not None:
        lines.append(f'export = "{export}"')
    lines += [
        "[zotero]",
        f"library = {json.dumps(list(libraries))}",
        f'api_key_file = "{key_file}"',
        f'api_url = "{fake.url}"',
    ]
    if data_dir is not None:
        lines.append(f'data_dir = "{data_dir}"')
    if stream_url is not None:
        lines.append(f'stream_url = "{stream_url}"')
    config = root / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def run_json(
    capsys: pytest.CaptureFixture[str], config: Path, *extra: str, code: int = 0
) -> dict[str, Any]:
    capsys.readouterr()
    rc = main(["sync", "--config", str(config), "--json", *extra])
    captured = capsys.readouterr()
    assert rc == code, captured.out + captured.err
    result: dict[str, Any] = json.loads(captured.out)
    return result


def fill(fake: FakeZotero, library: str, papers: int, per_paper: int) -> None:
    """``papers`` papers, each with a PDF holding ``per_paper`` highlights, in one write."""
    items = []
    for p in range(papers):
        items += [
            paper(f"PAPER{p:03d}", f"Paper number {p}"),
            attachment(f"PDF{p:05d}", f"PAPER{p:03d}"),
        ]
        for a in range(per_paper):
            items.append(
                annotation(f"A{p:03d}{a:04d}", f"PDF{p:05d}", text=f"Highlight {a} of paper {p}",
                           page=str(a // 10 + 1), page_index=a // 10, top=700.0 - (a % 10) * 50)
            )  # fmt: skip
    fake.library(library).put(*items)
