"""The ``[zotero]`` section resolved: libraries, where the API is, and the key (a secret)."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from obsync.errors import ObsyncError

KEY_ENV = "OBSYNC_ZOTERO_API_KEY"
_LIBRARY = re.compile(r"(users|groups)/([0-9]{1,20})")
_KEY = re.compile(r"[A-Za-z0-9]{8,64}")


class Secret:
    """An API key: its repr and str never show it; ``reveal()`` is for the one header.

    ``source`` says where it was read (its file, or ``$OBSYNC_ZOTERO_API_KEY``), for a
    message about the key that cannot show it; empty when not known."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an API key is not pickled")


@dataclass(frozen=True, slots=True)
class ZoteroSettings:
    """What the API source needs. ``libraries`` empty: the key's own user library."""

    key: Secret
    libraries: tuple[str, ...] = ()
    api_url: str = "https://api.zotero.org"
    stream_url: str = "wss://stream.zotero.org"
    data_dir: Path | None = None


def check_library(value: str) -> str:
    """``users/NNN`` or ``groups/NNN``, as the API's paths name libraries."""
    value = value.strip().strip("/")
    if _LIBRARY.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a library: use 'users/NNN' or 'groups/NNN'")
    return value


def check_url(value: str) -> str:
    """https (certificates checked), or plain http/ws only on a loopback address."""
    parts = urlsplit(value)
    if parts.scheme in ("https", "wss") and parts.hostname:
        return value.rstrip("/")
    if parts.scheme in ("http", "ws") and parts.hostname and _loopback(parts.hostname):
        return value.rstrip("/")
    raise ValueError(
        f"{value!r}: must be https:// (or wss://); plain http only on a loopback address"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_key_file(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "obsync" / "zotero-key"


def load_key(key_file: Path | None, env: Mapping[str, str]) -> Secret:
    """The key from ``$OBSYNC_ZOTERO_API_KEY``, else systemd's credential ``zotero-key``
    (``LoadCredential=``), else its file (owner-only, like ssh keys).

    Errors name the file or variable, never the key."""
    if env.get(KEY_ENV):
        return _checked(env[KEY_ENV].strip(), f"${KEY_ENV}")
    credential = Path(env.get("CREDENTIALS_DIRECTORY") or "/nonexistent") / "zotero-key"
    if env.get("CREDENTIALS_DIRECTORY") and credential.is_file():
        key_file = credential
    path = (key_file or default_key_file(env)).expanduser()
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ObsyncError(
                    f"{path}: the Zotero key file is open to group or others "
                    f"(mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
                )
            raw = handle.read(4096)
    except FileNotFoundError:
        raise ObsyncError(
            f"no Zotero API key: write it alone in {path} (chmod 600) "
            f"or set ${KEY_ENV}; see README, Straight from Zotero"
        ) from None
    except OSError as exc:
        raise ObsyncError(f"{path}: cannot read the Zotero key file: {exc.strerror}") from None
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        text = ""
    return _checked(text, str(path))


def _checked(value: str, where: str) -> Secret:
    if _KEY.fullmatch(value) is None:
        raise ObsyncError(f"{where}: does not hold a Zotero API key (letters and digits alone)")
    return Secret(value, where)
