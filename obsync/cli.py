"""The command line: ``main(argv) -> int``, one small function per command."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obsync import __version__
from obsync.errors import ObsyncError
from obsync.model import printable

if TYPE_CHECKING:
    from obsync.progress import Progress

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
    init.set_defaults(handler=cmd_init)

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
    sync.set_defaults(handler=cmd_sync)

    run = commands.add_parser(
        "run", parents=[common], help="sync, then watch the export folder and keep syncing"
    )
    _add_paths(run)
    run.set_defaults(handler=cmd_run, verbosity=1)  # a daemon logs each effect

    status = commands.add_parser(
        "status", parents=[common], help="last sync, counts, conflicts, errors, daemon"
    )
    status.add_argument("--config", type=Path, metavar="FILE", help="config file (TOML)")
    status.add_argument("--vault", type=Path, metavar="DIR", help="the Obsidian vault")
    status.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    status.set_defaults(handler=cmd_status)

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
        sub.set_defaults(handler=cmd_service)
    return parser


def cmd_init(args: argparse.Namespace) -> int:
    import os
    import shlex

    from obsync.init_config import init_target, write_config

    path = init_target(args.config, os.environ)
    config = write_config(
        path, export=args.export, vault=args.vault, force=args.force, zotero=args.zotero
    )
    if config.export is not None and not config.export.is_dir():
        log.warning(
            "the export folder %s does not exist yet: have Better Notes sync into it",
            printable(str(config.export)),
        )
    sync = "obsync sync"  # reads the config at init_target(None): no --config needed
    if init_target(None, os.environ).resolve() != path.resolve():
        sync += f" --config {shlex.quote(str(path))}"
    if not args.quiet:
        print(printable(f"wrote {path}"))
        if config.zotero is not None:
            from obsync.zotero.settings import default_key_file

            key = default_key_file(os.environ)
            print(printable(f"then: put your Zotero API key alone in {key} (chmod 600)"))
        if config.vault is None or (config.export is None and config.zotero is None):
            print(printable(f"next: set 'export' and 'vault' in it, then run: {sync}"))
        else:
            print(printable(f"next: {sync}"))
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from obsync.config import resolve
    from obsync.lock import exclusive
    from obsync.plan import describe
    from obsync.sync import run_sync

    settings = resolve(config_path=args.config, export=args.export, vault=args.vault)
    with contextlib.ExitStack() as stack:
        progress: Progress | None = None
        if sys.stderr.isatty() and not (args.quiet or args.json):
            from obsync.progress import TerminalBar

            progress = stack.enter_context(TerminalBar())  # draws nothing until work is done
        if not args.dry_run:
            stack.enter_context(exclusive(settings.state_file, settings.vault))
        report = run_sync(
            settings,
            dry_run=args.dry_run,
            restore_deleted=args.restore_deleted,
            full=args.full,
            progress=progress,
        )
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        if args.dry_run:
            lines = list(describe(report.plan))
            print("\n".join(lines) if lines else "nothing to do")
            print("dry run, nothing written: " + report.summary())
        elif not args.quiet:
            print(report.summary())
    return report.exit_code


def cmd_run(args: argparse.Namespace) -> int:
    import signal

    from obsync.config import resolve
    from obsync.daemon import watchdog_daemon
    from obsync.lock import exclusive

    settings = resolve(config_path=args.config, export=args.export, vault=args.vault)
    with exclusive(settings.state_file, settings.vault):
        daemon = watchdog_daemon(settings)

        def stop(signum: int, _frame: object) -> None:
            log.info("received %s: finishing the note in hand", signal.Signals(signum).name)
            daemon.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        return daemon.run()


def status_of(vault: Path, state_file: Path) -> dict[str, Any]:
    """What ``obsync status`` reports, as data."""
    from obsync.lock import holder
    from obsync.scan import open_conflicts
    from obsync.state import StateStore

    state = StateStore(state_file).load()
    pid = holder(state_file)
    last = json.loads(state.meta.get("last_report", "null")) or {}
    kinds = [kind for kind, _key in state.records]
    return {
        "vault": str(vault),
        "daemon": {"running": pid is not None, "pid": pid or None},
        "last_sync": state.meta.get("last_sync"),
        "annotations": kinds.count("annotation"),
        "sources": kinds.count("source"),
        "last_run": {k: last[k] for k in ("annotations", "sources", "files") if k in last},
        "conflicts": [
            {"note": str(c.note), "copy": str(c.copy), "key": c.key} for c in open_conflicts(vault)
        ],
        "errors": last.get("errors", []),
        "zotero": {  # the Web API's libraries: the version fetched, and the vault's
            library: {"version": version, "synced": synced}
            for library, (version, synced) in (
                StateStore(state_file).zotero_versions() if state_file.exists() else {}
            ).items()
        },
    }


def cmd_status(args: argparse.Namespace) -> int:
    from obsync.config import resolve_state

    vault, state_file = resolve_state(config_path=args.config, vault=args.vault)
    status = status_of(vault, state_file)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    print("\n".join(status_lines(vault, status)))
    return 0


def status_lines(vault: Path, status: dict[str, Any]) -> list[str]:
    """``obsync status`` as text."""
    daemon = status["daemon"]
    running = f"running (pid {daemon['pid']})" if daemon["running"] else "not running"
    lines = [
        f"vault:       {vault}",
        f"daemon:      {running}",
        f"last sync:   {status['last_sync'] or 'never'}",
        f"notes:       {status['annotations']} annotations, {status['sources']} sources",
    ]
    run = status["last_run"].get("annotations")
    if run:
        lines.append(
            f"last run:    {run['created']} created, {run['updated']} updated, "
            f"{run['removed']} marked removed, {run['conflicts']} conflicts"
        )
    for library, versions in status["zotero"].items():
        behind = "" if versions["synced"] == versions["version"] else ", not yet in the vault"
        lines.append(f"zotero:      {library} at version {versions['version']}{behind}")
    lines.append(f"conflicts:   {len(status['conflicts'])}")
    lines += [f"  {c['note']}  (new version: {c['copy']})" for c in status["conflicts"]]
    lines.append(f"errors:      {len(status['errors'])}")
    for error in status["errors"]:
        name = printable(error["file"])
        where = f"{name}:{error['line']}" if error["line"] else name
        lines.append(f"  {where}: {printable(error['message'])}")
    return lines


def _service_config(explicit: Path | None) -> Path | None:
    """The config a service runs with, absolute: ``--config``, else the one obsync finds
    now when it is not where the service would look by itself (``$OBSYNC_CONFIG``)."""
    import os

    from obsync.config import default_config_path, find_config

    found = find_config(explicit, os.environ)
    if found is None:
        return None
    found = found.expanduser().absolute()
    if found == default_config_path(os.environ).absolute():
        return None
    return found


def cmd_service(args: argparse.Namespace) -> int:
    import os

    from obsync import service
    from obsync.config import resolve, resolve_state

    host = service.Host.current()
    config = _service_config(args.config)
    if args.action == "install":
        resolve(config_path=config, export=None, vault=None)  # a config the service can run
        done = service.install(host, config, force=args.force)
    elif args.action == "uninstall":
        done = service.uninstall(host, config, force=args.force)
    else:
        lines = service.status(host, config).lines()
        try:
            vault, state_file = resolve_state(config_path=config, vault=None, env=os.environ)
        except ObsyncError as exc:
            lines.append(f"last sync:   unknown ({exc.message})")
        else:
            lines += status_lines(vault, status_of(vault, state_file))
        done = service.Outcome(lines)
    if not args.quiet or args.action == "status":
        print("\n".join(printable(line) for line in done.lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    configure_logging(-1 if args.quiet else args.verbose + getattr(args, "verbosity", 0))
    try:
        return int(args.handler(args))
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
