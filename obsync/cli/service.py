"""``obsync service install|uninstall|status``: obsync as a user service."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from obsync.cli.status import status_lines, status_of
from obsync.errors import ObsyncError
from obsync.model import printable
from obsync.platform import service
from obsync.settings.config import default_config_path, find_config, resolve, resolve_state


def _service_config(explicit: Path | None) -> Path | None:
    """The config a service runs with, absolute: ``--config``, else the one obsync finds
    now when it is not where the service would look by itself (``$OBSYNC_CONFIG``)."""

    found = find_config(explicit, os.environ)
    if found is None:
        return None
    found = found.expanduser().absolute()
    if found == default_config_path(os.environ).absolute():
        return None
    return found


def run(args: argparse.Namespace) -> int:
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
