"""``obsync sync``: sync once and exit."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from obsync.platform.lock import exclusive
from obsync.progress import Progress
from obsync.settings.config import resolve
from obsync.sync import Request, run_sync
from obsync.sync.report import describe


def run(args: argparse.Namespace) -> int:

    settings = resolve(config_path=args.config, export=args.export, vault=args.vault)
    with contextlib.ExitStack() as stack:
        progress: Progress | None = None
        if sys.stderr.isatty() and not (args.quiet or args.json):
            from obsync.progress import TerminalBar

            progress = stack.enter_context(TerminalBar())  # draws nothing until work is done
        if not args.dry_run:
            stack.enter_context(exclusive(settings.state_file, settings.vault))
        request = Request(full=args.full, restore_deleted=args.restore_deleted,
                          dry_run=args.dry_run)  # fmt: skip
        report = run_sync(settings, request, progress=progress)
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
