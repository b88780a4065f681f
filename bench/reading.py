"""How long reading the export takes: every file through its reader, in one process.

    python bench/reading.py --annotations 10000            # 100 Better Notes exports
    python bench/reading.py --annotations 10000 --repeat 7

Prints the least CPU time of the repeats (the one least disturbed by other programs),
per export and per annotation. Reading alone: no vault, no state. Run it on two
checkouts to compare readers (the library is the same for the same arguments).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from library import generate

from obsync.export.read import read_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=int, default=10_000)
    parser.add_argument("--exports", type=int, default=None, help="default: one per 100")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    exports = args.exports or max(1, args.annotations // 100)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate(root, args.annotations, exports)
        files = sorted(root.glob("*.md"))
        best = float("inf")
        for _ in range(args.repeat):
            started = time.process_time()
            read = sum(len(read_file(path, root).annotations) for path in files)
            best = min(best, time.process_time() - started)
    print(
        f"| reading {read:,} annotations in {exports:,} exports | {best:.2f} s CPU | "
        f"{best / exports * 1000:.1f} ms per export, {best / read * 1e6:.0f} µs per annotation |"
    )


if __name__ == "__main__":
    main()
