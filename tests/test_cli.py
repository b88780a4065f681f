"""The command line's own flags (cli/__init__.py); each command has its tests beside its module."""

from __future__ import annotations

from importlib.metadata import version

import pytest

import obsync
from obsync.cli import main


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"obsync {obsync.__version__}"
    assert version("obsync") == obsync.__version__  # what pip installed says the same


def test_help_documents_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("    ")}
    assert listed == {"init", "sync", "run", "status", "service"}, out
    commands = [[c] for c in sorted(listed - {"service"})]
    commands += [["service", action] for action in ("install", "uninstall", "status")]
    for command in commands:  # and each command's own help names its flags
        assert main([*command, "--help"]) == 0
        assert "--config" in capsys.readouterr().out
