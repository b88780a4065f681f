"""The streaming API (obsync/zotero/stream.py) against a local WebSocket server."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from obsync.daemon.loop import watchdog_daemon
from obsync.settings.config import resolve
from obsync.zotero.settings import Secret, ZoteroSettings
from obsync.zotero.stream import Stream
from tests.test_cli_run import wait_for
from tests.zotero_server import KEY, FakeZotero, annotation, attachment, paper
from tests.zotero_server import serve as serve_api
from tests.zotero_setup import write_config


@dataclass
class FakeStream:
    """Speaks as stream.zotero.org does; ``push`` sends an event to every client.

    The shapes are Zotero's stream-server's (github.com/zotero/stream-server): server.js
    sends ``{"event": "connected", "retry": ms}`` on connecting (``retryTime`` 10 s in its
    config/default.js, so 10000) and answers ``createSubscriptions`` with
    ``subscriptionsCreated`` (``subscriptions``, ``errors``); an error ends the connection
    with a close frame, code 4000 + the HTTP status and a one-line reason (utils.js
    ``wsEnd``): a key the API refuses is 4403 "Invalid API key" (zotero_api.js
    ``getKeyInfo``; test/server_test.js "should reject unknown API keys").
    """

    retry: int = 50  # ms: short, so that tests do not wait the real server's 10 s
    refuse: tuple[int, str] | None = None  # close (code, reason) after createSubscriptions
    subscriptions: list[dict[str, object]] = field(default_factory=list)
    clients: queue.Queue[ServerConnection] = field(default_factory=queue.Queue)
    opened: queue.Queue[float] = field(default_factory=queue.Queue)  # when each connected
    url: str = ""

    def handler(self, ws: ServerConnection) -> None:
        self.opened.put(time.monotonic())
        ws.send(json.dumps({"event": "connected", "retry": self.retry}))
        message = json.loads(ws.recv(timeout=10))
        assert message["action"] == "createSubscriptions"
        self.subscriptions += message["subscriptions"]
        if self.refuse is not None:
            ws.close(*self.refuse)
            return
        topics = message["subscriptions"][0].get("topics", [])
        ws.send(json.dumps({"event": "subscriptionsCreated",
                            "subscriptions": [{"apiKey": KEY, "topics": topics}], "errors": []}))  # fmt: skip
        self.clients.put(ws)
        try:
            for _ in ws:
                pass
        except Exception:
            pass


@pytest.fixture
def fake_stream() -> Iterator[FakeStream]:
    fake = FakeStream()
    quiet = logging.getLogger("fake-stream-server")  # its own log would show what it echoes
    quiet.setLevel(logging.CRITICAL)  # (caplog listens to loggers that do not propagate too)
    server: Server = serve(fake.handler, "127.0.0.1", 0, logger=quiet)
    fake.url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()


def test_a_sync_on_connect_on_topic_updated_and_after_a_reconnect(
    fake_stream: FakeStream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # websockets logs frames at debug level: not the key's
    settings = ZoteroSettings(
        key=Secret(KEY), libraries=("users/8071752", "groups/5477470"), stream_url=fake_stream.url
    )
    syncs: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    stream = Stream(settings, lambda: syncs.put("sync"), stop, first_wait=0.05)
    stream.start()
    try:
        ws = fake_stream.clients.get(timeout=10)
        assert syncs.get(timeout=10) == "sync"  # on connect: what changed while down
        assert fake_stream.subscriptions == [
            {"apiKey": KEY, "topics": ["/users/8071752", "/groups/5477470"]}
        ]
        ws.send(json.dumps({"event": "topicUpdated", "topic": "/groups/5477470", "version": 7}))
        assert syncs.get(timeout=10) == "sync"
        ws.send(json.dumps({"event": "topicUpdated", "topic": "/groups/1", "version": 7}))
        ws.close()  # the stream drops: obsync connects again and syncs once more
        again = fake_stream.clients.get(timeout=10)
        assert again is not ws
        assert syncs.get(timeout=10) == "sync"
        assert syncs.empty()  # the other library's update asked for nothing
    finally:
        stop.set()
        assert stream.thread is not None
        stream.thread.join(timeout=10)
    assert not stream.thread.is_alive()
    assert "Zotero stream: connected" in caplog.text
    assert KEY not in caplog.text


def test_while_the_stream_is_down_it_polls() -> None:
    settings = ZoteroSettings(key=Secret(KEY), stream_url="ws://127.0.0.1:9")
    syncs: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    stream = Stream(settings, lambda: syncs.put("poll"), stop, poll=0.05, first_wait=0.2)
    stream.start()
    try:
        assert syncs.get(timeout=10) == "poll"
        assert syncs.get(timeout=10) == "poll"
        assert not stream.connected.is_set()
    finally:
        stop.set()
        assert stream.thread is not None
        stream.thread.join(timeout=10)


def waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The waits before connecting again that the stream's log lines announced."""
    found = (re.search(r"connecting again in ([0-9.]+) s", r.getMessage()) for r in caplog.records)
    return [float(match[1]) for match in found if match]


def stopped(stream: Stream) -> None:
    stream.stop.set()
    assert stream.thread is not None
    stream.thread.join(timeout=10)
    assert not stream.thread.is_alive()


