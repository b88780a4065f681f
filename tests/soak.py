"""A soak: real ``obsync run`` processes under Zotero's writes, a user's edits and kills.

Three actors share a temporary export folder and vault for a bounded time:

- Zotero (Better Notes) rewrites the papers' export files every 0.2 to 1 s, both ways
  (``X.md.tmp`` renamed to ``X.md``; truncated, then 2 to 4 chunks with pauses), with
  upstream changes: comments edited, colours changed, annotations removed and added back;
- the user, as Obsidian does: appends below the marker, adds properties and tags by
  rewriting the whole note in place, renames notes, moves them into folders of their own,
  now and then edits above the marker;
- chaos: ``kill -9`` every 10 to 30 s (half of them right after a note was written), one
  SIGTERM; the daemon is restarted at once.

Each paper has a clock annotation the user leaves alone: its comment counts the paper's
writes, so a monitor sees when each write reached the vault. Then the daemon settles (a
bounded wait for the last write to arrive), is stopped, and ``obsync sync --full`` must
find nothing left to do; the vault is checked against what each actor did (``Soak.check``).

``python -m tests.soak --seconds 600 --seed 1`` runs the long version and prints the
figures; ``tests/test_soak.py`` runs 30 s in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from obsync.vault.listing import CONFLICT_SUFFIX, TEMP_PREFIX

from . import formats

MARKER = "%% obsync: write your notes below this line %%"
KEY_LETTERS = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
COLOURS = ("#ffd400", "#ff6666", "#5fb236", "#2ea8e5", "#a28ae5", "#e56eee", "#f19837")
END = " ∎"  # every comment ends so: a comment cut short shows it
# A write reaches the vault within the ceiling plus this (the write in progress when the
# ceiling comes, a sync's own time, the monitor's poll, a loaded machine), plus any time
# obsync was not running.
SLACK = 3.0


@dataclass(frozen=True, slots=True)
class Options:
    seconds: float = 30.0
    seed: int = 1
    papers: int = 4
    annotations: int = 6  # per paper, besides its clock annotation
    debounce: float = 1.0
    max_delay: float = 10.0
    settle: float = 5.0
    kill_every: tuple[float, float] = (10.0, 30.0)


@dataclass(slots=True)
class Paper:
    name: str
    note_key: str
    parent: str
    attachment: str
    clock: str  # the annotation whose comment counts this paper's writes
    anns: dict[str, formats.Ann] = field(default_factory=dict)
    removed: dict[str, formats.Ann] = field(default_factory=dict)
    writes: int = 0

    @property
    def file(self) -> str:
        return f"{self.name}-{self.note_key}.md"

    def text(self) -> str:
        return formats.better_notes(
            sorted(self.anns.values(), key=lambda a: int(a.page)),
            title=self.name,
            note_key=self.note_key,
        )


@dataclass(frozen=True, slots=True)
class Write:
    paper: str
    version: int
    end: float  # when the file was whole (renamed, or closed)
    style: str


class Clock:
    """Seconds since the soak began."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.start


