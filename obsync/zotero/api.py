"""A polite client of Zotero's Web API v3: versions, pages, back-off.

Every request says ``Zotero-API-Version: 3`` and carries the key in the
``Zotero-API-Key`` header only (never in a URL, never in a message). A ``Backoff``
header holds the next request back that many seconds; 429 and 503 are retried after
``Retry-After``; network errors are retried with exponential back-off, then the
server counts as unreachable (:class:`Unreachable`). One client makes one request at
a time, and a sync keeps one client per library.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from obsync.errors import ObsyncError
from obsync.zotero.settings import Secret

if TYPE_CHECKING:
    import httpx  # imported when a client is made: a sync without [zotero] never loads it

log = logging.getLogger(__name__)

PAGE = 100  # the most items the API serves at once
KEYS_PER_REQUEST = 50  # the most keys one itemKey= names
TIMEOUT = 30.0  # seconds for an answer (10 to connect)


def wait(seconds: float) -> None:
    """How the client waits (a back-off); the tests count the waits instead."""
    time.sleep(seconds)


class Unreachable(Exception):
    """The server could not be reached, or kept failing: the next sync catches up."""


class VersionGone(Exception):
    """``since`` is older than the server remembers deletions for (409): start from 0."""


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    version: int | None  # Last-Modified-Version
    body: Any
    more: bool  # another page follows


class ZoteroApi:
    """Requests to one API server with one key."""

    def __init__(
        self,
        base_url: str,
        key: Secret,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        attempts: int = 4,
        first_wait: float = 1.0,
        max_wait: float = 300.0,
    ) -> None:
        import httpx

        headers = {"Zotero-API-Version": "3", "Zotero-API-Key": key.reveal()}
        self._client = httpx.Client(
            base_url=base_url, headers=headers, timeout=httpx.Timeout(TIMEOUT, connect=10.0),
            follow_redirects=False, trust_env=False,
        )  # fmt: skip
        self.sleep = sleep or (lambda seconds: wait(seconds))  # looked up at each call
        self.clock = clock
        self.attempts = attempts
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.not_before = 0.0  # a Backoff header's wait
        self.requests = 0  # made, for the tests and the log

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ZoteroApi:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(
        self, path: str, params: Mapping[str, str | int] | None = None, since: int | None = None
    ) -> httpx.Response:
        """A GET, retried as the server asks; 403 is the key refused (one line, exit 2)."""
        import httpx

        headers = {"If-Modified-Since-Version": str(since)} if since else {}
        backoff = self.first_wait  # the next wait after a network error
        for attempt in range(1, self.attempts + 1):
            self._hold_back()
            self.requests += 1
            try:
                response = self._client.get(path, params=params, headers=headers)
            except httpx.TransportError as exc:
                if attempt == self.attempts:
                    raise Unreachable(_why(exc)) from None
                log.info("Zotero API: %s; trying again in %.1f s", _why(exc), backoff)
                self.sleep(backoff)
                backoff = min(backoff * 2, self.max_wait)
                continue
            self._note_backoff(response)
            if response.status_code in (429, 503) or response.status_code >= 500:
                retry = _seconds(response.headers.get("Retry-After"))
                pause = retry if retry is not None else backoff
                if attempt == self.attempts:
                    raise Unreachable(f"the server answered {response.status_code}")
                log.info("Zotero API answered %d; trying again in %.1f s",
                         response.status_code, pause)  # fmt: skip
                self.sleep(min(pause, self.max_wait))
                backoff = min(backoff * 2, self.max_wait)
                continue
            _check(response, path)
            return response
        raise Unreachable("no answer")  # pragma: no cover (the loop returns or raises)

    def _hold_back(self) -> None:
        """Wait out a ``Backoff`` the server asked for."""
        if (left := self.not_before - self.clock()) > 0:
            log.info("Zotero API asked to back off; waiting %.1f s", left)
            self.sleep(left)

    def _note_backoff(self, response: httpx.Response) -> None:
        seconds = _seconds(response.headers.get("Backoff"))
        if seconds is not None:
            self.not_before = self.clock() + min(seconds, self.max_wait)

    def pages(
        self, path: str, params: Mapping[str, str | int], since: int | None = None
    ) -> Iterator[Page]:
        """Every page of a listing (``start``, ``limit``); the first may be a 304."""
        start = 0
        while True:
            response = self.get(path, {**params, "limit": PAGE, "start": start}, since)
            version = _version(response)
            if response.status_code == 304:
                yield Page(304, version, [], False)
                return
            try:
                body = response.json()
            except ValueError:
                raise Unreachable("the server's answer is not JSON") from None
            count = len(body) if isinstance(body, list) else 0
            total = _seconds(response.headers.get("Total-Results"))
            more = count > 0 and (
                "next" in response.links or (total is not None and start + count < total)
            )
            yield Page(response.status_code, version, body, more)
            if not more:
                return
            start += count
            since = None  # only the first page asks whether anything changed

    def user_id(self) -> str:
        """The key's own user (``/keys/current``); the answer also holds the key: only the
        id is kept."""
        response = self.get("/keys/current")
        body = response.json()
        user = body.get("userID") if isinstance(body, dict) else None
        if not isinstance(user, int):
            raise Unreachable("the key's user could not be read")
        return f"users/{user}"


def _why(exc: httpx.TransportError) -> str:
    """A network error in words, with no request in it."""
    text = str(exc).strip() or type(exc).__name__
    return f"cannot reach the server ({text})"


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _version(response: httpx.Response) -> int | None:
    value = response.headers.get("Last-Modified-Version", "")
    return int(value) if value.isdigit() else None


def _check(response: httpx.Response, path: str) -> None:
    status = response.status_code
    if status in (200, 304):
        return
    if status == 409:
        raise VersionGone()
    library = "/".join(path.strip("/").split("/")[:2])
    if status == 403:
        raise ObsyncError(
            f"Zotero refused the API key for {library} (403): check on zotero.org/settings/keys "
            "that it exists and may read this library"
        )
    if status == 404:
        raise ObsyncError(f"Zotero has no library {library} (404): check 'library' in [zotero]")
    raise Unreachable(f"the server answered {status} for {library}")
