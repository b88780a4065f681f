"""The systemd user units: the options the README promises, and clean under systemd-analyze."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).parent.parent / "systemd"


def options(unit: Path) -> dict[str, str]:
    found = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found[key] = value
    return found


@pytest.mark.parametrize("name", ["obsync.service", "obsync@.service"])
def test_unit_has_the_promised_options(name: str) -> None:
    unit = options(UNITS / name)
    assert unit["Type"] == "notify"
    assert unit["ExecStart"].startswith("%h/.local/bin/obsync run")
    assert unit["Restart"] == "on-failure"
    assert unit["RestartPreventExitStatus"] == "2"
    assert int(unit["WatchdogSec"]) > 0
    assert unit["NoNewPrivileges"] == "yes"
    assert unit["WantedBy"] == "default.target"
    # Options that need a privileged service manager have no place in a user unit.
    assert not {"User", "Group", "ProtectSystem", "PrivateDevices", "CapabilityBoundingSet"} & set(
        unit
    )


def test_instance_unit_reads_its_own_config() -> None:
    assert options(UNITS / "obsync@.service")["ExecStart"].endswith("--config %E/obsync/%i.toml")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_units_verify_clean(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    obsync = home / ".local" / "bin" / "obsync"
    obsync.write_text("#!/bin/sh\n")
    obsync.chmod(0o755)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    units = tmp_path / "units"
    units.mkdir()
    shutil.copy(UNITS / "obsync.service", units)
    shutil.copy(UNITS / "obsync@.service", units / "obsync@thesis.service")
    env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    result = subprocess.run(
        ["systemd-analyze", "--user", "verify", *map(str, sorted(units.iterdir()))],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
