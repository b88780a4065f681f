"""``obsync init``: a commented config that the real loader reads back, then ``obsync sync``."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from obsync.cli import main
from obsync.settings.config import Config, default_config_path, load_config_file
from obsync.settings.starter import config_text

from .helpers import config_keys


def default_path() -> Path:
    return default_config_path(os.environ)


def init(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["init", *argv]) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_init_then_sync_with_no_flags(
    tmp_path: Path, demo_export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vault = tmp_path / "vault"
    out, err = init(capsys, "--export", str(demo_export), "--vault", str(vault))
    path = default_path()
    assert path.is_file() and str(path).startswith(os.environ["XDG_CONFIG_HOME"])
    assert out == f"wrote {path}\nnext: obsync sync\n" and err == ""
    assert main(["sync"]) == 0
    assert "created" in capsys.readouterr().out
    assert list((vault / "Zotero" / "Annotations").rglob("*.md"))
    assert list((vault / "Zotero" / "Sources").glob("*.md"))


def test_the_file_parses_and_holds_the_paths_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "export").mkdir()
    init(capsys, "--export", "export/../export/", "--vault", "~/Research")
    config = load_config_file(default_path())
    assert config.export == tmp_path.resolve() / "export"
    assert config.vault == Path(os.environ["HOME"]).resolve() / "Research"
    raw = tomllib.loads(default_path().read_text(encoding="utf-8"))
    assert (raw.pop("export"), raw.pop("vault")) == (str(config.export), str(config.vault))
    assert all(table == {} for table in raw.values())  # every other key commented out
    # everything else is at its default
    assert config.model_dump(exclude={"export", "vault"}) == Config().model_dump(
        exclude={"export", "vault"}
    )


def uncommented(text: str) -> dict[str, Any]:
    """The config with every commented-out ``key = value`` line (and ``[table]``, for
    a section that is off by default) switched on."""
    on = re.sub(r'^# ([\w"#]+ = |\[\w+\]$)', r"\1", text, flags=re.MULTILINE)
    data: dict[str, Any] = tomllib.loads(on)
    return data


@pytest.mark.parametrize("given", [True, False])
def test_every_key_is_there_commented_at_its_default(tmp_path: Path, given: bool) -> None:
    paths = (tmp_path / "e", tmp_path / "v") if given else (None, None)
    data = uncommented(config_text(*paths))
    for key in config_keys():
        node: Any = data
        for part in key.split("."):
            if part == "<*>":
                assert isinstance(node, dict) and node, key  # an example entry
                break
            assert part in node, f"{key} is missing from the file obsync init writes"
            node = node[part]
    config = Config.model_validate(data)
    defaults = Config()
    assert (config.folders, config.notes, config.daemon) == (
        defaults.folders,
        defaults.notes,
        defaults.daemon,
    )


def test_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = default_path()
    path.parent.mkdir(parents=True)
    path.write_text("# mine\n")
    _, err = init(capsys, "--export", str(tmp_path / "e"), "--vault", str(tmp_path / "v"), code=2)
    assert err == f"obsync: error: {path} already exists: edit it, or pass --force to replace it\n"
    assert path.read_text() == "# mine\n"
    init(capsys, "--force", "--export", str(tmp_path / "e"), "--vault", str(tmp_path / "v"))
    assert load_config_file(path).export == tmp_path / "e"
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary left
    _, err = init(capsys, "--force", "--config", str(tmp_path), code=2)
    assert (
        err
        == f"obsync: error: {tmp_path} is a folder: pass --config FILE to write the config elsewhere\n"
    )


def test_force_writes_through_a_symbolic_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "dotfiles" / "obsync.toml"
    real.parent.mkdir()
    real.write_text("")
    default_path().parent.mkdir(parents=True)
    default_path().symlink_to(real)
    init(capsys, "--force", "--vault", str(tmp_path / "v"))
    assert default_path().is_symlink() and load_config_file(real).vault == tmp_path / "v"


def test_config_flag_and_the_next_command(
    tmp_path: Path,
    export_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the relative vault "v2" is made there, not in the checkout
    path = tmp_path / "my config.toml"
    out, _ = init(capsys, "--config", str(path), "--export", str(export_dir), "--vault", "v2")
    assert out.splitlines() == [f"wrote {path}", f"next: obsync sync --config '{path}'"]
    assert not default_path().exists()
    assert main(["sync", "--config", str(path)]) == 0


def test_obsync_config_variable_is_where_sync_looks(
    tmp_path: Path,
    export_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "elsewhere.toml"
    monkeypatch.setenv("OBSYNC_CONFIG", str(path))
    out, _ = init(capsys, "--export", str(export_dir), "--vault", str(tmp_path / "v"))
    assert out.splitlines() == [f"wrote {path}", "next: obsync sync"]
    assert main(["sync"]) == 0


def test_without_paths_the_file_says_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = init(capsys)
    path = default_path()
    assert out.splitlines() == [
        f"wrote {path}",
        "next: set 'export' and 'vault' in it, then run: obsync sync",
    ]
    assert load_config_file(path) == Config()
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert err == f"obsync: error: no export folder: pass --export DIR or set 'export' in {path}\n"


def test_a_missing_export_folder_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, err = init(capsys, "--export", str(tmp_path / "later"), "--vault", str(tmp_path / "v"))
    assert f"the export folder {tmp_path / 'later'} does not exist yet" in err
    assert load_config_file(default_path()).export == tmp_path / "later"


def test_overlapping_folders_are_refused_and_nothing_written(
    tmp_path: Path, export_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, err = init(capsys, "--export", str(export_dir), "--vault", str(export_dir / "v"), code=2)
    assert "overlap" in err and err.count("\n") == 1
    assert not default_path().exists()


def test_awkward_paths_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / 'a "quoted" \\ back\tslash # not a comment \x7f é'
    export.mkdir()
    init(capsys, "--export", str(export), "--vault", str(tmp_path / "v'"))
    config = load_config_file(default_path())
    assert (config.export, config.vault) == (export, tmp_path / "v'")


def test_a_path_that_is_not_utf8_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    _, err = init(capsys, "--export", str(export), "--vault", str(tmp_path / "v"), code=2)
    assert "not valid UTF-8" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not default_path().exists()


def test_init_with_zotero_writes_the_section_and_never_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    out, _ = init(capsys, "--config", str(config), "--vault", str(tmp_path / "v"),
                  "--zotero", "users/8071752", "--zotero", "groups/5477470")  # fmt: skip
    assert "zotero-key (chmod 600)" in out
    loaded = load_config_file(config)
    assert loaded.zotero is not None
    assert loaded.zotero.library == ["users/8071752", "groups/5477470"]
    assert "api_key =" not in config.read_text()
    _, err = init(capsys, "--config", str(tmp_path / "b.toml"), "--zotero", "me", code=2)
    assert "'me' is not a library" in err
