"""``obsync run``: sync, then watch the export folder and keep syncing until stopped."""

from __future__ import annotations

import argparse
import logging
import signal

from obsync.daemon.loop import watchdog_daemon
from obsync.platform.lock import exclusive
from obsync.settings.config import resolve

log = logging.getLogger("obsync")


def run(args: argparse.Namespace) -> int:

    settings = resolve(config_path=args.config, export=args.export, vault=args.vault)
    with exclusive(settings.state_file, settings.vault):
        daemon = watchdog_daemon(settings)

        def stop(signum: int, _frame: object) -> None:
            log.info("received %s: finishing the note in hand", signal.Signals(signum).name)
            daemon.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        return daemon.run()
