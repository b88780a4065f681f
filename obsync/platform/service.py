"""``obsync service``: install, remove and inspect obsync as the user's background service.

Linux: a systemd user unit; macOS: a launchd agent. The files are made by pure functions
(:func:`systemd_unit`, :func:`launchd_plist`); the rest runs ``systemctl``/``launchctl``
through the :class:`Host`'s runner, which tests replace, as they replace its home folder.

Each file obsync writes ends with a digest of what comes before it. A file whose digest
matches is obsync's, unchanged since: install may replace it and uninstall remove it. A
file without one, or whose digest no longer matches, was written or edited by hand: it is
left alone unless ``--force`` says otherwise.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from obsync.errors import ObsyncError
from obsync.platform.system import is_mac, places

DESCRIPTION = "obsync: Zotero annotations into an Obsidian vault"
DOCS = "https://github.com/obsync/obsync#readme"
LABEL = "com.github.obsync"  # launchd's name for the agent (and its plist file)
_DIGEST = re.compile(r"^(?:#|<!--) obsync-digest: sha256:([0-9a-f]{64})(?: -->)?\n\Z", re.M)


@dataclass(frozen=True, slots=True)
class Ran:
    """What a command gave: its exit code and its output."""

    returncode: int
    stdout: str = ""


Runner = Callable[[Sequence[str]], Ran]


def run_command(argv: Sequence[str]) -> Ran:
    """Run a command for real (``systemctl``, ``launchctl``); a missing one is code 127."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        return Ran(127, "")
    except subprocess.TimeoutExpired:
        return Ran(124, "")
    return Ran(done.returncode, done.stdout + done.stderr)


