"""``obsync init``: a config file with every key, its default and its meaning, in comments."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from obsync.errors import ObsyncError
from obsync.model import printable
from obsync.settings.config import (
    Config,
    Daemon,
    Folders,
    Notes,
    check_overlap,
    default_config_path,
    load_config_file,
)
from obsync.zotero.settings import check_library


def init_target(explicit: Path | None, env: Mapping[str, str]) -> Path:
    """Where ``obsync init`` writes: ``--config``, else where ``obsync sync`` looks without it
    (``$OBSYNC_CONFIG``, else the XDG default)."""
    if explicit is not None:
        return explicit.expanduser().absolute()
    if env.get("OBSYNC_CONFIG"):
        return Path(env["OBSYNC_CONFIG"]).expanduser().absolute()
    return default_config_path(env).absolute()


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:  # a byte that is not UTF-8, smuggled in by the OS
            raise ObsyncError(
                f"{printable(text)} is not valid UTF-8, and a TOML file cannot hold it: "
                "rename it, or pass a path that leads to it through a link"
            )
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return toml_string(str(value))


def _rows(*rows: tuple[str, object, str]) -> str:
    """Commented ``key = value`` lines, their trailing comments aligned."""
    lines = [f"# {key} = {_value(value)}" for key, value, _ in rows]
    width = max(map(len, lines))
    return "\n".join(
        f"{line.ljust(width)}  # {comment}" if comment else line
        for line, (_, _, comment) in zip(lines, rows, strict=True)
    )


def _path(key: str, path: Path | None, example: str, flag: str) -> str:
    if path is not None:
        return f"{key} = {toml_string(str(path))}"
    return f"# {key} = {toml_string(example)}  # required: set it here, or pass {flag}"


def zotero_section(libraries: Sequence[str]) -> str:
    """``[zotero]``: set when libraries are given, else commented out as an example."""
    rows = _rows(
        ("api_key_file", "~/.config/obsync/zotero-key", "the key alone, chmod 600"),
        ("api_url", "https://api.zotero.org", ""),
        ("stream_url", "wss://stream.zotero.org", "what `obsync run` listens to"),
        ("data_dir", "~/Zotero", "Zotero's data folder: pictures of image annotations"),
    )
    head = """\
# Zotero's Web API as a second source: annotations from every device, Zotero closed.
# The key is never written here: put it alone in api_key_file (only you may read it),
# or in $OBSYNC_ZOTERO_API_KEY. The README's "Straight from Zotero" says how to make one."""
    if not libraries:
        example = _rows(("library", ["users/8071752", "groups/5477470"], "an example"))
        return f"{head}\n# [zotero]\n{example}\n{rows}\n"
    return f"{head}\n[zotero]\nlibrary = {_value(list(libraries))}\n{rows}\n"


