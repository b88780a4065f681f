"""``obsync service``: the unit and the plist, and what install, uninstall and status do.

systemctl and launchctl are never run: a :class:`Manager` stands in for both, and the
home folder is a temporary one.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from obsync.cli import main
from obsync.errors import ObsyncError
from obsync.platform import service
from obsync.platform.service import Host, Ran

from .test_systemd import UNITS, options


@dataclass
class Manager:
    """systemctl --user and launchctl, as far as obsync uses them."""

    calls: list[list[str]] = field(default_factory=list)
    active: set[str] = field(default_factory=set)
    loaded: set[str] = field(default_factory=set)  # launchd: loaded, but not running

    def __call__(self, argv: Sequence[str]) -> Ran:
        argv = list(argv)
        self.calls.append(argv)
        if argv[0] == "systemctl":
            verb, *names = argv[2:]
            if verb == "is-active":
                return Ran(0, "active\n") if names[0] in self.active else Ran(3, "inactive\n")
            if verb == "restart" or (verb == "enable" and "--now" in names):
                self.active.add(names[-1])
            if verb == "disable":
                self.active.discard(names[-1])
            return Ran(0)
        verb, target = argv[1], argv[2]
        if verb == "bootstrap":
            label = Path(argv[3]).stem
            if label in self.active:
                return Ran(5, "Bootstrap failed: 5: Input/output error\n")
            self.active.add(label)
            return Ran(0)
        label = target.rsplit("/", 1)[-1]
        if verb == "bootout":
            if label not in self.active:
                return Ran(3, "Boot-out failed: 3: No such process\n")
            self.active.discard(label)
            return Ran(0)
        if verb == "print":
            if label in self.loaded:
                return Ran(0, "state = not running\n")
            return Ran(0, "state = running\n") if label in self.active else Ran(113)
        if verb == "kickstart":
            self.loaded.discard(label)
            self.active.add(label)
            return Ran(0)
        raise AssertionError(argv)

    def changes(self) -> list[list[str]]:
        """The calls that change something (not the questions)."""
        return [c for c in self.calls if not {"is-active", "print"} & set(c)]

    def exited(self, label: str) -> None:
        """launchd: the agent ran and exited (cleanly: KeepAlive leaves it)."""
        self.active.discard(label)
        self.loaded.add(label)


def make_host(tmp_path: Path, system: str = "linux", *, tools: bool = True) -> Host:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    program = tmp_path / "venv" / "bin" / "obsync"
    return Host(
        system=system,
        env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")},
        uid=501,
        program=(str(program),),
        run=Manager(),
        which=(lambda name: f"/usr/bin/{name}") if tools else (lambda name: None),
    )


def manager(host: Host) -> Manager:
    assert isinstance(host.run, Manager)
    return host.run


def files_below(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# -- the files ---------------------------------------------------------------------------


def test_the_unit_runs_this_obsync(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    unit = service.systemd_unit(host, None)
    assert unit.name == "obsync.service"
    assert unit.path == tmp_path / "home" / "config" / "systemd" / "user" / "obsync.service"
    found = options_of(unit.content)
    assert found["ExecStart"] == f"{host.program[0]} run"
    assert found["Type"] == "notify" and found["RestartPreventExitStatus"] == "2"
    assert service.written_by_obsync(unit.content)


def test_a_config_gets_a_unit_of_its_own(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    unit = service.systemd_unit(host, Path("/home/me/obsync/thesis.toml"))
    assert unit.name == "obsync-thesis.service"
    assert unit.path.name == "obsync-thesis.service"
    found = options_of(unit.content)
    assert found["ExecStart"] == f"{host.program[0]} run --config /home/me/obsync/thesis.toml"
    assert found["Description"].startswith("obsync for thesis:")


def test_odd_paths_are_quoted_for_systemd(tmp_path: Path) -> None:
    host = replace(make_host(tmp_path), program=("/opt/my tools/bin/obsync",))
    unit = service.systemd_unit(host, Path("/data/100%/$HOME/my thesis.toml"))
    assert options_of(unit.content)["ExecStart"] == (
        '"/opt/my tools/bin/obsync" run --config "/data/100%%/$$HOME/my thesis.toml"'
    )
    assert unit.name == "obsync-my-thesis.service"


def options_of(content: bytes) -> dict[str, str]:
    found = {}
    for line in content.decode().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found[key] = value
    return found


@pytest.mark.parametrize(
    ("name", "command", "description"),
    [
        ("obsync.service", "%h/.local/bin/obsync run", service.DESCRIPTION),
        (
            "obsync@.service",
            "%h/.local/bin/obsync run --config %E/obsync/%i.toml",
            "obsync for %i: Zotero annotations into an Obsidian vault",
        ),
    ],
)
def test_the_shipped_units_are_what_install_writes(
    name: str, command: str, description: str
) -> None:
    """One source for the unit's options: the manual fallback in systemd/ is the same."""
    text = (UNITS / name).read_text()
    assert text[text.index("[Unit]") :] == service.unit_body(command, description)
    assert options(UNITS / name)["ExecStart"] == command


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_written_units_verify_clean(tmp_path: Path) -> None:
    program = tmp_path / "venv" / "bin" / "obsync"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    host = make_host(tmp_path)
    units = tmp_path / "units"
    units.mkdir()
    for config in (None, tmp_path / "my thesis.toml"):
        unit = service.systemd_unit(host, config)
        (units / unit.name).write_bytes(unit.content)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(tmp_path / "home"), XDG_RUNTIME_DIR=str(runtime))
    result = subprocess.run(
        ["systemd-analyze", "--user", "verify", *map(str, sorted(units.iterdir()))],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_plist_parses_back(tmp_path: Path) -> None:
    host = make_host(tmp_path, "darwin")
    home = tmp_path / "home"
    agent = service.launchd_plist(host, None)
    assert agent.path == home / "Library" / "LaunchAgents" / "com.github.obsync.plist"
    data = plistlib.loads(agent.content)
    assert data["Label"] == "com.github.obsync" == agent.name
    assert data["ProgramArguments"] == [host.program[0], "run"]
    assert data["RunAtLoad"] is True
    assert data["KeepAlive"] == {"SuccessfulExit": False}  # restarted after a failure only
    log = home / "Library" / "Logs" / "obsync" / "obsync.log"
    assert data["StandardOutPath"] == data["StandardErrorPath"] == str(log) == str(agent.logs)
    assert service.written_by_obsync(agent.content)


def test_a_config_gets_an_agent_of_its_own(tmp_path: Path) -> None:
    host = make_host(tmp_path, "darwin")
    agent = service.launchd_plist(host, Path("/Users/me/thesis.toml"))
    data = plistlib.loads(agent.content)
    assert data["Label"] == "com.github.obsync.thesis"
    assert agent.path.name == "com.github.obsync.thesis.plist"
    assert data["ProgramArguments"][1:] == ["run", "--config", "/Users/me/thesis.toml"]
    assert data["StandardErrorPath"].endswith("/Library/Logs/obsync/thesis.log")


def test_an_edit_breaks_the_digest() -> None:
    signed = service.with_digest("[Unit]\nDescription=x\n")
    assert service.written_by_obsync(signed)
    assert not service.written_by_obsync(signed.replace(b"=x", b"=y"))
    assert not service.written_by_obsync(b"[Unit]\nDescription=x\n")
    assert not service.written_by_obsync(signed + b"# my note\n")


def test_this_obsync_is_the_running_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "venv" / "bin" / "obsync"
    assert service.this_obsync(str(script), "/usr/bin/python3") == (str(script),)
    main_py = "/site-packages/obsync/__main__.py"
    assert service.this_obsync(main_py, "/v/bin/python") == ("/v/bin/python", "-m", "obsync")
    monkeypatch.chdir(tmp_path)
    assert service.this_obsync("venv/bin/obsync", "/p") == (str(script),)


# -- install, uninstall, status ----------------------------------------------------------


def test_install_writes_the_unit_and_starts_it(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    done = service.install(host, None)
    unit = service.systemd_unit(host, None)
    assert unit.path.read_bytes() == unit.content
    assert manager(host).changes() == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "obsync.service"],
    ]
    assert done.lines[0] == f"wrote {unit.path}"
    assert "started obsync.service" in done.lines[1]


