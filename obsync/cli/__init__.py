"""The command line: ``main(argv) -> int``; each command is a module of its own here, with
its ``run(args) -> int``, imported only when that command runs."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from obsync import __version__
from obsync.errors import ObsyncError
from obsync.model import printable

log = logging.getLogger("obsync")


def configure_logging(verbosity: int) -> None:
    """The one place logging is set up: to stderr, so journald keeps it."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("obsync: %(levelname)s: %(message)s"))
    root = logging.getLogger("obsync")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _add_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="config file (TOML)")
    parser.add_argument("--export", type=Path, metavar="DIR", help="the export folder to read")
    parser.add_argument("--vault", type=Path, metavar="DIR", help="the Obsidian vault to write")


def _output_flags(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "-v", "--verbose", action="count", default=default, help="more output; tracebacks"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_const", const=True, default=default, help="errors only"
    )


def build_parser() -> argparse.ArgumentParser:
    # -v and -q work before or after the command; a command's parser leaves them unset
    # (SUPPRESS) unless given there, so `obsync -v sync` keeps its -v.
    common = argparse.ArgumentParser(add_help=False)
    _output_flags(common, argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="obsync",
        description="Keep an Obsidian vault in step with Zotero annotation exports.",
    )
    parser.add_argument("--version", action="version", version=f"obsync {__version__}")
    _output_flags(parser, None)
    parser.set_defaults(verbose=0, quiet=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser(
        "init", parents=[common], help="write a commented config file, then run `obsync sync`"
    )
    init.add_argument("--config", type=Path, metavar="FILE", help="where to write it")
    init.add_argument("--export", type=Path, metavar="DIR", help="the export folder to read")
    init.add_argument("--vault", type=Path, metavar="DIR", help="the Obsidian vault to write")
    init.add_argument("--force", action="store_true", help="replace an existing config file")
    init.add_argument(
        "--zotero",
        action="append",
        default=[],
        metavar="LIBRARY",
        help="also read this library from Zotero's Web API: users/NNN or groups/NNN (repeatable)",
    )
    init.set_defaults(handler="init")

    sync = commands.add_parser("sync", parents=[common], help="sync once and exit")
    _add_paths(sync)
    sync.add_argument("--dry-run", action="store_true", help="print the plan; write nothing")
    sync.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    sync.add_argument(
        "--restore-deleted", action="store_true", help="re-create notes the user deleted"
    )
    sync.add_argument(
        "--full",
        action="store_true",
        help="look at every export file and note, not only what changed since the last sync",
    )
    sync.set_defaults(handler="sync")

    run = commands.add_parser(
        "run", parents=[common], help="sync, then watch the export folder and keep syncing"
    )
    _add_paths(run)
    run.set_defaults(handler="run", verbosity=1)  # a daemon logs each effect

    status = commands.add_parser(
        "status", parents=[common], help="last sync, counts, conflicts, errors, daemon"
    )
    status.add_argument("--config", type=Path, metavar="FILE", help="config file (TOML)")
    status.add_argument("--vault", type=Path, metavar="DIR", help="the Obsidian vault")
    status.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    status.set_defaults(handler="status")

    service = commands.add_parser(
        "service", parents=[common], help="install, remove or inspect obsync as a user service"
    )
    actions = service.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("install", "write the service (systemd user unit, launchd agent) and start it"),
        ("uninstall", "stop the service and remove what install wrote"),
        ("status", "whether it is installed and running, and what its last sync did"),
    ):
        sub = actions.add_parser(action, parents=[common], help=text)
        sub.add_argument(
            "--config", type=Path, metavar="FILE", help="a service of its own for this config"
        )
        if action != "status":
            sub.add_argument("--force", action="store_true", help="even over a file edited by hand")
        sub.set_defaults(handler="service")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    configure_logging(-1 if args.quiet else args.verbose + getattr(args, "verbosity", 0))
    try:
        command = importlib.import_module(f"obsync.cli.{args.handler}")
        return int(command.run(args))
    except ObsyncError as exc:
        if args.verbose:
            traceback.print_exception(exc, file=sys.stderr)
        print(f"obsync: error: {printable(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:
        log.critical("unexpected error (please report it)", exc_info=True)
        return 3


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
