"""``obsync init``: write a commented config file, then say what to do next."""

from __future__ import annotations

import argparse
import logging
import os
import shlex

from obsync.model import printable
from obsync.settings.starter import init_target, write_config

log = logging.getLogger("obsync")


def run(args: argparse.Namespace) -> int:

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
