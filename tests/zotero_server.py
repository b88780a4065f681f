"""A fake Zotero Web API on 127.0.0.1 for the tests, answering in the real shapes.

Libraries hold items as the API serves them (``key``, ``version``, ``library``,
``links``, ``meta``, ``data``); every change bumps the library's version, as Zotero's
does. ``fail`` queues answers for the next requests (a status with headers, or
``"drop"``: the connection closed mid-answer); ``before`` runs a callable before a
request (a library changing while read). Every request is logged with its headers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KEY = "Ab3dEf6hIj9kLm2nOp5qRs8t"  # what a key looks like: 24 letters and digits


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeLibrary:
    name: str  # users/NNN or groups/NNN
    version: int = 0
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)  # key -> version it was deleted at
    deleted_kept_since: int = 0  # /deleted?since= older than this answers 409

    def put(self, *items: dict[str, Any]) -> None:
        """Add or change items, in one write (one new version)."""
        self.version += 1
        for item in items:
            item["version"] = item["data"]["version"] = self.version
            kind, ident = self.name.split("/")
            item["library"] = {
                "type": "user" if kind == "users" else "group",
                "id": int(ident),
                "name": "testuser",
                "links": {},
            }
            item["links"] = {
                "self": {"href": f"https://api.zotero.org/{self.name}/items/{item['key']}",
                         "type": "application/json"},
            }  # fmt: skip
            self.items[item["key"]] = item
            self.deleted.pop(item["key"], None)

    def delete(self, *keys: str) -> None:
        self.version += 1
        for key in keys:
            del self.items[key]
            self.deleted[key] = self.version

    def trash(self, key: str, trashed: bool = True) -> None:
        item = self.items[key]
        if trashed:
            item["data"]["deleted"] = 1
        else:
            item["data"].pop("deleted", None)
        self.put(item)


def paper(key: str, title: str, summary: str = "Zhao et al.", year: str = "2023") -> dict[str, Any]:
    return {
        "key": key,
        "meta": {"creatorSummary": summary, "parsedDate": year, "numChildren": 1},
        "data": {
            "key": key,
            "itemType": "journalArticle",
            "title": title,
            "creators": [{"creatorType": "author", "firstName": "Wayne Xin", "lastName": "Zhao"}],
            "date": year,
            "tags": [],
            "collections": [],
            "relations": {},
            "dateAdded": "2023-07-12T12:59:16Z",
            "dateModified": "2023-07-12T12:59:30Z",
        },
    }


def attachment(key: str, parent: str | None, title: str = "Full Text PDF") -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": key,
        "itemType": "attachment",
        "linkMode": "imported_file",
        "title": title,
        "contentType": "application/pdf",
        "filename": f"{title}.pdf",
        "tags": [],
        "relations": {},
    }
    if parent is not None:
        data["parentItem"] = parent
    return {"key": key, "meta": {}, "data": data}


def annotation(
    key: str,
    parent: str,
    *,
    kind: str = "highlight",
    text: str = "Language is a prominent ability",
    comment: str = "",
    color: str = "#ffd400",
    page: str = "1",
    page_index: int = 0,
    top: float = 700.0,
) -> dict[str, Any]:
    position = {"pageIndex": page_index, "rects": [[100.0, top - 10, 300.0, top]]}
    data: dict[str, Any] = {
        "key": key,
        "parentItem": parent,
        "itemType": "annotation",
        "annotationType": kind,
        "annotationComment": comment,
        "annotationColor": color,
        "annotationPageLabel": page,
        "annotationSortIndex": f"{page_index:05d}|000100|{int(1000 - top):05d}",
        "annotationPosition": json.dumps(position),
        "tags": [],
        "relations": {},
        "dateAdded": "2023-07-12T12:59:16Z",
        "dateModified": "2023-07-12T12:59:30Z",
    }
    if kind in ("highlight", "underline"):
        data["annotationText"] = text
    return {"key": key, "meta": {}, "data": data}


@dataclass
class FakeZotero:
    """The server: ``url`` to point ``api_url`` at."""

    user_id: int = 8071752
    key: str = field(default=KEY, repr=False)
    libraries: dict[str, FakeLibrary] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    fail: list[tuple[int, dict[str, str]] | str] = field(default_factory=list)
    before: list[Callable[[Request], None]] = field(default_factory=list)
    also: dict[str, str] = field(default_factory=dict)  # headers added to every answer
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def library(self, name: str) -> FakeLibrary:
        return self.libraries.setdefault(name, FakeLibrary(name))

    def answer(self, request: Request) -> tuple[int, dict[str, str], bytes | None]:
        with self.lock:
            self.requests.append(request)
            hooks, self.before[:] = list(self.before), []
        for hook in hooks:
            hook(request)
        with self.lock:
            if self.fail:
                failure = self.fail.pop(0)
                if failure == "drop":
                    return 200, {"Content-Length": "1000"}, None
                assert not isinstance(failure, str)
                status, headers = failure
                return status, headers, b"Rate limited." if status == 429 else b""
        if request.headers.get("zotero-api-key") != self.key:
            return 403, {}, b"Forbidden"
        parts = request.path.strip("/").split("/")
        if parts == ["keys", "current"]:
            body = {"key": self.key, "userID": self.user_id, "username": "testuser",
                    "access": {"user": {"library": True, "files": True}}}  # fmt: skip
            return 200, {}, json.dumps(body).encode()
        name = "/".join(parts[:2])
        if name not in self.libraries:
            return 404, {}, b"Not found"
        library = self.libraries[name]
        head = {"Last-Modified-Version": str(library.version)}
        rest = parts[2:]
        if rest == ["deleted"]:
            since = int(request.query.get("since", "0"))
            if since < library.deleted_kept_since:
                return 409, head, b"since is too old"
            keys = sorted(k for k, v in library.deleted.items() if v > since)
            body = {"collections": [], "searches": [], "items": keys, "tags": [], "settings": []}
            return 200, head, json.dumps(body).encode()
        if rest != ["items"]:
            return 404, head, b"Not found"
        if_since = request.headers.get("if-modified-since-version")
        if if_since is not None and library.version <= int(if_since):
            return 304, head, b""
        return self._items(library, request, head)

    def _items(
        self, library: FakeLibrary, request: Request, head: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        q = request.query
        since = int(q.get("since", "0"))
        chosen = [i for i in library.items.values() if i["version"] > since]
        if q.get("includeTrashed") != "1":
            chosen = [i for i in chosen if not i["data"].get("deleted")]
        if "itemType" in q:
            chosen = [i for i in chosen if i["data"]["itemType"] == q["itemType"]]
        if "itemKey" in q:
            keys = q["itemKey"].split(",")
            assert len(keys) <= 50, "itemKey names at most 50 keys"
            chosen = [i for i in chosen if i["key"] in keys]
        chosen.sort(key=lambda i: (i["version"], i["key"]))
        limit = min(int(q.get("limit", "25")), 100)
        start = int(q.get("start", "0"))
        page = chosen[start : start + limit]
        headers = {**head, "Total-Results": str(len(chosen))}
        base = f"{self.url}/{library.name}/items"
        links = []
        if start + limit < len(chosen):
            links.append(f'<{base}?limit={limit}&start={start + limit}>; rel="next"')
            last = (len(chosen) - 1) // limit * limit
            links.append(f'<{base}?limit={limit}&start={last}>; rel="last"')
        links.append('<https://www.zotero.org/testuser/items>; rel="alternate"')
        headers["Link"] = ", ".join(links)
        return 200, headers, json.dumps(page).encode()

    def count(self, path_part: str = "") -> int:
        return sum(1 for r in self.requests if path_part in r.path)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, body = self.server.fake.answer(Request(split.path, query, headers))
        extra = {**extra, **self.server.fake.also}
        self.send_response(status)
        if body is None:  # a dropped connection: headers promise more than comes
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'[{"key": "AB')
            self.wfile.flush()
            self.close_connection = True
            return
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    fake: FakeZotero
    daemon_threads = True


def serve(fake: FakeZotero) -> Iterator[FakeZotero]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
