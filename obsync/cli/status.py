"""``obsync status``: the last sync, counts, open conflicts, errors, the daemon."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from obsync.model import printable
from obsync.platform.lock import holder
from obsync.settings.config import resolve_state
from obsync.sync.report import annotation_counts
from obsync.sync.state import StateStore
from obsync.vault.read import open_conflicts


def status_of(vault: Path, state_file: Path) -> dict[str, Any]:
    """What ``obsync status`` reports, as data."""

    with StateStore(state_file) as store:
        meta = store.load_meta() or {}
        counts = store.count()
        versions = store.zotero_versions() if state_file.exists() else {}
    pid = holder(state_file)
    last = json.loads(meta.get("last_report", "null")) or {}
    return {
        "vault": str(vault),
        "daemon": {"running": pid is not None, "pid": pid or None},
        "last_sync": meta.get("last_sync"),
        "annotations": counts.get("annotation", 0),
        "sources": counts.get("source", 0),
        "last_run": {k: last[k] for k in ("annotations", "sources", "files") if k in last},
        "conflicts": [
            {"note": str(c.note), "copy": str(c.copy), "key": c.key} for c in open_conflicts(vault)
        ],
        "errors": last.get("errors", []),
        "zotero": {  # the Web API's libraries: the version fetched, and the vault's
            library: {"version": version, "synced": synced}
            for library, (version, synced) in versions.items()
        },
    }


def run(args: argparse.Namespace) -> int:
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
        lines.append(f"last run:    {annotation_counts(run, unchanged=False)}")
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
