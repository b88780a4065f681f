"""Zotero's streaming API for ``obsync run``: a sync within seconds of a change.

One WebSocket to the stream server; one ``createSubscriptions`` with the key (its
libraries as topics, or, with none configured, every library the key reaches). Each
``topicUpdated`` of a library asks for a sync, as does every (re)connect, since
changes made while the stream was down were not announced. A dropped stream is
opened again with exponential back-off from the server's ``retry`` (or ``first_wait``,
if longer), anew after a connection that was subscribed; a key the stream refuses
(close code 4403) waits the longest. While the stream is down, a sync is asked for
every ``poll`` seconds (a 304 when nothing changed). The stream only says *when* to
sync: the sync reads the API as ``obsync sync`` does.

websockets' own logger would write the frames, key included, at debug level: it is
given one that writes nothing.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection, connect

from obsync.zotero.settings import ZoteroSettings

log = logging.getLogger(__name__)

_FRAMES = logging.getLogger("obsync-websocket-frames")  # never configured: writes nothing
_FRAMES.propagate = False
_FRAMES.setLevel(logging.CRITICAL)

# stream-server closes with 4000 + an HTTP status; 403 when the API refused the key
# (its zotero_api.js getKeyInfo, utils.js wsEnd: code 4403, reason "Invalid API key").
REFUSED = 4403


@dataclass(frozen=True, slots=True)
class Ended:
    """How one connection ended, in words without the key, and what the back-off needs."""

    why: str
    subscribed: bool = False  # it lived: ``subscriptionsCreated`` came
    refused: bool = False  # the stream refused the key


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
    retry: float = 0.0  # seconds: the server's least wait (``retry`` in ``connected``)
    failures: int = 0  # connections in a row that ended before they were subscribed

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="zotero-stream", daemon=True)
        self.thread.start()

    def topics(self) -> list[str]:
        return [f"/{library}" for library in self.settings.libraries]

    def run(self) -> None:
        next_poll = time.monotonic() + self.poll
        while not self.stop.is_set():
            ended = self.attempt()
            if self.stop.is_set():
                break  # closed because obsync stops
            self.connected.clear()
            wait = self.backoff(ended)
            self.report(ended, wait)
            next_poll = self.pause(wait, next_poll)

    def attempt(self) -> Ended:
        """One connection, from connecting to its end."""
        try:
            with connect(
                self.settings.stream_url, open_timeout=10, close_timeout=2,
                logger=_FRAMES, proxy=None,
            ) as ws:  # fmt: skip
                self.listen(ws)  # returns only once obsync stops
        except ConnectionClosed as exc:
            return self.closed(exc)
        except (OSError, WebSocketException, ValueError, TimeoutError) as exc:
            return Ended(_why(exc), subscribed=self.connected.is_set())
        return Ended("obsync stops")

    def closed(self, exc: ConnectionClosed) -> Ended:
        """The close frame's code and reason (the key, were it there, masked)."""
        frame, by = (exc.rcvd, "the stream") if exc.rcvd is not None else (exc.sent, "obsync")
        if frame is None:
            return Ended("the connection was cut (no close frame)", self.connected.is_set())
        reason = _masked(frame.reason, self.settings.key.reveal())
        why = f"{by} closed it (code {frame.code}, reason {reason!r})"
        refused = by == "the stream" and frame.code == REFUSED
        return Ended(why, self.connected.is_set(), refused)

    def backoff(self, ended: Ended) -> float:
        """The wait before connecting again: from the base (``first_wait``, or the server's
        ``retry`` if longer), doubled for each connection in a row that did not live;
        the longest after the key was refused, as trying it again soon will not help."""
        if ended.refused:
            return self.max_wait
        if ended.subscribed:
            self.failures = 0
        base = min(max(self.first_wait, self.retry), self.max_wait)
        wait = min(base * 2.0 ** min(self.failures, 32), self.max_wait)
        self.failures += 1
        return wait

    def report(self, ended: Ended, wait: float) -> None:
        then = f"polling, and connecting again in {wait:g} s"
        if ended.refused:
            source = self.settings.key.source
            key = f"the API key (from {source})" if source else "the API key"
            log.warning("Zotero stream: the stream refused %s: %s; a new key is read when "
                        "obsync starts again; %s", key, ended.why, then)  # fmt: skip
        else:
            log.info("Zotero stream: %s; %s", ended.why, then)

    def pause(self, wait: float, next_poll: float) -> float:
        """Wait, asking for a sync every ``poll`` seconds; the next poll's time."""
        deadline = time.monotonic() + wait
        while not self.stop.is_set() and (now := time.monotonic()) < deadline:
            if now >= next_poll:
                self.sync()
                next_poll = now + self.poll
            self.stop.wait(min(deadline, next_poll) - now)
        return next_poll

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
            if isinstance(event, dict):
                self.handle(event, ours)

    def handle(self, event: dict[str, Any], ours: set[str]) -> None:
        """One event from the stream; ``ours``: the topics subscribed to (none: all)."""
        kind = event.get("event")
        if kind == "connected":
            self.retry = _retry(event.get("retry"), self.retry)
        elif kind == "subscriptionsCreated":
            self.subscribed(event.get("errors") or [])
        elif kind == "topicUpdated" and (not ours or event.get("topic") in ours):
            log.debug("Zotero stream: %s changed (version %s)",
                      event.get("topic"), event.get("version"))  # fmt: skip
            self.sync()
        elif kind in ("topicAdded", "topicRemoved"):
            self.sync()

    def subscribed(self, errors: list[Any]) -> None:
        """Connected: a sync for what changed while the stream was down."""
        for error in errors:  # an error names the key too: only its topic is logged
            topic = error.get("topic") if isinstance(error, dict) else None
            log.warning("Zotero stream: no subscription to %s", topic or "the key")
        self.connected.set()
        log.info("Zotero stream: connected")
        self.sync()


def _retry(value: object, before: float) -> float:
    """The server's ``retry`` (milliseconds) in seconds; ``before`` if it is not a wait."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return before
    seconds = float(value) / 1000
    return seconds if math.isfinite(seconds) and seconds >= 0 else before


def _masked(text: str, key: str) -> str:
    """``text`` from the server, the key (were it there) masked."""
    return text.replace(key, "********") if key else text


def _why(exc: BaseException) -> str:
    """What went wrong, in words that hold no frame (frames hold the key)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot reach the stream ({exc.strerror})"
    if isinstance(exc, json.JSONDecodeError):
        return "the stream sent something that is not JSON"
    return f"the stream failed ({type(exc).__name__})"


def start(settings: ZoteroSettings, sync: Callable[[], None], stop: threading.Event) -> Stream:
    stream = Stream(settings, sync, stop)
    stream.start()
    return stream
