"""Configuration: the TOML file, its lookup order, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsync.cli import main
from obsync.config import Config, load_config_file, resolve
from obsync.errors import ObsyncError

ROOT = Path(__file__).parent.parent


def test_example_config_loads_and_documents_every_key() -> None:
    config = load_config_file(ROOT / "config.example.toml")
    assert config.colors["yellow"] == ["important"] and config.colors["#ffec00"] == ["imported"]
    text = (ROOT / "config.example.toml").read_text()
    for name, field in Config.model_fields.items():
        assert f"{name} =" in text or f"[{name}]" in text, name
        sub = field.annotation
        for inner in getattr(sub, "model_fields", {}):
            assert f"{inner} =" in text, f"{name}.{inner}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("exprot = '/x'\n", "exprot"),
        ("[folders]\nannotations = '../outside'\n", "folders.annotations"),
        ("[folders]\nsources = '/abs'\n", "folders.sources"),
        ('[notes]\nmarker = "two\\nlines"\n', "notes.marker"),
        ("[colors]\nchartreuse = ['x']\n", "colors"),
        ("[colors]\nyellow = ['has space']\n", "colors"),
        ("export = 3\n", "export"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ObsyncError) as error:
        load_config_file(path)
    assert str(path) in error.value.message and f"'{named}" in error.value.message


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "export = \n")
    with pytest.raises(ObsyncError, match=r"config\.toml: invalid TOML: .*line 1"):
        load_config_file(path)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "e1").mkdir()
    (tmp_path / "e2").mkdir()
    xdg = Path(str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    (xdg / "obsync").mkdir(parents=True)
    (xdg / "obsync" / "config.toml").write_text(
        f"export = '{tmp_path / 'e1'}'\nvault = '{tmp_path / 'v'}'\n"
    )
    assert resolve(config_path=None, export=None, vault=None).export == tmp_path / "e1"
    env_file = write(tmp_path, f"export = '{tmp_path / 'e2'}'\nvault = '{tmp_path / 'v'}'\n")
    monkeypatch.setenv("OBSYNC_CONFIG", str(env_file))
    assert resolve(config_path=None, export=None, vault=None).export == tmp_path / "e2"
    assert resolve(config_path=None, export=tmp_path / "e1", vault=None).export == tmp_path / "e1"


def test_cli_config_error_exit_2_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[folders]\nnope = 1\n")
    assert main(["sync", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folders.nope" in err and "Traceback" not in err


def test_cli_missing_export_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sync", "--export", str(tmp_path / "missing"), "--vault", str(tmp_path / "v")])
    assert code == 2
    assert f"export folder not found: {tmp_path / 'missing'}" in capsys.readouterr().err


def test_cli_no_config_at_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 2
    assert "--export" in capsys.readouterr().err


def test_vault_inside_export_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "export").mkdir()
    assert (
        main(
            [
                "sync",
                "--export",
                str(tmp_path / "export"),
                "--vault",
                str(tmp_path / "export" / "v"),
            ]
        )
        == 2
    )
    assert "overlap" in capsys.readouterr().err


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "--no-such-flag"]) == 2
    assert main([]) == 2


def test_unexpected_error_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import obsync.sync

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(obsync.sync, "run_sync", boom)
    (tmp_path / "e").mkdir()
    assert main(["sync", "--export", str(tmp_path / "e"), "--vault", str(tmp_path / "v")]) == 3
    assert "unexpected error" in capsys.readouterr().err