def test_installing_twice_changes_nothing(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    service.install(host, None)
    unit = service.systemd_unit(host, None)
    before = unit.path.stat().st_mtime_ns
    manager(host).calls.clear()
    done = service.install(host, None)
    assert unit.path.stat().st_mtime_ns == before
    assert manager(host).changes() == []
    assert done.lines == [f"obsync.service is already installed ({unit.path}): nothing changed"]


def test_installing_again_starts_a_stopped_service(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    service.install(host, None)
    manager(host).active.clear()  # the user stopped it
    manager(host).calls.clear()
    done = service.install(host, None)
    assert manager(host).changes() == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "obsync.service"],
    ]
    assert "started it" in done.lines[0]


def test_a_hand_edited_unit_survives(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    service.install(host, None)
    unit = service.systemd_unit(host, None)
    edited = unit.path.read_bytes().replace(b"RestartSec=10", b"RestartSec=30")
    unit.path.write_bytes(edited)
    manager(host).calls.clear()
    with pytest.raises(ObsyncError, match=r"edited by hand.*--force") as caught:
        service.install(host, None)
    assert caught.value.exit_code == 1
    assert unit.path.read_bytes() == edited
    assert manager(host).changes() == []
    with pytest.raises(ObsyncError, match="not removed; pass --force"):
        service.uninstall(host, None)
    assert unit.path.read_bytes() == edited
    done = service.install(host, None, force=True)
    assert unit.path.read_bytes() == unit.content
    assert done.lines[0] == f"replaced {unit.path}"
    assert manager(host).changes() == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "obsync.service"],
        ["systemctl", "--user", "restart", "obsync.service"],
    ]


