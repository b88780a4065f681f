"""The sd_notify protocol: tell systemd we are ready, how we are, and that we are alive.

A datagram to ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace); no
dependency needed. Without the variable every call does nothing (so nothing at all happens
under launchd on macOS). Python makes every socket close-on-exec itself (PEP 446), so no
Linux-only SOCK_CLOEXEC is asked for.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        address = environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and mine else None

    def send(self, *fields: str, wait: float = 1.0) -> None:
        """Send one message; with a full queue (a listener that does not read), wait at
        most ``wait`` seconds, then drop it: a daemon must never hang on sd_notify."""
        if not self.address:
            return
        message = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                if wait > 0:
                    sock.settimeout(wait)
                    sock.send(message)
                else:
                    sock.send(message, socket.MSG_DONTWAIT)
        except OSError as exc:  # a time-out or BlockingIOError included
            log.debug("sd_notify to %r failed: %s", self.address, exc)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}", wait=0)  # a status dropped is replaced by the next

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")