def test_a_connection_that_lived_starts_the_back_off_anew(
    fake_stream: FakeStream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake_stream.retry = 1  # below first_wait: first_wait is the base
    syncs: queue.Queue[str] = queue.Queue()
    settings = ZoteroSettings(key=Secret(KEY), stream_url=fake_stream.url)
    stream = Stream(settings, lambda: syncs.put("sync"), threading.Event(),
                    first_wait=0.2, max_wait=60)  # fmt: skip
    stream.start()
    try:
        for _ in range(3):  # subscribed, then dropped: three times
            ws = fake_stream.clients.get(timeout=10)
            assert syncs.get(timeout=10) == "sync"
            ws.close()
        fake_stream.clients.get(timeout=10)
    finally:
        stopped(stream)
    assert waits(caplog) == [0.2, 0.2, 0.2]  # not 0.2, 0.4, 0.8: each connection had lived
    assert "the stream closed it (code 1000" in caplog.text


def test_the_servers_retry_is_the_least_wait_before_connecting_again(
    fake_stream: FakeStream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake_stream.retry = 400  # ms, as stream.zotero.org's 10000
    syncs: queue.Queue[str] = queue.Queue()
    settings = ZoteroSettings(key=Secret(KEY), stream_url=fake_stream.url)
    stream = Stream(settings, lambda: syncs.put("sync"), threading.Event(), first_wait=0.01)
    stream.start()
    try:
        ws = fake_stream.clients.get(timeout=10)
        assert syncs.get(timeout=10) == "sync"
        fake_stream.opened.get(timeout=10)
        dropped = time.monotonic()
        ws.close()
        again = fake_stream.opened.get(timeout=10)
    finally:
        stopped(stream)
    assert again - dropped >= 0.4
    assert waits(caplog) == [0.4]


@pytest.mark.parametrize(
    ("retry", "seconds"), [(10000, 10.0), (2500.5, 2.5005), (None, 3.0), ("10000", 3.0),
                           (True, 3.0), (-1, 3.0), (float("nan"), 3.0)],
)  # fmt: skip
def test_a_retry_that_is_not_a_wait_keeps_the_one_before(retry: object, seconds: float) -> None:
    stream = Stream(ZoteroSettings(key=Secret(KEY)), lambda: None, threading.Event())
    stream.retry = 3.0
    stream.handle({"event": "connected", "retry": retry}, set())
    assert stream.retry == seconds


@pytest.mark.parametrize(
    ("source", "named"),
    [("", "the API key"),
     ("$OBSYNC_ZOTERO_API_KEY", "the API key (from $OBSYNC_ZOTERO_API_KEY)"),
     ("/etc/obsync/zotero-key", "the API key (from /etc/obsync/zotero-key)")],
)  # fmt: skip
def test_a_refused_key_is_one_warning_naming_it_and_a_slow_reconnect(
    fake_stream: FakeStream, caplog: pytest.LogCaptureFixture, source: str, named: str
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_stream.refuse = (4403, "Invalid API key")  # what stream-server closes with
    settings = ZoteroSettings(key=Secret(KEY, source), stream_url=fake_stream.url)
    stream = Stream(settings, lambda: None, threading.Event(), first_wait=0.01, max_wait=30)
    stream.start()
    try:
        wait_for(lambda: bool(waits(caplog)))
        fake_stream.opened.get(timeout=10)
        with pytest.raises(queue.Empty):  # not again at once: it waits max_wait
            fake_stream.opened.get(timeout=0.5)
    finally:
        stopped(stream)
    ours = [r for r in caplog.records if r.name == "obsync.zotero.stream"]
    assert [r.levelno for r in ours] == [logging.WARNING]
    message = ours[0].getMessage()
    assert f"the stream refused {named}:" in message
    assert "code 4403" in message and "Invalid API key" in message
    assert waits(caplog) == [30]
    assert KEY not in caplog.text


def test_every_close_logs_its_code_and_reason_but_never_the_key(
    fake_stream: FakeStream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_stream.refuse = (4400, f"Subscription for {KEY} is wrong")  # a server echoing it
    settings = ZoteroSettings(key=Secret(KEY), stream_url=fake_stream.url)
    stream = Stream(settings, lambda: None, threading.Event(), first_wait=0.01)
    stream.start()
    try:
        wait_for(lambda: bool(waits(caplog)))
    finally:
        stopped(stream)
    assert "the stream closed it (code 4400, reason 'Subscription for ******** is wrong')" in (
        caplog.text
    )
    assert KEY not in caplog.text


@pytest.fixture
def fake_api() -> Iterator[FakeZotero]:
    yield from serve_api(FakeZotero())


def test_obsync_run_writes_an_annotation_announced_by_the_stream(
    tmp_path: Path, fake_stream: FakeStream, fake_api: FakeZotero
) -> None:
    library = fake_api.library("users/8071752")
    library.put(paper("PAPERAAA", "A paper"), attachment("PDFAAAAA", "PAPERAAA"),
                annotation("HLONE111", "PDFAAAAA"))  # fmt: skip
    config = write_config(tmp_path, fake_api, stream_url=fake_stream.url)
    daemon = watchdog_daemon(resolve(config_path=config, export=None, vault=None))
    daemon.debounce = 0.05
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    notes = tmp_path / "vault" / "Zotero" / "Annotations"
    try:
        wait_for(lambda: len(list(notes.rglob("*.md"))) == 1)
        ws = fake_stream.clients.get(timeout=10)
        library.put(annotation("HLTWO222", "PDFAAAAA", text="from the tablet"))
        ws.send(json.dumps({"event": "topicUpdated", "topic": "/users/8071752",
                            "version": library.version}))  # fmt: skip
        wait_for(lambda: len(list(notes.rglob("*.md"))) == 2)
    finally:
        daemon.stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
