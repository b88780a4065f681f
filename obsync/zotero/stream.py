"""Zotero's streaming API for ``obsync run``: a sync within seconds of a change.

One WebSocket to the stream server; one ``createSubscriptions`` with the key (its
libraries as topics, or, with none configured, every library the key reaches). Each
``topicUpdated`` of a library asks for a sync, as does every (re)connect, since
changes made while the stream was down were not announced. A dropped stream is
opened again with exponential back-off; while it is down, a sync is asked for every
``poll`` seconds (a 304 when nothing changed). The stream only says *when* to sync:
the sync reads the API as ``obsync sync`` does.

websockets' own logger would write the frames, key included, at debug level: it is
given one that writes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from obsync.zotero.settings import ZoteroSettings

log = logging.getLogger(__name__)

_FRAMES = logging.getLogger("obsync-websocket-frames")  # never configured: writes nothing
_FRAMES.propagate = False
_FRAMES.setLevel(logging.CRITICAL)


@dataclass(slots=True)
class Stream:
    settings: ZoteroSettings
    sync: Callable[[], None]  # asks the daemon for a sync; never blocks
    stop: threading.Event
    poll: float = 300.0
    first_wait: float = 1.0
    max_wait: float = 300.0
    connected: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="zotero-stream", daemon=True)
        self.thread.start()

    def topics(self) -> list[str]:
        return [f"/{library}" for library in self.settings.libraries]

    def run(self) -> None:
        wait = self.first_wait
        next_poll = time.monotonic() + self.poll
        while not self.stop.is_set():
            try:
                with connect(
                    self.settings.stream_url, open_timeout=10, close_timeout=2,
                    logger=_FRAMES, proxy=None,
                ) as ws:  # fmt: skip
                    self.listen(ws)
                    wait = self.first_wait  # it was up: the next drop starts the back-off anew
            except (OSError, WebSocketException, ValueError, TimeoutError) as exc:
                if self.stop.is_set():
                    break  # closed because obsync stops
                log.info("Zotero stream: %s; polling, and connecting again in %.0f s",
                         _why(exc), wait)  # fmt: skip
            self.connected.clear()
            deadline = time.monotonic() + wait
            while not self.stop.is_set() and (now := time.monotonic()) < deadline:
                if now >= next_poll:
                    self.sync()
                    next_poll = now + self.poll
                self.stop.wait(min(deadline, next_poll) - now)
            wait = min(wait * 2, self.max_wait)

    def listen(self, ws: ClientConnection) -> None:
        """Subscribe, ask for a sync, then one more for every change announced."""
        subscription: dict[str, object] = {"apiKey": self.settings.key.reveal()}
        if topics := self.topics():
            subscription["topics"] = topics
        ws.send(json.dumps({"action": "createSubscriptions", "subscriptions": [subscription]}))
        ours = set(topics)
        while not self.stop.is_set():
            try:
                raw = ws.recv(timeout=1.0)
            except TimeoutError:
                continue
            event = json.loads(raw)
            if not isinstance(event, dict):
                continue
            kind = event.get("event")
            if kind == "subscriptionsCreated":
                for error in event.get("errors") or []:
                    topic = error.get("topic") if isinstance(error, dict) else None
                    log.warning("Zotero stream: no subscription to %s", topic or "the key")
                self.connected.set()
                log.info("Zotero stream: connected")
                self.sync()  # what changed while the stream was down
            elif kind == "topicUpdated" and (not ours or event.get("topic") in ours):
                log.debug("Zotero stream: %s changed (version %s)",
                          event.get("topic"), event.get("version"))  # fmt: skip
                self.sync()
            elif kind in ("topicAdded", "topicRemoved"):
                self.sync()


def _why(exc: BaseException) -> str:
    """What went wrong, in words that hold no frame (frames hold the key)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot reach the stream ({exc.strerror})"
    if isinstance(exc, json.JSONDecodeError):
        return "the stream sent something that is not JSON"
    return f"the stream closed ({type(exc).__name__})"


def start(settings: ZoteroSettings, sync: Callable[[], None], stop: threading.Event) -> Stream:
    stream = Stream(settings, sync, stop)
    stream.start()
    return stream
