"""Configuration: a TOML file validated by pydantic, plus command-line overrides."""

from __future__ import annotations

import difflib
import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from obsync.errors import ObsyncError
from obsync.platform.system import places
from obsync.settings import templates as templating
from obsync.settings.colors import NAMES, normalise
from obsync.settings.templates import DEFAULT as DEFAULT_TEMPLATES
from obsync.settings.templates import Templates
from obsync.zotero.settings import ZoteroSettings, check_library, check_url, load_key

DEFAULT_MARKER = "%% obsync: write your notes below this line %%"


class _Strict(BaseModel):
    # A value never shows in an error: a key pasted into the wrong place stays unprinted.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _vault_relative(value: str) -> str:
    path = PurePosixPath(value.replace("\\", "/"))
    if not value.strip() or path.is_absolute() or ".." in path.parts:
        raise ValueError("must be a folder inside the vault, such as 'Zotero/Annotations'")
    return str(path)


class Folders(_Strict):
    """Where notes go, relative to the vault."""

    annotations: str = "Zotero/Annotations"
    sources: str = "Zotero/Sources"
    attachments: str = "Zotero/Attachments"

    _check = field_validator("annotations", "sources", "attachments")(_vault_relative)


class Notes(_Strict):
    marker: Annotated[str, Field(min_length=1)] = DEFAULT_MARKER
    # How a new literature note is named: the paper's title, its citation ("Zhao et al.,
    # 2023") or its Zotero item key. Notes that exist keep their names.
    literature_name: Literal["title", "citation", "key"] = "title"
    # What goes before each of an annotation's Zotero tags in the note's ``tags``:
    # "" keeps Zotero's names ("to read" -> ``to-read``); "zotero/tag/" nests them.
    tag_prefix: str = ""
    # Whether ``#tag`` and ``[[link]]`` the user wrote in a Zotero comment work in
    # Obsidian (true) or are shown as typed (false). Highlighted text is always literal.
    comment_links: bool = True

    @field_validator("tag_prefix")
    @classmethod
    def _tag_prefix(cls, value: str) -> str:
        if any(c.isspace() for c in value) or value.startswith("#") or "//" in value:
            raise ValueError("must be part of a tag, such as 'zotero/tag/': no spaces, no '#'")
        return value

    @field_validator("marker")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if value != value.strip() or "\n" in value or "\r" in value:
            raise ValueError("must be one line without leading or trailing spaces")
        if value.startswith("---"):
            raise ValueError("must not start with '---' (that is a YAML delimiter)")
        return value


class Daemon(_Strict):
    """How ``obsync run`` watches the export folder."""

    debounce: Annotated[float, Field(gt=0, le=600)] = 1.0
    max_delay: Annotated[float, Field(gt=0, le=3600)] = 10.0
    settle: Annotated[float, Field(ge=0, le=3600)] = 5.0
    rescan_interval: Annotated[float, Field(ge=10)] = 300.0
    polling: bool = False

    @field_validator("max_delay")
    @classmethod
    def _not_below_debounce(cls, value: float, info: ValidationInfo) -> float:
        debounce = info.data.get("debounce")
        if debounce is not None and value < debounce:
            raise ValueError(f"must be at least the debounce ({debounce:g} s)")
        return value


class TemplateFiles(_Strict):
    """Jinja2 templates for the body of notes; relative paths are from the config file."""

    annotation: Path | None = None
    source: Path | None = None


