"""obsync's benchmark: one run, one machine, every number the targets speak of.

    python bench/run.py --annotations 100000            # about 1,000 exports
    python bench/run.py --annotations 10000 --exports 100 --keep /tmp/obsync-bench

Prints a Markdown table: cold sync and the floor (plain Python reading every export and
writing the same files, same count and bytes), no-op resync, resync after one annotation
changed, the daemon's latency from an export change to the note written, and peak memory.
Nothing here is a pass/fail test; the targets are printed beside the numbers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from library import KEYLESS, change_one_comment, generate, keyless_paper, new_paper

from obsync.export.folder import ExportFolder
from obsync.settings.config import resolve
from obsync.sync import Report, Request, run_sync

T = TypeVar("T")


def timed(action: object) -> tuple[float, Report]:
    start = time.perf_counter()
    report = action()  # type: ignore[operator]
    return time.perf_counter() - start, report


def written(report: Report) -> int:
    return len(report.applied.written) if report.applied is not None else 0


def floor(export: Path, vault: Path, target: Path) -> tuple[float, float]:
    """Plain Python: read every export file, write the files obsync wrote, same bytes.
    Also the time to make them durable after (one sync(2)): what the disk costs obsync,
    which makes its notes durable before they replace anything."""
    outputs = [
        (path.relative_to(vault), path.read_bytes()) for path in vault.rglob("*") if path.is_file()
    ]
    folders = sorted({relative.parent for relative, _ in outputs})
    start = time.perf_counter()
    for path in export.rglob("*"):
        if path.is_file():
            path.read_bytes()
    for folder in folders:
        (target / folder).mkdir(parents=True, exist_ok=True)
    for relative, data in outputs:
        with open(target / relative, "wb") as out:
            out.write(data)
    plain = time.perf_counter() - start
    os.sync()
    return plain, time.perf_counter() - start - plain


def in_child(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a forked process: its memory is not counted as obsync's."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(function, args)


def note_of(vault: Path, export: Path, paper: int) -> Path:
    """The note of the first annotation in a paper's export (the one change_one_comment edits)."""
    text = (export / f"Paper {paper:05d}.md").read_text(encoding="utf-8")
    at = text.index("annotationKey%22%3A%22") + len("annotationKey%22%3A%22")
    key = text[at : at + 8]
    (found,) = vault.rglob(f"{key}.md")
    return found


def daemon_latency(export: Path, vault: Path, changes: int) -> tuple[list[float], float]:
    """Seconds from an export rename to the changed note on disk, for a running
    ``obsync run`` process; and that process's peak memory (MB) at the end."""
    papers = len(list(export.glob("Paper *.md")))
    with tempfile.TemporaryDirectory() as folder:
        ready = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ready.bind(str(Path(folder) / "notify"))
        ready.settimeout(600)
        env = dict(os.environ, NOTIFY_SOCKET=str(Path(folder) / "notify"))
        daemon = subprocess.Popen(
            [*obsync_command("run", export, vault)], env=env, stderr=subprocess.DEVNULL
        )
        try:
            while b"READY=1" not in ready.recv(4096):
                pass
            latencies = []
            for change in range(changes):
                paper = change * 7 % min(50, papers)
                note = note_of(vault, export, paper)
                stamp = f"latency-{change}"
                start = time.perf_counter()
                change_one_comment(export, paper, stamp)
                deadline = start + 60
                while stamp not in note.read_text(encoding="utf-8"):
                    if time.perf_counter() > deadline:
                        raise SystemExit(f"the daemon did not write {note} within 60 s")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - start)
                time.sleep(0.2)  # let the daemon settle between changes
            peak = process_peak_mb(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            ready.close()
    return latencies, peak


def full_in_a_process(export: Path, vault: Path) -> tuple[float, float]:
    """``obsync sync --full`` in a process of its own: its time and its peak memory."""
    script = (
        "import resource, sys\n"
        "from obsync.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, "-q", "sync", "--full", "--export", str(export),
         "--vault", str(vault)], check=True, capture_output=True, text=True,
    )  # fmt: skip
    took = time.perf_counter() - start
    return took, int(done.stderr.strip().splitlines()[-1]) / 1024


def obsync_command(command: str, export: Path, vault: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "obsync", "-q", command, "--export", str(export),
            "--vault", str(vault), *extra]  # fmt: skip


