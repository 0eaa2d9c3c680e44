"""The published files' fast path (server.services.kept_files) answers exactly as the route.

A plain request for a published file is answered, after the first of its kind, from the kept
status and headers without Flask. A request with a query string always takes the route (and
the route does not read the query string), so ``/dump.ttl?via=route`` is the normal path's
answer to the same request: both must be the same status, headers (Date apart) and body, for
every published file, with and without gzip, ``GET`` and ``HEAD``, plain, ``If-None-Match``
and ``Range``; in-process, and byte for byte over HTTP from gunicorn (which sends the kept
file with ``sendfile``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from kg.manifest import FILES
from server.services.dataset import CHECK_INTERVAL
from server.services.kept_files import KeptFiles
from tests.conftest import LiveServer
from tests.helpers import raw_exchange, undated

#: Served path -> (file name, gzipped variant prebuilt), from the manifest's table of files.
SERVED = {f"/{file.served_as}": (file.name, file.gzipped) for file in FILES if file.served_as}
ENCODINGS = ("", "gzip")
METHODS = ("GET", "HEAD")
#: Conditions: none, the file's own ETag (304), a range (206).
CONDITIONS = ("plain", "etag", "range")
CASES = [
    (path, encoding, method, condition)
    for path in SERVED
    for encoding in ENCODINGS
    for method in METHODS
    for condition in CONDITIONS
]
ROUTE = "?via=route"


def sent_file(dist: Path, path: str, encoding: str) -> Path | None:
    """The file the answer must carry, read from the publication (None: not published)."""
    name, gzipped = SERVED[path]
    chosen = dist / (f"{name}.gz" if gzipped and encoding == "gzip" else name)
    if gzipped and encoding == "gzip" and not chosen.is_file():
        chosen = dist / name
    return chosen if chosen.is_file() else None


def request_headers(dist: Path, path: str, encoding: str, condition: str) -> dict[str, str]:
    headers = {"Accept-Encoding": encoding} if encoding else {}
    file = sent_file(dist, path, encoding)
    if condition == "etag" and file is not None:
        headers["If-None-Match"] = f'"{hashlib.sha256(file.read_bytes()).hexdigest()}"'
    elif condition == "range":
        headers["Range"] = "bytes=2-9"
    return headers


def kept_files(app: Flask) -> KeptFiles:
    kept: KeptFiles = app.extensions["kg_kept_files"]
    return kept


@pytest.mark.parametrize(("path", "encoding", "method", "condition"), CASES)
def test_fast_path_answers_as_the_route(
    app: Flask, sample_dist: Path, path: str, encoding: str, method: str, condition: str
) -> None:
    client = app.test_client()
    headers = request_headers(sample_dist, path, encoding, condition)
    file = sent_file(sample_dist, path, encoding)
    routed = client.open(path + ROUTE, method=method, headers=headers)
    client.open(path, method=method, headers=headers).close()  # the first of its kind: learnt
    hits = kept_files(app).hits
    fast = client.open(path, method=method, headers=headers)
    try:
        replayed = kept_files(app).hits - hits
        assert fast.status == routed.status
        assert undated(fast.headers.items()) == undated(routed.headers.items())
        assert fast.get_data() == routed.get_data()
    finally:
        fast.close()
        routed.close()
    # Only a published file's plain GET/HEAD, or one with its own ETag, is replayed.
    assert replayed == (1 if file is not None and condition != "range" else 0)
    expected = {"plain": 200, "etag": 304, "range": 206}[condition] if file else 404
    assert fast.status_code == expected
    if file is not None and method == "GET" and condition == "plain":
        assert fast.get_data() == file.read_bytes()


def test_other_requests_take_the_route(app: Flask) -> None:
    """Methods, query strings, odd hosts and bodies are the application's to answer."""
    client = app.test_client()
    client.get("/dump.ttl").close()
    hits = kept_files(app).hits
    answers = [
        client.options("/dump.ttl"),
        client.post("/dump.ttl"),
        client.get("/dump.ttl?x=1"),
        client.get("/dump.ttl", headers={"Host": "bad host"}),
        client.get("/dump.ttl", headers={"If-Modified-Since": "Thu, 01 Jan 2099 00:00:00 GMT"}),
        client.get("/dump.ttl", headers={"If-None-Match": '"not-this-one"'}),
        client.get("/dump.ttl", data=b"a=1", content_type="application/x-www-form-urlencoded"),
    ]
    statuses = [answer.status_code for answer in answers]
    for answer in answers:
        answer.close()
    assert kept_files(app).hits == hits
    assert statuses == [200, 405, 200, 400, 304, 200, 200]


def test_a_new_snapshot_is_not_answered_from_the_old(
    make_app: Callable[..., Flask], sample_dist: Path, tmp_path: Path
) -> None:
    """The kept answers belong to one snapshot: once ``dist`` points at another, a plain
    request gets the new snapshot's file and ETag."""
    first, second = tmp_path / "snapshots" / "a", tmp_path / "snapshots" / "b"
    shutil.copytree(sample_dist, first)
    shutil.copytree(sample_dist, second)
    changed = b'{"@context": {}}\n'
    (second / "context.jsonld").write_bytes(changed)
    listing = json.loads((second / "manifest.json").read_text())
    listing["files"]["context.jsonld"].update(
        sha256=hashlib.sha256(changed).hexdigest(), bytes=len(changed)
    )
    (second / "manifest.json").write_text(json.dumps(listing))
    dist = tmp_path / "dist"
    dist.symlink_to(first)
    app = make_app(dist)
    client = app.test_client()
    for _ in range(2):
        client.get("/context.jsonld").close()
    assert kept_files(app).hits == 1
    dist.unlink()
    dist.symlink_to(second)
    time.sleep(CHECK_INTERVAL * 1.2)  # a worker looks at the link at most once a second
    answer = client.get("/context.jsonld")
    body, etag = answer.get_data(), answer.headers["ETag"]
    answer.close()
    assert body == changed
    assert etag == f'"{hashlib.sha256(changed).hexdigest()}"'


def test_fast_path_is_byte_identical_over_http(live_server: LiveServer, sample_dist: Path) -> None:
    """gunicorn: for every case, the route's answer and the plain request's (three times on one
    connection, so the second and third come from what the worker kept) are the same bytes."""
    host, port = "127.0.0.1", live_server.port
    with socket.create_connection((host, port), timeout=10) as sock:
        for path, encoding, method, condition in CASES:
            headers = request_headers(sample_dist, path, encoding, condition)
            lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())

            def request(target: str, lines: str = lines, method: str = method) -> bytes:
                return f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\n{lines}\r\n".encode()

            head = method == "HEAD"
            routed = raw_exchange(sock, request(path + ROUTE), head)
            plain = [raw_exchange(sock, request(path), head) for _ in range(3)]
            case = f"{method} {path} {encoding or '-'} {condition}"
            assert all(answer == routed for answer in plain), case
            file = sent_file(sample_dist, path, encoding)
            if file is not None and not head and condition == "plain":
                assert routed[1] == file.read_bytes(), case