def config_text(export: Path | None, vault: Path | None, zotero: Sequence[str] = ()) -> str:
    """The text ``obsync init`` writes: ``export`` and ``vault`` set (when given), every
    other key commented out at its default, or at an example where it has none."""
    folders, notes, daemon = Folders(), Notes(), Daemon()
    state = _rows(("state", "~/.local/state/obsync", ""))
    folder_rows = _rows(
        ("annotations", folders.annotations, "one folder per paper, one note per annotation"),
        ("sources", folders.sources, "one literature note per paper"),
        ("attachments", folders.attachments, "images of image annotations"),
    )
    marker = _rows(
        ("marker", notes.marker, ""),
        ("literature_name", notes.literature_name, '"title", "citation" or "key"'),
        ("tag_prefix", notes.tag_prefix, 'before each Zotero tag: "zotero/tag/" nests them'),
        ("comment_links", notes.comment_links, "#tag and [[link]] in a comment work"),
    )
    colors = _rows(
        ("yellow", ["important"], "an example"),
        ('"#ffec00"', ["imported"], "an example"),
    )
    daemon_rows = _rows(
        ("debounce", daemon.debounce, "seconds of quiet before a changed file is read"),
        ("max_delay", daemon.max_delay, "no change waits longer, even in a file never quiet"),
        ("settle", daemon.settle, "seconds a file written in place must rest before it is read"),
        ("rescan_interval", daemon.rescan_interval, "seconds between full rescans"),
        ("polling", daemon.polling, "poll instead of inotify/FSEvents: network, FUSE folders"),
    )
    templates = _rows(
        ("annotation", "annotation.md.j2", "an example; default: the built-in template"),
        ("source", "source.md.j2", "an example; default: the built-in template"),
    )
    return f"""\
# obsync configuration, written by `obsync init`. Every key is optional: a commented-out
# line shows its default (or an example); remove the "# " to change it. --export and
# --vault on the command line override the first two. Unknown keys are an error, so a
# typo never goes unnoticed. The README's "Configuration" section lists every key.

# The folder Zotero / Better Notes exports annotation notes into. obsync only reads it.
{_path("export", export, "~/Zotero/obsync-export", "--export DIR")}

# The Obsidian vault to keep in step.
{_path("vault", vault, "~/Documents/Research", "--vault DIR")}

# Where obsync remembers what it wrote (SQLite, one file per vault). Default:
# $XDG_STATE_HOME/obsync, that is ~/.local/state/obsync (on macOS, ~/Library/Application
# Support/obsync). Deleting it loses nothing: it is rebuilt from the vault.
{state}

[folders]
# Where notes go, relative to the vault. Notes you move elsewhere are still found by key.
{folder_rows}

[notes]
# The line that separates what obsync writes (above) from what you write (below). Set it
# before the first sync: notes with another marker line are left alone, and reported.
# literature_name: how a new literature note is named, by the paper's title (found in
# the export: see the README), its citation ("Zhao et al., 2023") or its Zotero item key.
{marker}

[colors]
# Tags for a highlight colour, by Zotero palette name (yellow, red, green, blue, purple,
# magenta, orange, gray) or hex ("#ffec00"). Colours not listed get zotero/<name>,
# e.g. zotero/yellow, or zotero/<hex digits> for colours outside the palette.
{colors}

[daemon]
# How `obsync run` watches the export folder.
{daemon_rows}

[templates]
# Jinja2 templates for the body of notes, instead of the built-in ones (relative paths
# are from this file's folder). A template with an error stops the sync, naming its line.
{templates}

{zotero_section(zotero)}"""


def write_config(
    path: Path,
    *,
    export: Path | None,
    vault: Path | None,
    force: bool,
    zotero: Sequence[str] = (),
) -> Config:
    """Write :func:`config_text` to ``path`` and return it as the config loader reads it.

    The text is loaded back before it replaces anything, so a file that does not parse,
    or that does not hold the paths given, is never left behind.
    """
    if path.is_dir():
        raise ObsyncError(f"{path} is a folder: pass --config FILE to write the config elsewhere")
    if (path.exists() or path.is_symlink()) and not force:
        raise ObsyncError(f"{path} already exists: edit it, or pass --force to replace it")
    export = export.expanduser().resolve() if export is not None else None
    vault = vault.expanduser().resolve() if vault is not None else None
    if export is not None and vault is not None:
        check_overlap(export, vault, Folders())
    try:
        libraries = [check_library(library) for library in zotero]
    except ValueError as exc:
        raise ObsyncError(f"--zotero: {exc}") from None
    text = config_text(export, vault, libraries)
    real = path.resolve()  # through a symbolic link: a linked config stays linked
    temporary = real.with_name(f".{real.name}.{os.getpid()}.tmp")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        config = load_config_file(temporary)
        if (config.export, config.vault) != (export, vault):
            raise RuntimeError(f"init wrote {config.export}, {config.vault}: not {export}, {vault}")
        os.replace(temporary, real)
    except OSError as exc:
        raise ObsyncError(f"{path}: cannot write config: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    return config