class Zotero:
    """Better Notes' exports, rewritten both ways, with upstream changes."""

    def __init__(self, export: Path, rng: random.Random, options: Options, clock: Clock) -> None:
        self.export = export
        self.rng = rng
        self.clock = clock
        self.keys: set[str] = set()
        self.papers = [self._paper(n, options.annotations) for n in range(options.papers)]
        self.log: list[Write] = []
        self.ever_removed: set[str] = set()
        self.lock = threading.Lock()  # the model, read by the checks at the end

    def key(self) -> str:
        while (key := "".join(self.rng.choices(KEY_LETTERS, k=8))) in self.keys:
            pass
        self.keys.add(key)
        return key

    def _paper(self, number: int, count: int) -> Paper:
        paper = Paper(f"Paper {number}", self.key(), self.key(), self.key(), "")
        paper.clock = self.key()
        paper.anns[paper.clock] = self._ann(paper, paper.clock, page=1, comment=self.tick(paper))
        for _ in range(count):
            self.add(paper)
        return paper

    def _ann(self, paper: Paper, key: str, page: int, comment: str) -> formats.Ann:
        return formats.Ann(
            key, text=f"Highlight {key} of {paper.name}", comment=comment,
            color=self.rng.choice(COLOURS), page=str(page), parent=paper.parent,
            attachment=paper.attachment, citation=f"{paper.name}, 2024",
        )  # fmt: skip

    def tick(self, paper: Paper) -> str:
        return f"write {paper.writes} of {paper.name}{END}"

    def add(self, paper: Paper) -> None:
        if paper.removed and self.rng.random() < 0.3:  # an annotation comes back
            key = self.rng.choice(sorted(paper.removed))
            paper.anns[key] = paper.removed.pop(key)
            return
        key = self.key()
        page = self.rng.randint(2, 40)
        paper.anns[key] = self._ann(paper, key, page, f"first words on {key}{END}")

    def change(self, paper: Paper) -> None:
        """One upstream change: a comment edited, a colour changed, one removed or added."""
        others = [k for k in paper.anns if k != paper.clock]
        roll = self.rng.random()
        if roll < 0.4 and others:
            key = self.rng.choice(others)
            edit = f"comment {self.rng.randrange(10**6)} on {key}{END}"
            paper.anns[key] = replace(paper.anns[key], comment=edit)
        elif roll < 0.6 and others:
            key = self.rng.choice(others)
            paper.anns[key] = replace(paper.anns[key], color=self.rng.choice(COLOURS))
        elif roll < 0.8 and len(others) > 2:
            key = self.rng.choice(others)
            paper.removed[key] = paper.anns.pop(key)
            self.ever_removed.add(key)
        else:
            self.add(paper)

    def write_one(self) -> None:
        """Rewrite one paper's file (the first often: Better Notes rewrites the paper being
        read again and again), usually with a change."""
        with self.lock:
            paper = self.papers[0] if self.rng.random() < 0.4 else self.rng.choice(self.papers)
            paper.writes += 1
            paper.anns[paper.clock] = replace(paper.anns[paper.clock], comment=self.tick(paper))
            if self.rng.random() < 0.7:
                self.change(paper)
            data = paper.text().encode()
        path = self.export / paper.file
        if self.rng.random() < 0.5:
            style = "rename"
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        else:
            style = "in place"
            cuts = sorted(self.rng.sample(range(1, len(data)), self.rng.randint(1, 3)))
            with path.open("wb") as out:  # truncated at once
                for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True):
                    out.write(data[start:stop])
                    out.flush()
                    if stop < len(data):
                        time.sleep(self.rng.uniform(0.02, 0.15))
        self.log.append(Write(paper.name, paper.writes, self.clock(), style))

    def run(self, until: float) -> None:
        while self.clock() < until:
            self.write_one()
            time.sleep(self.rng.uniform(0.2, 1.0))

    def final(self) -> dict[str, tuple[Paper, formats.Ann]]:
        return {key: (p, a) for p in self.papers for key, a in p.anns.items()}

    def removed(self) -> set[str]:
        return {key for p in self.papers for key in p.removed}


def note_key(text: str) -> str | None:
    found = re.search(r"^annotation-key: (\S+)$", text.split("\n---", 1)[0], re.M)
    return found.group(1).strip("'\"") if found else None


def any_key(text: str) -> str | None:
    """An annotation note's or a literature note's key."""
    found = re.search(r"^(?:annotation|item)-key: (\S+)$", text.split("\n---", 1)[0], re.M)
    return found.group(1).strip("'\"") if found else None


def annotation_notes(vault: Path) -> Iterator[tuple[Path, str]]:
    """Every annotation note in the vault (not conflict copies) with its text."""
    for path in vault.rglob("*.md"):
        if path.stem.endswith(CONFLICT_SUFFIX):
            continue
        with contextlib.suppress(OSError):
            text = path.read_text()
            if note_key(text) is not None:
                yield path, text


@dataclass(slots=True)
class UserLog:
    lines: dict[str, list[str]] = field(default_factory=dict)  # key -> lines appended
    properties: dict[str, list[str]] = field(default_factory=dict)  # key -> property lines
    tags: dict[str, list[str]] = field(default_factory=dict)
    edited_above: set[str] = field(default_factory=set)
    renamed: int = 0
    moved: int = 0
    skipped: int = 0  # the note changed between reading and writing it: left for later


