"""Coverage-guided fuzzing of the export readers and the marker split, with atheris.

    pip install -e '.[fuzz]'
    python fuzz/make_corpus.py fuzz/corpus       # seeds: the test fixtures, in every format
    python fuzz/readers.py fuzz/corpus -runs=200000 -max_len=20000

Any exception is a crash (atheris saves the input as crash-*); the readers must report
bad input as errors in their result, never raise.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

from obsync.export import read_file
from obsync.vault import note

SUFFIXES = (".md", ".html")
MARKER = "%% obsync: write your notes below this line %%"
FOLDER = Path(tempfile.mkdtemp(prefix="obsync-fuzz-"))


def one_input(data: bytes) -> None:
    if not data:
        return
    path = FOLDER / f"export{SUFFIXES[data[0] % 2]}"
    path.write_bytes(data[1:])
    result = read_file(path, FOLDER)
    assert all(error.file == path for error in result.errors)
    parts = note.split(note.decode(data[1:]), MARKER)
    if isinstance(parts, note.Parts):
        assert note.encode(parts.head + parts.marker_line + parts.tail) == data[1:]
        note.parse_head(parts.head)


if __name__ == "__main__":
    atheris.instrument_all()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
