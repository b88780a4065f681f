"""The [zotero] section and its key (obsync/zotero/settings.py): the key stays a secret."""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from obsync.cli import main
from obsync.settings.config import resolve
from obsync.zotero.settings import KEY_ENV, Secret
from tests.zotero_server import KEY, FakeZotero, annotation, attachment, paper, serve
from tests.zotero_setup import write_config

USER = "users/8071752"


@pytest.fixture
def fake() -> Iterator[FakeZotero]:
    yield from serve(FakeZotero())


def test_a_key_file_open_to_others_is_refused_in_one_line(
    tmp_path: Path, fake: FakeZotero, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake)
    (tmp_path / "zotero-key").chmod(0o644)
    assert main(["sync", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "open to group or others (mode 644)" in err and "chmod 600" in err
    assert KEY not in err


def test_the_environment_overrides_the_key_file(
    tmp_path: Path, fake: FakeZotero, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, fake, key="NotTheKeyInTheFile000")
    monkeypatch.setenv(KEY_ENV, KEY)
    settings = resolve(config_path=config, export=None, vault=None)
    assert settings.zotero is not None
    assert settings.zotero.key == Secret(KEY)
    assert settings.zotero.key.source == f"${KEY_ENV}"  # where it came from, for messages


def test_the_key_knows_its_file(tmp_path: Path, fake: FakeZotero) -> None:
    settings = resolve(config_path=write_config(tmp_path, fake), export=None, vault=None)
    assert settings.zotero is not None
    assert settings.zotero.key.source == str(tmp_path / "zotero-key")
    assert KEY not in settings.zotero.key.source


def test_no_key_anywhere_says_where_to_put_it(tmp_path: Path, fake: FakeZotero) -> None:
    config = write_config(tmp_path, fake)
    (tmp_path / "zotero-key").unlink()
    with pytest.raises(Exception, match="no Zotero API key: write it alone in"):
        resolve(config_path=config, export=None, vault=None)


def test_a_key_in_config_toml_is_refused_without_being_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'vault = "{tmp_path}/v"\n[zotero]\napi_key = "{KEY}"\n')
    assert main(["-v", "sync", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "never kept in config.toml" in err
    assert KEY not in err


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.zotero.org", True),
        ("http://127.0.0.1:8080", True),
        ("http://[::1]:8080", True),
        ("http://localhost:1", True),
        ("http://api.zotero.org", False),
        ("http://10.0.0.1", False),
        ("ftp://api.zotero.org", False),
    ],
)
def test_plain_http_only_on_a_loopback_address(tmp_path: Path, url: str, ok: bool) -> None:
    fake = FakeZotero(url=url)
    config = write_config(tmp_path, fake)
    if ok:
        resolve(config_path=config, export=None, vault=None)
    else:
        with pytest.raises(Exception, match="plain http only on a loopback address"):
            resolve(config_path=config, export=None, vault=None)


def test_the_secret_never_shows_in_repr_str_or_a_pickle() -> None:
    secret = Secret(KEY)
    assert KEY not in repr(secret) and KEY not in str(secret) and KEY not in f"{secret!r}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_the_key_never_reaches_logs_output_status_or_the_state(
    tmp_path: Path,
    fake: FakeZotero,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("obsync.zotero.api.wait", lambda _seconds: None)
    fake.library(USER).put(
        paper("PAPERAAA", "A paper"),
        attachment("PDFAAAAA", "PAPERAAA"),
        annotation("HLONE111", "PDFAAAAA"),
        annotation("ODDKIND1", "PDFAAAAA", kind="sparkle"),
    )
    config = write_config(tmp_path, fake, libraries=())  # the key's own library: /keys/current
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for argv in (
        ["-vv", "sync", "--config", str(config), "--json"],
        ["-vv", "sync", "--config", str(config)],
        ["status", "--config", str(config), "--json"],
        ["status", "--config", str(config)],
    ):
        main(argv)
        captured = capsys.readouterr()
        seen += [captured.out, captured.err]
    fake.fail.append((500, {}))
    fake.fail += [(500, {})] * 5
    main(["-vv", "sync", "--config", str(config)])  # a server failing: warnings
    captured = capsys.readouterr()
    seen += [captured.out, captured.err, caplog.text]
    assert "zotero:      users/8071752 at version 1" in "".join(seen)  # obsync status
    assert '"users/8071752": {' in "".join(seen)  # obsync status --json
    assert all(KEY not in text for text in seen)
    home = Path(os.environ["HOME"])
    assert list(home.rglob("*.sqlite"))  # the state store is there, and holds no key
    for path in home.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    for path in Path(tmp_path).rglob("*"):
        if path.is_file() and path.name != "zotero-key":
            assert KEY.encode() not in path.read_bytes(), path
    assert all(r.headers["zotero-api-key"] == KEY for r in fake.requests)
    assert all(KEY not in r.path and KEY not in str(r.query) for r in fake.requests)
    assert all(r.headers["zotero-api-version"] == "3" for r in fake.requests)
    assert fake.count("/keys/current") == 1  # the key's own library, asked once


def test_a_systemd_credential_holds_the_key(
    tmp_path: Path, fake: FakeZotero, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, fake, key="NotTheKeyInTheFile000")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "zotero-key").write_text(KEY)
    (credentials / "zotero-key").chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = resolve(config_path=config, export=None, vault=None)
    assert settings.zotero is not None and settings.zotero.key == Secret(KEY)
    assert settings.zotero.key.source == str(credentials / "zotero-key")