class User:
    """Obsidian's user: edits notes in place, renames and moves them."""

    def __init__(self, vault: Path, rng: random.Random, clocks: set[str]) -> None:
        self.vault = vault
        self.rng = rng
        self.clocks = clocks  # left alone: they time the writes
        self.log = UserLog()
        self.count = 0

    def act(self) -> None:
        notes = [(p, t) for p, t in annotation_notes(self.vault) if note_key(t) not in self.clocks]
        if not notes:
            return
        path, text = self.rng.choice(sorted(notes))
        key = note_key(text)
        assert key is not None
        self.count += 1
        n = self.count
        roll = self.rng.random()
        if roll < 0.45:
            line = f"user line {n} on {key}{END}"
            self._rewrite(path, text, text + line + "\n", self.log.lines, key, line)
        elif roll < 0.65:
            prop = f"user-prop-{n}: value {n}"
            tag = f"user/tag-{n}"
            head, rest = text[4:].split("\n---\n", 1)
            head = head.replace("tags:\n", f"tags:\n  - {tag}\n", 1)
            new = f"---\n{head}\n{prop}\n---\n{rest}"
            if self._rewrite(path, text, new, self.log.properties, key, prop):
                self.log.tags.setdefault(key, []).append(tag)
        elif roll < 0.8:
            target = path.with_name(f"{path.stem} renamed {n}.md")
            with contextlib.suppress(OSError):
                path.rename(target)
                self.log.renamed += 1
        elif roll < 0.93:
            folder = self.vault / "My topics" / f"topic {self.rng.randint(1, 3)}"
            folder.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                path.rename(folder / path.name)
                self.log.moved += 1
        elif len(self.log.edited_above) < 4 and MARKER in text:
            new = text.replace(MARKER, f"my edit above the marker {n}\n\n{MARKER}", 1)
            if self._rewrite(path, text, new, {}, key, ""):
                self.log.edited_above.add(key)

    def _rewrite(
        self, path: Path, old: str, new: str, into: dict[str, list[str]], key: str, item: str
    ) -> bool:
        """Write the whole note in place, as an editor saves: not if it changed since read."""
        try:
            if path.read_text(encoding="utf-8") != old:
                self.log.skipped += 1
                return False
            path.write_text(new, encoding="utf-8")
        except OSError:
            self.log.skipped += 1
            return False
        if item:
            into.setdefault(key, []).append(item)
        return True

    def run(self, until: Callable[[], bool]) -> None:
        while not until():
            self.act()
            time.sleep(self.rng.uniform(0.3, 1.5))


class Daemon:
    """``obsync run`` as a process, restarted at once after each kill."""

    def __init__(self, config: Path, env: dict[str, str], log: Path, clock: Clock) -> None:
        self.config = config
        self.env = env
        self.log_path = log
        self.clock = clock
        self.process: subprocess.Popen[bytes] | None = None
        self.down: list[tuple[float, float]] = []  # from a stop to the next READY
        self.exits: list[int] = []
        self.kills = 0
        self.terms = 0
        self.began = 0  # where this process's lines start in the log
        self.folder = tempfile.TemporaryDirectory(prefix="obsync-soak-")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(self.folder.name, "notify"))
        self.sock.settimeout(0.1)
        self.env["NOTIFY_SOCKET"] = self.sock.getsockname()

    def start(self) -> None:
        """Start ``obsync run``; the time until it is ready counts as time not running."""
        began = self.clock()
        with self.log_path.open("ab") as log:
            self.began = log.tell()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "obsync", "run", "--config", str(self.config)],
                env=self.env, stdout=log, stderr=log,
            )  # fmt: skip
        self.wait_ready()
        self.down.append((began, self.clock()))

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                if "READY=1" in self.sock.recv(4096).decode().split("\n"):
                    return
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"obsync run exited with {self.process.returncode}")
        raise AssertionError("obsync run did not become ready")

    def stop(self, sig: signal.Signals) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self.exits.append(code)
        return code

    def restart(self, sig: signal.Signals) -> None:
        """Stop (a SIGTERM must end in exit 0), then start again at once."""
        stopped = self.clock()
        code = self.stop(sig)
        if sig == signal.SIGKILL:
            self.kills += 1
        else:
            self.terms += 1
            assert code == 0, f"obsync run exited with {code} on SIGTERM"
        self.start()
        self.down[-1] = (stopped, self.down[-1][1])

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.sock.close()
        self.folder.cleanup()


