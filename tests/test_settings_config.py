"""Configuration: the TOML file, its lookup order, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsync.cli import main
from obsync.errors import ObsyncError
from obsync.settings.config import Config, load_config_file, resolve

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
    err = capsys.readouterr().err
    assert "--export" in err and "obsync init" in err


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_cli_export_folder_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "export.md").write_text("not a folder")
    code = main(["sync", "--export", str(tmp_path / "export.md"), "--vault", str(tmp_path / "v")])
    assert code == 2
    assert f"export folder is not a folder: {tmp_path / 'export.md'}" in one_line_error(capsys)


def test_cli_vault_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "export").mkdir()
    (tmp_path / "vault").write_text("not a folder")
    code = main(["sync", "--export", str(tmp_path / "export"), "--vault", str(tmp_path / "vault")])
    assert code == 2
    assert f"the vault is not a folder: {tmp_path / 'vault'}" in one_line_error(capsys)


def test_cli_state_folder_that_cannot_be_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "export").mkdir()
    (tmp_path / "state").write_text("a file where the state folder should be")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    args = ["--export", str(tmp_path / "export"), "--vault", str(tmp_path / "vault")]
    assert main(["sync", *args]) == 2
    err = one_line_error(capsys)
    assert f"cannot use the state folder {tmp_path / 'state' / 'obsync'}" in err
    assert "$XDG_STATE_HOME" in err
    assert main(["status", "--vault", str(tmp_path / "vault")]) == 0  # nothing to report
    assert "last sync:   never" in capsys.readouterr().out


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
    import obsync.cli.sync

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(obsync.cli.sync, "run_sync", boom)
    (tmp_path / "e").mkdir()
    assert main(["sync", "--export", str(tmp_path / "e"), "--vault", str(tmp_path / "v")]) == 3
    assert "unexpected error" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ("[daemon]\ndebounce = -1\n", "daemon.debounce", "greater than 0"),
        ("[daemon]\ndebunce = 1\n", "daemon.debunce", "unknown key (did you mean 'debounce'?)"),
        ("[daemon]\nmax_delay = 0\n", "daemon.max_delay", "greater than 0"),
        (
            "[daemon]\ndebounce = 2\nmax_delay = 1\n",
            "daemon.max_delay",
            "at least the debounce (2 s)",
        ),
        ("vualt = '/v'\n", "vualt", "unknown key (did you mean 'vault'?)"),
        (
            "[notes]\nzzz = 1\n",
            "notes.zzz",
            "unknown key (known keys: marker, literature_name, tag_prefix, comment_links)",
        ),
        ("[colors]\nchartreuse = ['x']\n", "colors", "'chartreuse' is not a colour"),
        ("folders = 'x'\n", "folders", "must be a table, [folders]"),
    ],
)
def test_cli_config_errors_are_one_line_with_file_and_dotted_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, says: str
) -> None:
    path = write(tmp_path, text)
    assert main(["sync", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"obsync: error: {path}: key '{key}': ")
    assert err.count("\n") == 1 and says in err and "Value error" not in err


def test_config_error_counts_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, "[daemon]\ndebounce = -1\nsettle = -1\npolling = 'x'\n")
    with pytest.raises(ObsyncError, match=r"key 'daemon.debounce': .* \(and 2 more errors\)$"):
        load_config_file(path)


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_shows_the_traceback_then_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    path = write(tmp_path, "[daemon]\ndebounce = -1\n")
    argv = ["sync", "--config", str(path)]
    assert main(["-v", *argv] if where == "before" else [*argv, "-v"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("Traceback") and "ObsyncError" in lines[-2]
    assert lines[-1].startswith(f"obsync: error: {path}: key 'daemon.debounce'")


def test_quiet_after_the_command(
    export_dir: Path, vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--export", str(export_dir), "--vault", str(vault), "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_missing_export_folder_from_the_config_names_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, f"export = '{tmp_path / 'gone'}'\nvault = '{tmp_path / 'v'}'\n")
    assert main(["sync", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"obsync: error: export folder not found: {tmp_path / 'gone'} (set in {path})\n"


def test_error_lines_escape_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "two\nlines"
    assert main(["sync", "--export", str(missing), "--vault", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two\\nlines" in err


def test_relative_paths_in_a_config_file_are_from_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "conf"
    (home / "export").mkdir(parents=True)
    config = home / "config.toml"
    config.write_text('export = "export"\nvault = "../vault"\nstate = "state"\n')
    monkeypatch.chdir(tmp_path)  # started elsewhere: the paths mean the same
    settings = resolve(config_path=config, export=None, vault=None)
    assert settings.export == (home / "export").resolve()
    assert settings.vault == (tmp_path / "vault").resolve()
    assert settings.state_file.parent == (home / "state").resolve()