def test_a_unit_from_an_older_obsync_is_replaced_without_force(tmp_path: Path) -> None:
    """Moved to another virtual environment: the unit obsync wrote is obsync's to mend."""
    old = make_host(tmp_path)
    service.install(old, None)
    new = replace(old, program=("/elsewhere/bin/obsync",))
    done = service.install(new, None)
    assert done.lines[0].startswith("replaced ")
    unit = service.systemd_unit(new, None)
    assert options_of(unit.path.read_bytes())["ExecStart"] == "/elsewhere/bin/obsync run"


def test_a_unit_copied_by_hand_is_not_replaced_or_removed(tmp_path: Path) -> None:
    """The README's fallback: the shipped unit, copied by hand. It is the user's."""
    host = make_host(tmp_path)
    unit = service.systemd_unit(host, None)
    unit.path.parent.mkdir(parents=True)
    shutil.copy(UNITS / "obsync.service", unit.path)
    with pytest.raises(ObsyncError, match="not replaced"):
        service.install(host, None)
    with pytest.raises(ObsyncError, match="not removed"):
        service.uninstall(host, None)
    assert unit.path.read_bytes() == (UNITS / "obsync.service").read_bytes()
    service.uninstall(host, None, force=True)
    assert not unit.path.exists()


def test_uninstall_removes_what_install_made_and_nothing_else(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    units = tmp_path / "home" / "config" / "systemd" / "user"
    units.mkdir(parents=True)
    (units / "other.service").write_text("[Service]\nExecStart=/bin/true\n")
    (units / "obsync-thesis.service").write_bytes(
        service.systemd_unit(host, Path("/t/thesis.toml")).content
    )
    before = files_below(tmp_path / "home")
    service.install(host, None)
    manager(host).calls.clear()
    done = service.uninstall(host, None)
    assert files_below(tmp_path / "home") == before
    assert manager(host).changes() == [
        ["systemctl", "--user", "disable", "--now", "obsync.service"],
        ["systemctl", "--user", "daemon-reload"],
    ]
    assert "removed" in done.lines[0]
    again = service.uninstall(host, None)
    assert "not installed" in again.lines[0]


@pytest.mark.parametrize("system", ["linux", "darwin"])
def test_two_configs_of_one_name_do_not_take_each_others_service(
    tmp_path: Path, system: str
) -> None:
    host = make_host(tmp_path, system)
    first, second = Path("/a/my thesis.toml"), Path("/b/my thesis.toml")
    service.install(host, first)
    written = service.service_for(host, first)
    assert service.config_in(written.content, system) == str(first)
    with pytest.raises(ObsyncError, match=r"another config \(/a/my thesis.toml\).*not replaced"):
        service.install(host, second)
    with pytest.raises(ObsyncError, match="not removed"):
        service.uninstall(host, second)
    assert written.path.read_bytes() == written.content
    service.install(host, second, force=True)
    assert service.config_in(written.path.read_bytes(), system) == str(second)


def test_without_systemctl_it_writes_the_unit_and_says_what_to_run(tmp_path: Path) -> None:
    host = make_host(tmp_path, tools=False)
    done = service.install(host, None)
    unit = service.systemd_unit(host, None)
    assert unit.path.read_bytes() == unit.content
    assert manager(host).calls == []
    assert done.lines[1:] == [
        "systemctl is not available here; to start the service, run:",
        "  systemctl --user daemon-reload",
        "  systemctl --user enable --now obsync.service",
    ]


def test_a_failing_systemctl_is_an_error_naming_the_command(tmp_path: Path) -> None:
    host = replace(make_host(tmp_path), run=lambda argv: Ran(1, "Failed to connect to bus\n"))
    with pytest.raises(
        ObsyncError, match=r"wrote .*, but `systemctl --user daemon-reload` failed.*bus"
    ):
        service.install(host, None)
    assert service.systemd_unit(host, None).path.exists()


def test_macos_install_bootstraps_the_agent(tmp_path: Path) -> None:
    host = make_host(tmp_path, "darwin")
    done = service.install(host, None)
    agent = service.launchd_plist(host, None)
    assert agent.path.read_bytes() == agent.content
    assert agent.logs is not None and agent.logs.parent.is_dir()
    assert manager(host).changes() == [["launchctl", "bootstrap", "gui/501", str(agent.path)]]
    assert done.lines[-1] == f"logs: {agent.logs}"
    # Twice: nothing changes.
    manager(host).calls.clear()
    before = agent.path.stat().st_mtime_ns
    assert "nothing changed" in service.install(host, None).lines[0]
    assert manager(host).changes() == [] and agent.path.stat().st_mtime_ns == before
    # Hand-edited: kept.
    edited = agent.path.read_bytes().replace(b"<integer>10</integer>", b"<integer>60</integer>")
    agent.path.write_bytes(edited)
    with pytest.raises(ObsyncError, match="edited by hand"):
        service.install(host, None)
    assert agent.path.read_bytes() == edited
    # Replaced with --force: booted out, then in again.
    manager(host).calls.clear()
    service.install(host, None, force=True)
    assert manager(host).changes() == [
        ["launchctl", "bootout", "gui/501/com.github.obsync"],
        ["launchctl", "bootstrap", "gui/501", str(agent.path)],
    ]


def test_macos_install_again_starts_an_agent_that_exited(tmp_path: Path) -> None:
    host = make_host(tmp_path, "darwin")
    service.install(host, None)
    manager(host).exited("com.github.obsync")
    manager(host).calls.clear()
    assert "started it" in service.install(host, None).lines[0]
    assert manager(host).changes() == [["launchctl", "kickstart", "gui/501/com.github.obsync"]]
    manager(host).active.clear()  # booted out by hand: loaded again
    manager(host).calls.clear()
    service.install(host, None)
    agent = service.launchd_plist(host, None)
    assert manager(host).changes() == [["launchctl", "bootstrap", "gui/501", str(agent.path)]]


def test_macos_uninstall_boots_out_and_keeps_the_log(tmp_path: Path) -> None:
    host = make_host(tmp_path, "darwin")
    service.install(host, None)
    agent = service.launchd_plist(host, None)
    assert agent.logs is not None
    agent.logs.write_text("obsync: WARNING: something\n")  # what launchd would write
    manager(host).calls.clear()
    done = service.uninstall(host, None)
    assert not agent.path.exists() and agent.logs.exists()
    assert manager(host).changes() == [["launchctl", "bootout", "gui/501/com.github.obsync"]]
    assert done.lines[-1] == f"its log is kept: {agent.logs}"


@pytest.mark.parametrize("system", ["linux", "darwin"])
def test_status_says_installed_and_running(tmp_path: Path, system: str) -> None:
    host = make_host(tmp_path, system)
    assert "not installed" in service.status(host, None).lines()[0]
    service.install(host, None)
    state = service.status(host, None)
    assert (state.installed, state.running, state.edited) == (True, True, False)
    assert state.lines()[0].endswith(", running")
    manager(host).active.clear()
    assert service.status(host, None).lines()[0].endswith(", not running")


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def fake_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    host = make_host(tmp_path)
    monkeypatch.setattr(service.Host, "current", classmethod(lambda cls: host))
    return host


def test_cli_install_and_status(
    fake_host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export, vault = tmp_path / "export", tmp_path / "vault"
    export.mkdir()
    config = tmp_path / "thesis.toml"
    config.write_text(f'export = "{export}"\nvault = "{vault}"\n')
    assert main(["sync", "--config", str(config), "-q"]) == 0
    assert main(["service", "install", "--config", str(config)]) == 0
    unit = service.systemd_unit(fake_host, config)
    assert f"--config {config}" in options_of(unit.path.read_bytes())["ExecStart"]
    assert f"wrote {unit.path}" in capsys.readouterr().out
    assert main(["service", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("service:     obsync-thesis.service: installed")
    assert ", running" in out
    assert f"\nvault:       {vault}\n" in out and "\nlast sync:   20" in out
    assert main(["service", "uninstall", "--config", str(config)]) == 0
    assert not unit.path.exists()


def test_cli_install_needs_a_config_it_can_run(
    fake_host: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install"]) == 2
    assert "no export folder" in capsys.readouterr().err
    assert manager(fake_host).calls == []


def test_cli_the_default_config_gets_the_default_unit(
    fake_host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    assert main(["init", "--export", str(export), "--vault", str(tmp_path / "v"), "-q"]) == 0
    assert main(["service", "install"]) == 0
    unit = service.systemd_unit(fake_host, None)
    assert options_of(unit.path.read_bytes())["ExecStart"] == f"{fake_host.program[0]} run"
    assert main(["service", "install"]) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_cli_a_hand_edited_unit_is_an_error(
    fake_host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    assert main(["init", "--export", str(export), "--vault", str(tmp_path / "v"), "-q"]) == 0
    unit = service.systemd_unit(fake_host, None)
    unit.path.parent.mkdir(parents=True)
    unit.path.write_text("[Service]\nExecStart=/my/own/obsync run\n")
    assert main(["service", "install"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("obsync: error: ") and "--force" in err
    assert main(["service", "install", "--force"]) == 0


def test_cli_a_config_from_obsync_config_is_written_into_the_service(
    fake_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service would not see the shell's $OBSYNC_CONFIG: the path goes into the unit."""
    export = tmp_path / "export"
    export.mkdir()
    config = tmp_path / "research.toml"
    config.write_text(f'export = "{export}"\nvault = "{tmp_path / "vault"}"\n')
    monkeypatch.setenv("OBSYNC_CONFIG", str(config))
    assert main(["service", "install", "-q"]) == 0
    unit = service.systemd_unit(fake_host, config)
    assert unit.name == "obsync-research.service"
    assert options_of(unit.path.read_bytes())["ExecStart"].endswith(f"run --config {config}")
