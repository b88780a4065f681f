"""The Web API client (obsync/zotero/api.py) against the fake server: a polite client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from obsync.errors import ObsyncError
from obsync.zotero.api import Unreachable, ZoteroApi
from obsync.zotero.settings import Secret
from tests.zotero_server import KEY, FakeZotero, annotation, serve

USER = "users/8071752"


@pytest.fixture
def fake() -> Iterator[FakeZotero]:
    yield from serve(FakeZotero())


class Clock:
    """A clock that moves only when the client waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def client(fake: FakeZotero, clock: Clock, key: str = KEY) -> ZoteroApi:
    return ZoteroApi(fake.url, Secret(key), sleep=clock.sleep, clock=lambda: clock.now)


def test_every_request_says_version_3_and_carries_the_key_in_its_header_only(
    fake: FakeZotero,
) -> None:
    fake.library(USER).put(annotation("HLONE111", "PDFAAAAA"))
    with client(fake, Clock()) as api:
        list(api.pages(f"/{USER}/items", {"format": "json"}))
        assert api.user_id() == USER
    assert len(fake.requests) == 2
    for request in fake.requests:
        assert request.headers["zotero-api-version"] == "3"
        assert request.headers["zotero-api-key"] == KEY
        assert KEY not in request.path + repr(request.query)


def test_a_backoff_header_holds_the_next_request_back(fake: FakeZotero) -> None:
    fake.library(USER).put(annotation("HLONE111", "PDFAAAAA"))
    fake.also["Backoff"] = "30"
    clock = Clock()
    with client(fake, clock) as api:
        api.get(f"/{USER}/items")
        assert clock.waits == []
        clock.now += 10  # 10 s later: 20 s of the back-off are left
        api.get(f"/{USER}/items")
    assert clock.waits == [20.0]


def test_network_errors_back_off_exponentially_then_the_server_is_unreachable() -> None:
    clock = Clock()
    api = ZoteroApi("http://127.0.0.1:9", Secret(KEY), sleep=clock.sleep, attempts=5)
    with api, pytest.raises(Unreachable, match="cannot reach the server"):
        api.get(f"/{USER}/items")
    assert clock.waits == [1.0, 2.0, 4.0, 8.0]
    assert api.requests == 5


def test_a_redirect_is_not_followed_so_the_key_goes_nowhere_else(fake: FakeZotero) -> None:
    fake.fail.append((302, {"Location": "http://127.0.0.2:9/elsewhere"}))
    with client(fake, Clock()) as api, pytest.raises(Unreachable, match="answered 302"):
        api.get(f"/{USER}/items")
    assert len(fake.requests) == 1


def test_pages_follow_total_results_and_the_link_header(fake: FakeZotero) -> None:
    fake.library(USER).put(*[annotation(f"HL{n:06d}", "PDFAAAAA") for n in range(230)])
    with client(fake, Clock()) as api:
        pages = list(api.pages(f"/{USER}/items", {"format": "json"}))
    assert [len(p.body) for p in pages] == [100, 100, 30]
    assert [p.more for p in pages] == [True, True, False]
    assert {p.version for p in pages} == {fake.library(USER).version}


def test_a_refused_key_and_an_unknown_library_are_one_line_each(fake: FakeZotero) -> None:
    fake.library(USER)
    wrong = client(fake, Clock(), key="WrongKey1234567890abcdef")
    with wrong as api, pytest.raises(ObsyncError) as refused:
        api.get(f"/{USER}/items")
    assert "refused the API key for users/8071752 (403)" in refused.value.message
    assert "WrongKey" not in refused.value.message
    with client(fake, Clock()) as api, pytest.raises(ObsyncError, match="no library groups/1"):
        api.get("/groups/1/items")