class Chaos:
    """kill -9 every few seconds, half of them right after a note was written; one SIGTERM."""

    def __init__(self, daemon: Daemon, rng: random.Random, options: Options) -> None:
        self.daemon = daemon
        self.rng = rng
        self.options = options
        self.log_offset = 0

    def _note_written(self, timeout: float) -> bool:
        """Wait for the daemon's next "create/update annotation" log line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.daemon.log_path.open("rb") as log:
                log.seek(self.log_offset)
                new = log.read()
            self.log_offset += len(new)
            if re.search(rb"INFO: (create|update|mark-removed) annotation ", new):
                return True
            time.sleep(0.005)
        return False

    def run(self, until: float, clock: Clock) -> None:
        low, high = self.options.kill_every
        times = [clock() + self.rng.uniform(low, high)]
        while times[-1] + low < until:
            times.append(times[-1] + self.rng.uniform(low, high))
        times = [t for t in times if t < until - 1.0] or [(clock() + until) / 2]
        middle = min(times, key=lambda t: abs(t - (clock() + until) / 2))
        for when in times:
            while clock() < when:
                time.sleep(0.05)
            if when == middle:
                self.daemon.restart(signal.SIGTERM)
                continue
            if self.rng.random() < 0.5:  # right after a note was written
                with self.daemon.log_path.open("rb") as log:
                    self.log_offset = log.seek(0, os.SEEK_END)
                self._note_written(timeout=max(1.0, until - clock()))
            self.daemon.restart(signal.SIGKILL)


class Monitor:
    """When each paper's clock note first showed each write (polled every 0.1 s)."""

    def __init__(self, vault: Path, zotero: Zotero, clock: Clock) -> None:
        self.vault = vault
        self.clock = clock
        self.names = {p.clock: p.name for p in zotero.papers}
        self.paths: dict[str, Path] = {}
        self.shown: dict[str, dict[int, float]] = {p.name: {} for p in zotero.papers}
        self.torn: list[str] = []
        self.stop = threading.Event()

    def poll(self) -> None:
        for key, name in self.names.items():
            path = self.paths.get(key)
            text = None
            if path is not None:
                with contextlib.suppress(OSError):
                    text = path.read_text()
            if path is None or text is None or note_key(text) != key:
                self.paths.pop(key, None)
                continue
            self.look(name, path, text)
            # A conflict copy shows the export too (see Soak.check: a known fault).
            with contextlib.suppress(OSError):
                copy = path.with_name(f"{path.stem}{CONFLICT_SUFFIX}.md")
                self.look(name, copy, copy.read_text())
        if len(self.paths) < len(self.names):
            for path, text in annotation_notes(self.vault):
                if (key := note_key(text)) in self.names:
                    self.paths[key] = path

    def look(self, name: str, path: Path, text: str) -> None:
        found = re.search(rf"^write (\d+) of {re.escape(name)}(.*)$", text, re.M)
        if found is None or found.group(2) != END or text.count(MARKER) != 1:
            self.torn.append(f"{path}: {text!r}")
        else:
            self.shown[name].setdefault(int(found.group(1)), self.clock())

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            time.sleep(0.1)

    def reached(self, name: str, version: int) -> float | None:
        """When the clock note (or its conflict copy) first showed this write, or a later one."""
        times = [t for v, t in self.shown[name].items() if v >= version]
        return min(times) if times else None


@dataclass(slots=True)
class Result:
    seed: int
    seconds: float
    writes: int
    styles: dict[str, int]
    latencies: list[float]
    late: list[str]
    failures: list[str]
    known: list[str]  # failures of a known fault, reproduced on its own in test_soak.py
    kills: int
    terms: int
    user: UserLog
    conflicts: int
    full_sync: dict[str, object]

    def figures(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) if lat else float("nan")
        p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
        worst = lat[-1] if lat else float("nan")
        u = self.user
        return (
            f"soak seed={self.seed}: {self.seconds:g} s, {self.writes} export writes "
            f"({', '.join(f'{n} {s}' for s, n in sorted(self.styles.items()))}); "
            f"{self.kills} kill -9, {self.terms} SIGTERM; user: "
            f"{sum(map(len, u.lines.values()))} lines appended, "
            f"{sum(map(len, u.properties.values()))} properties and tags added, "
            f"{u.renamed} renamed, {u.moved} moved, {len(u.edited_above)} edited above the "
            f"marker; {self.conflicts} conflict copies\n"
            f"latency from a file's write to its note: p50 {p50:.2f} s, p95 {p95:.2f} s, "
            f"max {worst:.2f} s ({len(lat)} writes)"
        )