def process_peak_mb(pid: int) -> float:
    """A running process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children_peak_mb() -> float:
    """The largest peak resident memory of the child processes waited for so far, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", type=int, default=100_000)
    parser.add_argument("--exports", type=int, help="default: one per 100 annotations")
    parser.add_argument("--images", type=float, default=0.01, help="share of image annotations")
    parser.add_argument("--latency-samples", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    exports = args.exports or max(1, args.annotations // 100)

    work = args.keep or Path(tempfile.mkdtemp(prefix="obsync-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ["XDG_STATE_HOME"] = str(work / "state")
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")
    export, vault = work / "export", work / "vault"
    print(f"generating {args.annotations} annotations in {exports} exports ...", file=sys.stderr)
    generate(export, args.annotations, exports, images=args.images)
    keyless_paper(export, 100)  # and one paper exported without Zotero links
    an_hour_ago = time.time() - 3600  # exports are older than the sync that first reads them
    for path in export.rglob("*"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    settings = resolve(config_path=None, export=export, vault=vault)
    rows: list[tuple[str, str, str]] = []

    print("cold sync ...", file=sys.stderr)
    # `obsync sync` as a user runs it, in a process of its own: its time and memory.
    start = time.perf_counter()
    out = subprocess.run(obsync_command("sync", export, vault, "--json"), check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    cold = time.perf_counter() - start
    cold_peak = children_peak_mb()
    created = json.loads(out)["annotations"]["created"]
    os.sync()  # the cold sync's own writes are not the floor's to flush
    bottom, durable = in_child(floor, export, vault, work / "floor")
    rows.append(("cold sync, `obsync sync` (new process)", f"{cold:.1f} s ({created:,} notes)", ""))
    rows.append(("floor: read exports, write same files", f"{bottom:.1f} s", ""))
    rows.append(("cold / floor", f"{cold / bottom:.1f} times", "≤ 3 times"))
    rows.append(("the floor's files made durable after (one sync)", f"{durable:.1f} s", ""))
    rows.append(("peak memory (RSS), cold `obsync sync`", f"{cold_peak:.0f} MB", "≤ 200 MB"))

    print("no-op resyncs ...", file=sys.stderr)
    command = [sys.executable, "-m", "obsync", "sync", "--export", str(export),
               "--vault", str(vault)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    fresh = time.perf_counter() - start
    rows.append(("no-op resync, `obsync sync` (new process, start-up included)",
                 f"{fresh:.2f} s", ""))  # fmt: skip
    folder = ExportFolder(settings.export)  # what the daemon keeps between syncs
    run_sync(settings, folder=folder)  # warm: what the daemon keeps between syncs
    # As the daemon syncs on an export change: without listing the vault's folders.
    noop, report = timed(lambda: run_sync(settings, Request(list_vault=False), folder=folder))
    rows.append(("no-op resync, in process", f"{noop:.3f} s, {written(report)} written",
                 "≤ 0.5 s"))  # fmt: skip
    listed, report = timed(lambda: run_sync(settings, folder=folder))
    rows.append(("no-op resync, in process, vault folders listed (as `obsync sync`)",
                 f"{listed:.3f} s, {written(report)} written", ""))  # fmt: skip
    full, report = timed(lambda: run_sync(settings, Request(full=True), folder=folder))
    rows.append(("no-op full resync (`--full`: every note read), in process",
                 f"{full:.1f} s, {written(report)} written", ""))  # fmt: skip

    change_one_comment(export, 3, "one-change")
    one, report = timed(lambda: run_sync(settings, Request(list_vault=False), folder=folder))
    rows.append(("one annotation changed, in process", f"{one:.3f} s, {written(report)} written",
                 "≤ 0.2 s, 1–2 written"))  # fmt: skip

    print("what changed, by kind ...", file=sys.stderr)
    per_note = cold / created  # a note's share of the cold sync

    def share(notes: int) -> str:
        return f"≤ {0.5 + notes * per_note:.2f} s (0.5 s + {notes} notes' share of cold)"

    new_paper(export, exports, 300)
    took, report = timed(lambda: run_sync(settings))
    rows.append(("a new paper exported (300 annotations), in process, vault names listed",
                 f"{took:.2f} s, {written(report)} written, {report.notes_read} notes read",
                 share(written(report))))  # fmt: skip
    keyless_paper(export, 100, edited="A comment added later.")
    took, report = timed(lambda: run_sync(settings))
    rows.append(("one comment changed in a paper exported without Zotero links, in process",
                 f"{took:.2f} s, {written(report)} written, {report.notes_read} notes read",
                 share(written(report))))  # fmt: skip
    papers = sorted(p for p in export.glob("*.md") if p.name != KEYLESS)
    now = time.time()
    for path in papers[: len(papers) // 3]:
        path.write_bytes(path.read_bytes())
        os.utime(path, (now - 60, now - 60))
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    third = time.perf_counter() - start
    rows.append(("a third of the exports rewritten unchanged, `obsync sync` (new process)",
                 f"{third:.2f} s", f"≤ {0.15 * cold:.1f} s (15 % of cold)"))  # fmt: skip
    for path in papers:  # as exports written just before a sync: every stamp is new
        os.utime(path, None)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    subprocess.run(command, check=True, capture_output=True)
    after = (time.perf_counter() - start) / 2
    rows.append(("the syncs right after exports were written, same bytes, `obsync sync`"
                 " (new process; the mean of two)", f"{after:.2f} s",
                 f"≤ {0.15 * cold:.1f} s (15 % of cold)"))  # fmt: skip
    took, peak = full_in_a_process(export, vault)
    rows.append(("`--full` with nothing to do, `obsync sync --full` (new process)",
                 f"{took:.1f} s, peak {peak:.0f} MB",
                 f"≤ {0.35 * cold:.1f} s (35 % of cold), ≤ 250 MB"))  # fmt: skip

    print("daemon latency ...", file=sys.stderr)
    latencies, daemon_peak = daemon_latency(export, vault, args.latency_samples)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    debounce = settings.daemon.debounce
    rows.append(("daemon latency p50 / p95 (`obsync run`)", f"{p50:.2f} s / {p95:.2f} s",
                 f"p95 ≤ {debounce + 0.3:.1f} s (debounce {debounce:g} s + 0.3)"))  # fmt: skip
    rows.append(("peak memory (RSS), `obsync run`: start, then the changes above",
                 f"{daemon_peak:.0f} MB", "≤ 200 MB"))  # fmt: skip
    rows.append(("peak memory (RSS), the in-process syncs above (`--full` included)",
                 f"{peak_mb():.0f} MB", ""))  # fmt: skip

    when = datetime.now(UTC).strftime("%Y-%m-%d")
    machine = (
        f"{cpu_name()}, {os.cpu_count()} cores (shared with other jobs: figures vary);"
        f" Python {platform.python_version()}"
    )
    print(
        f"\n{args.annotations:,} annotations in {exports:,} Better Notes exports;",
        f"{when}; {machine}\n",
    )
    print("| measure | result | target |\n| --- | --- | --- |")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