def this_obsync(argv0: str | None = None, executable: str | None = None) -> tuple[str, ...]:
    """How to start the obsync being run, as an absolute command: its script (pipx's link in
    ``~/.local/bin``, a virtual environment's ``bin/obsync``), or Python with ``-m obsync``
    when it was started that way. A link is kept, not resolved: pipx keeps it valid."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    if not argv0 or argv0 == "-c" or Path(argv0).name in ("__main__.py", "-m"):
        return (os.path.abspath(executable), "-m", "obsync")
    if os.sep not in argv0:
        found = shutil.which(argv0)
        if found is None:
            return (os.path.abspath(executable), "-m", "obsync")
        argv0 = found
    return (os.path.abspath(argv0),)


@dataclass(frozen=True, slots=True)
class Host:
    """The machine a service is installed on: what tests substitute."""

    system: str
    env: Mapping[str, str]
    uid: int
    program: tuple[str, ...]  # how to start obsync (see this_obsync)
    run: Runner = run_command
    which: Callable[[str], str | None] = shutil.which

    @classmethod
    def current(cls) -> Host:
        return cls(sys.platform, dict(os.environ), os.getuid(), this_obsync())

    @property
    def home(self) -> Path:
        return Path(self.env.get("HOME", "~")).expanduser()


@dataclass(frozen=True, slots=True)
class Service:
    """One service: its name, the file that defines it and what that file holds."""

    name: str  # the systemd unit or the launchd label
    path: Path
    content: bytes
    logs: Path | None = None  # launchd: the log file (systemd logs to the journal)


# -- the files, pure --------------------------------------------------------------------


def instance_name(config: Path | None) -> str:
    """The name of a per-config service: from the config file's name, ``thesis.toml`` ->
    ``thesis``; none for the default config."""
    if config is None:
        return ""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", config.stem).strip("-.")
    return name or "config"


def systemd_quote(word: str) -> str:
    """One word of an ``ExecStart=`` line: ``%`` and ``$`` escaped (systemd expands them),
    quoted when it holds spaces, quotes or backslashes."""
    word = word.replace("%", "%%").replace("$", "$$")
    if word and not re.search(r'[\s"\'\\;]', word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_body(command: str, description: str = DESCRIPTION) -> str:
    """A systemd user unit running ``command`` (already an ``ExecStart=`` line's text).
    The units in ``systemd/`` are this with ``%h/.local/bin/obsync run``."""
    return f"""\
[Unit]
Description={description}
Documentation={DOCS}

[Service]
Type=notify
ExecStart={command}
# Exit 2 is a configuration error: restarting would not help, so systemd does not.
Restart=on-failure
RestartSec=10
RestartPreventExitStatus=2
# obsync pings every half of this while its file observer is healthy.
WatchdogSec=120
# The first sync of a large library is done before obsync reports ready.
TimeoutStartSec=15min
# On SIGTERM obsync finishes the note in hand, then exits.
TimeoutStopSec=60
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
UMask=0022

[Install]
WantedBy=default.target
"""


def _arguments(program: Sequence[str], config: Path | None) -> list[str]:
    return [*program, "run", *(["--config", str(config)] if config is not None else [])]


def with_digest(text: str, comment: str = "#") -> bytes:
    """``text`` signed as obsync's: a last line with the digest of all before it."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    close = " -->" if comment == "<!--" else ""
    return f"{text}{comment} obsync-digest: sha256:{digest}{close}\n".encode()


def written_by_obsync(content: bytes) -> bool:
    """The file is one obsync wrote, unchanged since (its last line's digest matches)."""
    text = content.decode("utf-8", errors="replace")
    found = _DIGEST.search(text)
    if found is None:
        return False
    before = text[: found.start()]
    return hashlib.sha256(before.encode()).hexdigest() == found.group(1)


def systemd_unit(host: Host, config: Path | None) -> Service:
    """The user unit for this obsync: ``obsync.service``, or ``obsync-NAME.service`` for
    ``--config NAME.toml``, in ``$XDG_CONFIG_HOME/systemd/user``."""
    instance = instance_name(config)
    name = f"obsync-{instance}.service" if instance else "obsync.service"
    command = " ".join(systemd_quote(word) for word in _arguments(host.program, config))
    description = f"obsync for {instance}: Zotero annotations into an Obsidian vault"
    body = unit_body(command, description if instance else DESCRIPTION)
    header = (
        "# Written by `obsync service install`; `obsync service uninstall` removes it.\n"
        "# Edit it if you like: obsync then leaves it alone (install --force replaces it).\n"
    )
    config_home = Path(host.env.get("XDG_CONFIG_HOME") or host.home / ".config")
    path = config_home.expanduser() / "systemd" / "user" / name
    return Service(name, path, with_digest(header + "\n" + body))


def launchd_plist(host: Host, config: Path | None) -> Service:
    """The launchd agent for this obsync, in ``~/Library/LaunchAgents``: started at login
    and restarted after a failure (never after a clean exit), logging to
    ``~/Library/Logs/obsync/``."""
    instance = instance_name(config)
    label = f"{LABEL}.{instance}" if instance else LABEL
    logs = places(host.env, "darwin").logs / f"{instance or 'obsync'}.log"
    agent = {
        "Label": label,
        "ProgramArguments": _arguments(host.program, config),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,  # at most one restart in 10 s, as the systemd unit
        "ExitTimeOut": 60,  # on SIGTERM obsync finishes the note in hand
        "StandardOutPath": str(logs),
        "StandardErrorPath": str(logs),
    }
    text = plistlib.dumps(agent, sort_keys=False).decode()
    note = (
        "<!-- Written by `obsync service install`; `obsync service uninstall` removes it."
        " Edit it if you like: obsync then leaves it alone (install with the force flag"
        " replaces it). -->\n"
    )
    head, _, rest = text.partition("<plist")
    text = head + note + "<plist" + rest
    path = host.home / "Library" / "LaunchAgents" / f"{label}.plist"
    return Service(label, path, with_digest(text, "<!--"), logs)


def service_for(host: Host, config: Path | None) -> Service:
    return launchd_plist(host, config) if is_mac(host.system) else systemd_unit(host, config)


# -- what install, uninstall and status do ----------------------------------------------


@dataclass(slots=True)
class Outcome:
    """What a service command did, as lines to print."""

    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write(path: Path, content: bytes) -> None:
    """Atomically, as every obsync write: a temporary file beside it, fsynced, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        raise ObsyncError(f"{path} is a symbolic link; not written", exit_code=1)
    tmp = path.with_name(f".{path.name}.obsync-tmp")
    with open(tmp, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def _hand_made(service: Service, verb: str) -> ObsyncError:
    do = "replace" if verb == "replaced" else "remove"
    return ObsyncError(
        f"{service.path} was edited by hand (or not written by obsync), so it is not "
        f"{verb}; pass --force to have obsync {do} it",
        exit_code=1,
    )


def config_in(content: bytes, system: str) -> str | None:
    """The ``--config`` a written unit or plist runs obsync with (None: the default)."""
    try:
        if is_mac(system):
            args = list(plistlib.loads(content).get("ProgramArguments", []))
        else:
            lines = content.decode("utf-8", errors="replace").splitlines()
            line = next((x for x in lines if x.startswith("ExecStart=")), "ExecStart=")
            unescaped = line.removeprefix("ExecStart=").replace("%%", "%").replace("$$", "$")
            args = shlex.split(unescaped)
    except (ValueError, plistlib.InvalidFileException, AttributeError):
        return None
    return str(args[args.index("--config") + 1]) if "--config" in args[:-1] else None


def _check_ours(
    host: Host, service: Service, existing: bytes, config: Path | None, verb: str
) -> None:
    """Refuse to replace or remove a file obsync did not write as it is, or one written
    for another config file that happens to give the same name (``a/thesis.toml``,
    ``b/thesis.toml``)."""
    if not written_by_obsync(existing):
        raise _hand_made(service, verb)
    other = config_in(existing, host.system)
    if other != (None if config is None else str(config)):
        do = "replace" if verb == "replaced" else "remove"
        raise ObsyncError(
            f"{service.path} runs obsync with another config ({other or 'the default'}), so "
            f"it is not {verb}; pass --force to {do} it anyway, or give this config file "
            "another name",
            exit_code=1,
        )


def _commands(host: Host, service: Service, fresh: bool) -> list[list[str]]:
    """The commands that load (``fresh``: for the first time) the written service."""
    if is_mac(host.system):
        domain = f"gui/{host.uid}"
        load = [["launchctl", "bootstrap", domain, str(service.path)]]
        return load if fresh else [["launchctl", "bootout", f"{domain}/{service.name}"], *load]
    systemctl = ["systemctl", "--user"]
    if fresh:
        return [[*systemctl, "daemon-reload"], [*systemctl, "enable", "--now", service.name]]
    return [
        [*systemctl, "daemon-reload"],
        [*systemctl, "enable", service.name],
        [*systemctl, "restart", service.name],
    ]


def _tool(host: Host) -> str:
    return "launchctl" if is_mac(host.system) else "systemctl"


def _run_all(host: Host, commands: list[list[str]], *, tolerate: int = 0) -> None:
    """Run ``commands`` in turn; the first ``tolerate`` may fail (a bootout of an agent
    that is not loaded); any other failure is an error naming the command."""
    for number, argv in enumerate(commands):
        done = host.run(argv)
        if done.returncode != 0 and number >= tolerate:
            said = done.stdout.strip().splitlines()
            why = f": {said[-1]}" if said else ""
            raise ObsyncError(
                f"`{shlex.join(argv)}` failed (exit {done.returncode}){why}", exit_code=1
            )


def _state(host: Host, service: Service) -> tuple[bool, bool]:
    """Whether the service manager has the service loaded, and whether it runs it now."""
    if host.which(_tool(host)) is None:
        return False, False
    if is_mac(host.system):
        done = host.run(["launchctl", "print", f"gui/{host.uid}/{service.name}"])
        return done.returncode == 0, done.returncode == 0 and "state = running" in done.stdout
    done = host.run(["systemctl", "--user", "is-active", service.name])
    active = done.returncode == 0 and done.stdout.strip() == "active"
    return active, active


def running(host: Host, service: Service) -> bool:
    """The service manager runs it now."""
    return _state(host, service)[1]


def _start(host: Host, service: Service) -> None:
    """Start an installed service that is not running (stopped, or never loaded)."""
    loaded, _running = _state(host, service)
    if is_mac(host.system) and loaded:  # loaded, but exited: start it again
        _run_all(host, [["launchctl", "kickstart", f"gui/{host.uid}/{service.name}"]])
    else:
        _run_all(host, _commands(host, service, fresh=True))


def install(host: Host, config: Path | None, *, force: bool = False) -> Outcome:
    """Write the service for ``config`` (an absolute path, or None for the default config)
    and start it. Installing again changes nothing; a hand-edited file is kept unless
    ``force``."""
    service = service_for(host, config)
    out = Outcome()
    existing = _read(service.path)
    tool = _tool(host)
    if existing == service.content:
        if host.which(tool) is not None and not running(host, service):
            _start(host, service)
            out.say(f"{service.name} was installed but not running: started it")
        else:
            out.say(f"{service.name} is already installed ({service.path}): nothing changed")
        return out
    if existing is not None and not force:
        _check_ours(host, service, existing, config, "replaced")
    if service.logs is not None:
        service.logs.parent.mkdir(parents=True, exist_ok=True)
    _write(service.path, service.content)
    fresh = existing is None
    out.say(f"{'wrote' if fresh else 'replaced'} {service.path}")
    commands = _commands(host, service, fresh)
    if host.which(tool) is None:
        out.say(f"{tool} is not available here; to start the service, run:")
        out.lines += [f"  {shlex.join(argv)}" for argv in commands]
        return out
    try:
        _run_all(host, commands, tolerate=0 if fresh or not is_mac(host.system) else 1)
    except ObsyncError as exc:
        raise ObsyncError(
            f"wrote {service.path}, but {exc.message}; once that is mended, run "
            "`obsync service install` again",
            exit_code=exc.exit_code,
        ) from None
    how = f"launchctl print gui/{host.uid}/{service.name}"
    if not is_mac(host.system):
        how = f"systemctl --user status {service.name}; journalctl --user -u {service.name} -f"
    out.say(f"started {service.name}; see: {how}")
    if service.logs is not None:
        out.say(f"logs: {service.logs}")
    return out


def uninstall(host: Host, config: Path | None, *, force: bool = False) -> Outcome:
    """Stop the service and remove the file install wrote; nothing else (a log folder
    stays, with what it holds)."""
    service = service_for(host, config)
    out = Outcome()
    existing = _read(service.path)
    if existing is None:
        out.say(f"{service.name} is not installed ({service.path} does not exist): nothing to do")
        return out
    if not force:
        _check_ours(host, service, existing, config, "removed")
    tool = _tool(host)
    if is_mac(host.system):
        stop = [["launchctl", "bootout", f"gui/{host.uid}/{service.name}"]]
    else:
        stop = [["systemctl", "--user", "disable", "--now", service.name]]
    available = host.which(tool) is not None
    if available:
        _run_all(host, stop, tolerate=len(stop))  # it may not be loaded
    service.path.unlink()
    out.say(f"stopped {service.name} and removed {service.path}")
    if available and not is_mac(host.system):
        _run_all(host, [["systemctl", "--user", "daemon-reload"]])
    if not available:
        out.say(f"{tool} is not available here; if the service still runs, stop it with:")
        out.lines += [f"  {shlex.join(argv)}" for argv in stop]
    if service.logs is not None and service.logs.exists():
        out.say(f"its log is kept: {service.logs}")
    return out


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    path: Path
    installed: bool
    edited: bool  # the file is there but not as obsync wrote it
    running: bool

    def lines(self) -> list[str]:
        if not self.installed:
            state = "not installed (`obsync service install` installs it)"
        else:
            state = f"installed ({self.path}{', edited by hand' if self.edited else ''})"
            state += ", running" if self.running else ", not running"
        return [f"service:     {self.name}: {state}"]


def status(host: Host, config: Path | None) -> ServiceStatus:
    service = service_for(host, config)
    existing = _read(service.path)
    return ServiceStatus(
        name=service.name,
        path=service.path,
        installed=existing is not None,
        edited=existing is not None and not written_by_obsync(existing),
        running=existing is not None and running(host, service),
    )