class Soak:
    def __init__(self, root: Path, options: Options) -> None:
        self.root = root
        self.options = options
        self.export = root / "export"
        self.vault = root / "vault"
        self.export.mkdir(parents=True)
        self.vault.mkdir()
        self.config = root / "obsync.toml"
        self.config.write_text(
            f"export = {json.dumps(str(self.export))}\nvault = {json.dumps(str(self.vault))}\n"
            f"[daemon]\ndebounce = {options.debounce}\nmax_delay = {options.max_delay}\n"
            f"settle = {options.settle}\n"
        )
        self.env = dict(os.environ, XDG_STATE_HOME=str(root / "state"), PYTHONUNBUFFERED="1")
        self.env.pop("OBSYNC_CONFIG", None)
        self.clock = Clock()
        rng = random.Random(options.seed)
        self.zotero = Zotero(self.export, random.Random(rng.random()), options, self.clock)
        clocks = {p.clock for p in self.zotero.papers}
        self.user = User(self.vault, random.Random(rng.random()), clocks)
        self.daemon = Daemon(self.config, self.env, root / "daemon.log", self.clock)
        self.chaos = Chaos(self.daemon, random.Random(rng.random()), options)
        self.monitor = Monitor(self.vault, self.zotero, self.clock)

    def run(self) -> Result:
        options = self.options
        try:
            for _ in range(len(self.zotero.papers)):  # every paper once before obsync starts
                self.zotero.write_one()
            self.daemon.start()
            monitor = threading.Thread(target=self.monitor.run, daemon=True)
            monitor.start()
            until = self.clock() + options.seconds
            done = threading.Event()
            actors = [
                threading.Thread(target=self.zotero.run, args=(until,)),
                threading.Thread(target=self.user.run, args=(done.is_set,)),
                threading.Thread(target=self.chaos.run, args=(until, self.clock)),
            ]
            for actor in actors:
                actor.daemon = True  # an interrupted soak ends
                actor.start()
            actors[0].join()
            actors[2].join()
            done.set()
            actors[1].join()
            self.settle()
            self.monitor.stop.set()
            monitor.join()
            code = self.daemon.stop(signal.SIGTERM)
            assert code == 0, f"obsync run exited with {code} on SIGTERM"
            full = self.full_sync()
            return self.check(full)
        finally:
            self.daemon.close()

    def settle(self, timeout: float = 120.0) -> None:
        """Wait (bounded) until every paper's clock note shows that paper's last write."""
        deadline = time.monotonic() + timeout
        last = {p.name: p.writes for p in self.zotero.papers}

        while any(self.monitor.reached(n, v) is None for n, v in last.items()):
            if time.monotonic() > deadline:
                shown = {n: max(self.monitor.shown[n], default=None) for n in last}
                raise AssertionError(
                    f"the vault never showed the last writes {last}; it shows {shown}"
                )
            time.sleep(0.1)

    def full_sync(self) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-m", "obsync", "sync", "--full", "--json",
             "--config", str(self.config)],
            env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        result: dict[str, object] = json.loads(done.stdout)
        return result

    def check(self, full: dict[str, object]) -> Result:
        failures: list[str] = []
        user = self.user.log
        final = self.zotero.final()
        removed = self.zotero.removed() - set(final)

        notes: dict[str, list[tuple[Path, str]]] = {}
        for path, text in annotation_notes(self.vault):
            key = note_key(text)
            assert key is not None
            notes.setdefault(key, []).append((path, text))
        for key, found in notes.items():
            if len(found) > 1:
                failures.append(f"{key}: {len(found)} notes: {[str(p) for p, _ in found]}")
        for key in final:  # one removed before obsync saw it has none, rightly
            if key not in notes:
                failures.append(f"{key}: no note")
        # Conflict copies: only of a note the user edited above the marker. (A kill -9
        # between a note's write and the state's once made copies no edit explained: notes
        # now carry the stamp of what obsync wrote, so none may appear.)
        known: list[str] = []
        stale: set[str] = set()
        copies = [p for p in self.vault.rglob("*.md") if p.stem.endswith(CONFLICT_SUFFIX)]
        for copy in copies:
            key = any_key(copy.read_text())
            if key not in user.edited_above:
                failures.append(f"{copy}: a conflict copy no edit of the user's explains")
        for key, (paper, ann) in final.items():
            if key not in notes or key in user.edited_above or key in stale:
                continue
            path, text = notes[key][0]
            head = text.split(MARKER, 1)[0]
            if ann.comment not in head:
                failures.append(f"{path}: not the final comment {ann.comment!r}")
            if f'color: "{ann.color}"' not in head:
                failures.append(f"{path}: not the final colour {ann.color}")
            if "annotation-status: removed" in head:
                failures.append(f"{path}: marked removed, yet in {paper.file}")
        for key in removed:
            for path, text in notes.get(key, []):
                if "annotation-status: removed" not in text:
                    failures.append(f"{path}: removed upstream, not marked")
        for key, lines in user.lines.items():
            text = "".join(t for _, t in notes.get(key, []))
            tail = text.split(MARKER, 1)[-1]
            failures += [
                f"{key}: the user's line {line!r} is lost" for line in lines if line not in tail
            ]
        for key, props in user.properties.items():
            text = "".join(t for _, t in notes.get(key, []))
            failures += [f"{key}: the user's {p!r} is lost" for p in props if p not in text]
            failures += [
                f"{key}: the user's tag {t} is lost"
                for t in user.tags.get(key, [])
                if f"  - {t}\n" not in text
            ]
        for path in self.vault.rglob("*"):
            if path.name.startswith(TEMP_PREFIX):
                failures.append(f"{path}: a temporary file left behind")
            elif path.suffix == ".md" and path.is_file():
                text = path.read_text()
                if not text.startswith("---\n") or text.count(MARKER) != 1:
                    failures.append(f"{path}: torn or partial: {text[:200]!r}")
                for comment in re.findall(r"^(?:comment|first words|write) .*$", text, re.M):
                    if not comment.endswith(END):
                        failures.append(f"{path}: a comment cut short: {comment!r}")
        failures += [f"a torn clock note seen while running: {t}" for t in self.monitor.torn[:5]]
        annotations = full["annotations"]
        assert isinstance(annotations, dict)
        for what in ("created", "updated", "removed"):
            if annotations[what]:
                failures.append(f"obsync sync --full found {annotations[what]} annotations to "
                                f"be {what}: the daemon left them")  # fmt: skip
        if full["errors"]:
            failures.append(f"obsync sync --full reported errors: {full['errors']}")

        latencies, late = self.latencies()
        stale_papers = {p.name for p in self.zotero.papers if p.clock in stale}
        known += [line for paper, line in late if paper in stale_papers]
        late_lines = [line for paper, line in late if paper not in stale_papers]
        log = (self.root / "daemon.log").read_text(errors="replace")
        if "Traceback" in log:
            failures.append("a traceback in the daemon's log")
        for found in re.finditer(r"INFO: mark-removed annotation (.+)$", log, re.M):
            if Path(found.group(1)).stem[:8] not in self.zotero.ever_removed:
                failures.append(f"marked removed, never removed upstream: {found.group(1)}")
        export = str(self.export)
        failures += [
            f"a half-written export was read: {line}"
            for line in log.splitlines()
            if "WARNING:" in line and export in line
        ]
        return Result(
            self.options.seed, self.options.seconds, len(self.zotero.log),
            {s: sum(w.style == s for w in self.zotero.log) for s in ("rename", "in place")},
            latencies, late_lines, failures + late_lines, known, self.daemon.kills, self.daemon.terms,
            user, len(copies), full,
        )  # fmt: skip

    def latencies(self) -> tuple[list[float], list[tuple[str, str]]]:
        """From each write to its note showing it (or a later one); the writes that took
        longer than the ceiling, time obsync was not running aside."""
        latencies: list[float] = []
        late: list[tuple[str, str]] = []
        for write in self.zotero.log:
            shown = self.monitor.reached(write.paper, write.version)
            if shown is None:
                late.append((write.paper, f"{write}: never shown"))
                continue
            latency = max(0.0, shown - write.end)
            latencies.append(latency)
            down = sum(
                max(0.0, min(end, shown) - max(start, write.end)) for start, end in self.daemon.down
            )
            if latency > self.options.max_delay + SLACK + down:
                late.append(
                    (
                        write.paper,
                        f"{write}: shown after {latency:.2f} s ({down:.2f} s not running)",
                    )
                )
        return latencies, late


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument(
        "--kill-every", type=float, nargs=2, default=(10.0, 30.0), metavar=("LOW", "HIGH")
    )
    args = parser.parse_args(argv)
    options = Options(seconds=args.seconds, seed=args.seed, kill_every=tuple(args.kill_every))
    with tempfile.TemporaryDirectory(prefix="obsync-soak-") as folder:
        root = args.keep or Path(folder)
        result = Soak(root, options).run()
    print(result.figures())
    for failure in result.failures:
        print(f"FAILED: {failure}")
    for failure in result.known:
        print(f"KNOWN FAULT: {failure}")
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