class Zotero(_Strict):
    """Zotero's Web API as a second source (see obsync/zotero). The key is never here."""

    library: list[str] = []  # "users/NNN", "groups/NNN"; none: the key's own user library
    api_key_file: Path | None = None
    api_url: str = "https://api.zotero.org"
    stream_url: str = "wss://stream.zotero.org"
    data_dir: Path | None = None  # Zotero's data folder: rendered pictures of image annotations

    @model_validator(mode="before")
    @classmethod
    def _no_key_here(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"api_key", "key"} & set(data):
            raise ValueError(
                "the API key is never kept in config.toml: write it alone in a file named "
                "by api_key_file (chmod 600), or set $OBSYNC_ZOTERO_API_KEY"
            )
        return data

    @field_validator("library")
    @classmethod
    def _libraries(cls, value: list[str]) -> list[str]:
        return [check_library(v) for v in value]

    @field_validator("api_url", "stream_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class Config(_Strict):
    """The config file's contents (every key is optional)."""

    export: Path | None = None
    vault: Path | None = None
    state: Path | None = None
    folders: Folders = Folders()
    notes: Notes = Notes()
    colors: dict[str, list[str]] = {}
    daemon: Daemon = Daemon()
    templates: TemplateFiles = TemplateFiles()
    zotero: Zotero | None = None

    @field_validator("colors")
    @classmethod
    def _colour_keys(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, tags in value.items():
            if key in NAMES:
                out[key] = tags
            elif (hex_ := normalise(key)) is not None:
                out[hex_] = tags
            else:
                raise ValueError(
                    f"{key!r} is not a colour: use a palette name ({', '.join(NAMES)}) "
                    "or a hex colour such as '#ffd400'"
                )
            for tag in tags:
                if not tag or any(c.isspace() for c in tag) or tag.startswith("#"):
                    raise ValueError(f"tag {tag!r} for {key!r}: tags have no spaces and no '#'")
        return out


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a sync needs, with paths resolved."""

    export: Path
    vault: Path
    state_file: Path
    annotations_folder: str
    sources_folder: str
    attachments_folder: str
    marker: str
    colors: Mapping[str, tuple[str, ...]]
    config_file: Path | None
    daemon: Daemon = field(default_factory=Daemon)
    literature_name: str = "title"
    tag_prefix: str = ""
    comment_links: bool = True
    templates: Templates = DEFAULT_TEMPLATES
    zotero: ZoteroSettings | None = None


def default_config_path(env: Mapping[str, str], system: str | None = None) -> Path:
    """``$XDG_CONFIG_HOME/obsync/config.toml``; on macOS in Application Support (system.py)."""
    return places(env, system).config / "config.toml"


def default_state_dir(env: Mapping[str, str], system: str | None = None) -> Path:
    """``$XDG_STATE_HOME/obsync``; on macOS in Application Support (system.py)."""
    return places(env, system).state


def find_config(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """``--config``, else ``$OBSYNC_CONFIG``, else the XDG default if it exists."""
    if explicit is not None:
        if not explicit.is_file():
            raise ObsyncError(f"config file not found: {explicit}")
        return explicit
    if env.get("OBSYNC_CONFIG"):
        path = Path(env["OBSYNC_CONFIG"]).expanduser()
        if not path.is_file():
            raise ObsyncError(f"config file not found: {path} (from $OBSYNC_CONFIG)")
        return path
    path = default_config_path(env)
    return path if path.is_file() else None


def load_config_file(path: Path) -> Config:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ObsyncError(f"{path}: cannot read config: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ObsyncError(f"{path}: invalid TOML: {exc}") from exc
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        more = len(errors) - 1
        also = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        raise ObsyncError(f"{path}: {_explain(errors[0])}{also}") from None
    # A relative path in a config file means the same wherever obsync is started from.
    base = path.parent.absolute()
    rebased = {
        name: base / value.expanduser()
        for name in ("export", "vault", "state")
        if (value := getattr(config, name)) is not None and not value.expanduser().is_absolute()
    }
    return config.model_copy(update=rebased) if rebased else config


def _explain(error: ErrorDetails) -> str:
    """One pydantic error as ``key 'daemon.debounce': <what is wrong>``."""
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc) or "(top level)"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        model: type[BaseModel] | None = Config
        for part in loc[:-1]:
            field = model.model_fields.get(part) if model else None
            sub = field.annotation if field else None
            model = sub if isinstance(sub, type) and issubclass(sub, BaseModel) else None
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(known)
        message = f"unknown key ({hint})" if known else "unknown key"
    elif error["type"] == "value_error" and "error" in (ctx := error.get("ctx", {})):
        message = str(ctx["error"])  # without pydantic's "Value error, "
    elif error["type"] == "model_type":
        message = f"must be a table, [{key}]"
    elif error["type"] == "path_type":
        message = 'must be a path in quotes, such as "~/Documents/Research"'
    return f"key '{key}': {message}"


def check_overlap(export_dir: Path, vault_dir: Path, folders: Folders) -> None:
    """Refuse a vault inside the export folder, or an export folder obsync would write into."""
    if (
        vault_dir == export_dir
        or vault_dir.is_relative_to(export_dir)
        or (
            export_dir.is_relative_to(vault_dir)
            and any(
                export_dir.is_relative_to(vault_dir / folder)
                for folder in (folders.annotations, folders.sources, folders.attachments)
            )
        )
    ):
        raise ObsyncError(
            f"the vault ({vault_dir}) and the export folder ({export_dir}) overlap: "
            "obsync never writes into the export folder"
        )


def state_file(config: Config, vault_dir: Path, env: Mapping[str, str]) -> Path:
    """The state store of one vault: one SQLite file per vault path."""
    state_dir = (config.state or default_state_dir(env)).expanduser().resolve()
    vault_id = hashlib.sha256(str(vault_dir).encode()).hexdigest()[:16]
    return state_dir / f"vault-{vault_id}.sqlite"


def resolve_state(
    *, config_path: Path | None, vault: Path | None, env: Mapping[str, str] | None = None
) -> tuple[Path, Path]:
    """The vault and its state file, for commands that do not read the export."""
    environ = os.environ if env is None else env
    found = find_config(config_path, environ)
    config = load_config_file(found) if found is not None else Config()
    vault_dir = vault or config.vault
    if vault_dir is None:
        where = f" in {found}" if found else ""
        raise ObsyncError(f"no vault: pass --vault DIR or set 'vault'{where}")
    vault_dir = vault_dir.expanduser().resolve()
    return vault_dir, state_file(config, vault_dir, environ)


def resolve(
    *,
    config_path: Path | None,
    export: Path | None,
    vault: Path | None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the config file (if any) with command-line overrides."""
    environ = os.environ if env is None else env
    found = find_config(config_path, environ)
    config = load_config_file(found) if found is not None else Config()
    where = f" in {found}" if found else ""
    export_dir = export or config.export
    vault_dir = vault or config.vault
    start = "" if found else " (or run `obsync init --export DIR --vault DIR` once)"
    if export_dir is None and config.zotero is not None:
        export_dir = _no_export(config, environ)
    if export_dir is None:
        raise ObsyncError(f"no export folder: pass --export DIR or set 'export'{where}{start}")
    if vault_dir is None:
        raise ObsyncError(f"no vault: pass --vault DIR or set 'vault'{where}{start}")
    export_dir = export_dir.expanduser().resolve()
    vault_dir = vault_dir.expanduser().resolve()
    if not export_dir.is_dir():
        named = f" (set{where})" if export is None else ""
        what = "is not a folder" if export_dir.exists() else "not found"
        raise ObsyncError(f"export folder {what}: {export_dir}{named}")
    if vault_dir.exists() and not vault_dir.is_dir():
        named = f" (set{where})" if vault is None else ""
        raise ObsyncError(f"the vault is not a folder: {vault_dir}{named}")
    check_overlap(export_dir, vault_dir, config.folders)
    return Settings(
        export=export_dir,
        vault=vault_dir,
        state_file=state_file(config, vault_dir, environ),
        annotations_folder=config.folders.annotations,
        sources_folder=config.folders.sources,
        attachments_folder=config.folders.attachments,
        marker=config.notes.marker,
        literature_name=config.notes.literature_name,
        tag_prefix=config.notes.tag_prefix,
        comment_links=config.notes.comment_links,
        colors={key: tuple(tags) for key, tags in config.colors.items()},
        config_file=found,
        daemon=config.daemon,
        templates=_templates(config.templates, found),
        zotero=_zotero(config.zotero, found, environ),
    )


def _zotero(
    section: Zotero | None, config_file: Path | None, env: Mapping[str, str]
) -> ZoteroSettings | None:
    """The ``[zotero]`` section with its key; a relative key file or data folder is from
    the config file's folder."""
    if section is None:
        return None
    base = config_file.parent.absolute() if config_file is not None else Path.cwd()

    def where(path: Path | None) -> Path | None:
        return None if path is None else base / path.expanduser()

    return ZoteroSettings(
        key=load_key(where(section.api_key_file), env),
        libraries=tuple(dict.fromkeys(section.library)),
        api_url=section.api_url,
        stream_url=section.stream_url,
        data_dir=where(section.data_dir),
    )


def _no_export(config: Config, env: Mapping[str, str]) -> Path:
    """With Zotero's API as the only source, an empty folder stands for the export folder."""
    folder = (config.state or default_state_dir(env)).expanduser() / "no-export"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _templates(files: TemplateFiles, config_file: Path | None) -> Templates:
    """The templates the config names, read and compiled, else the defaults."""
    base = config_file.parent if config_file is not None else Path.cwd()

    def where(path: Path | None) -> Path | None:
        return None if path is None else (base / path.expanduser()).resolve()

    return Templates(
        templating.load(where(files.annotation), DEFAULT_TEMPLATES.annotation),
        templating.load(where(files.source), DEFAULT_TEMPLATES.source),
    )
