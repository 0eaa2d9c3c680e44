"""The worker's poller sends kept answers itself (server.kept_lane): the same requests as
gunicorn read, the same answers (tests/test_dumps_fast.py compares them byte for byte over
HTTP), and no thread held: a kept file is answered while the only thread is busy, a client
that does not read holds none, and the files of an older snapshot are closed."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import frontmatter
import pytest
from flask import Flask
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser

from server.kept_lane import HEAD_BYTES, plain_environ
from server.services.dataset import CHECK_INTERVAL
from server.services.disk_store import FOLDER_PREFIX
from server.services.kept_files import EXTENSION, KeptFiles, mark_kept
from tests.conftest import SAMPLE_CONTENT, LiveServer
from tests.helpers import raw_exchange, undated

HOST = "Host: 127.0.0.1:8000\r\n"
#: Heads the lane takes: what it reads of each must be what gunicorn reads.
PLAIN = (
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}\r\n",
    f"HEAD /dump.nt HTTP/1.1\r\n{HOST}Accept-Encoding: gzip, br\r\nUser-Agent: wrk\r\n\r\n",
    f'GET /dump.ttl HTTP/1.1\r\n{HOST}If-None-Match: "abc"\r\nReferer: http://x/\r\n\r\n',
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Connection: keep-alive\r\nAccept:  text/turtle \r\n\r\n",
    f"GET /a/b-c.d~e HTTP/1.1\r\n{HOST}Content-Type: text/plain\r\nX-Thing: a, b\r\n\r\n",
    f"GET /id/urn:nl:ak:mtr:org-02 HTTP/1.1\r\n{HOST}Accept: text/turtle;q=0.9, */*\r\n\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Connection: close\r\n\r\n",
    # as nginx in front passes a request on (deploy/nginx.conf.template)
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https"
    "\r\n\r\n",
)
#: Heads the lane leaves to gunicorn (each for the reason in its comment).
NOT_PLAIN = (
    f"POST /dump.ttl HTTP/1.1\r\n{HOST}\r\n",  # not GET or HEAD
    f"GET /dump.ttl HTTP/1.0\r\n{HOST}\r\n",  # HTTP/1.0
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Connection: Upgrade\r\n\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}{HOST}\r\n",  # a header twice
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Accept_Encoding: gzip\r\n\r\n",  # an underscore
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Content-Length: 0\r\n\r\n",  # gunicorn reads it
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Expect: 100-continue\r\n\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}X-Long: a\r\n  folded\r\n\r\n",  # obsolete line folding
    f"GET /dump.ttl?x=1 HTTP/1.1\r\n{HOST}\r\n",  # a query
    f"GET /dump%2Ettl HTTP/1.1\r\n{HOST}\r\n",  # an escape
    f"GET /a/../dump.ttl HTTP/1.1\r\n{HOST}\r\n",  # dots
    f"GET //dump.ttl HTTP/1.1\r\n{HOST}\r\n",
    f"GET http://127.0.0.1/dump.ttl HTTP/1.1\r\n{HOST}\r\n",  # absolute form
    f"GET * HTTP/1.1\r\n{HOST}\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}\r\nGET /dump.ttl HTTP/1.1\r\n{HOST}\r\n",  # two requests
    f"GET /dump.ttl HTTP/1.1\n{HOST}\n",  # bare line feeds
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}Bad Name: x\r\n\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}X-Ctl: a\x01b\r\n\r\n",
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}" + "A: b\r\n" * 101 + "\r\n",  # over gunicorn's 100
    f"GET /dump.ttl HTTP/1.1\r\n{HOST}X-Big: {'x' * HEAD_BYTES}\r\n\r\n",
)


def gunicorn_environ(head: bytes) -> dict[str, object]:
    """The WSGI environment gunicorn itself makes of ``head`` (its parser and its ``create``)."""
    cfg = Config()
    request = next(RequestParser(cfg, [head], ("127.0.0.1", 5555)))
    _, environ = wsgi.create(request, None, ("127.0.0.1", 5555), ("127.0.0.1", 8000), cfg)
    return environ


@pytest.mark.parametrize("head", PLAIN)
def test_a_plain_head_is_read_as_gunicorn_reads_it(head: str) -> None:
    data = head.encode("latin-1")
    ours = plain_environ(data, "", 100)
    assert ours is not None
    theirs = gunicorn_environ(data)
    headers = {key for key in theirs if key.startswith("HTTP_") or key == "CONTENT_TYPE"}
    assert headers == {key for key in ours if key.startswith("HTTP_") or key == "CONTENT_TYPE"}
    assert ours == {key: theirs[key] for key in ours}


@pytest.mark.parametrize("head", NOT_PLAIN)
def test_any_other_head_is_left_to_gunicorn(head: str) -> None:
    assert plain_environ(head.encode("latin-1"), "", 100) is None


def test_a_path_outside_the_script_root_is_left_to_gunicorn() -> None:
    data = f"GET /dump.ttl HTTP/1.1\r\n{HOST}\r\n".encode()
    assert plain_environ(data, "/kg", 100) is None
    inside = plain_environ(data.replace(b"/dump", b"/kg/dump"), "/kg", 100)
    assert inside is not None and (inside["SCRIPT_NAME"], inside["PATH_INFO"]) == (
        "/kg",
        "/dump.ttl",
    )


def with_large_file(source: Path, target: Path, name: str, size: int) -> bytes:
    """A copy of the publication ``source`` whose ``name`` (JSON) is padded to ``size`` bytes,
    its manifest entry updated; the file's new bytes."""
    shutil.copytree(source, target)
    data = (source / name).read_bytes().rstrip() + b" " * size + b"\n"
    (target / name).write_bytes(data)
    listing = json.loads((target / "manifest.json").read_text())
    listing["files"][name].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (target / "manifest.json").write_text(json.dumps(listing))
    return data


def get(path: str, host: str = "127.0.0.1:8000") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def worker_files(server: LiveServer, folder: Path, store: bool = False) -> list[str]:
    """The files under ``folder`` the server's only worker has open; with ``store``, those of
    the snapshot's store on disk too (open while the snapshot is served)."""
    (worker,) = [
        int(child)
        for task in (Path("/proc") / str(server.process.pid) / "task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    found = []
    for link in (Path("/proc") / str(worker) / "fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            path = os.readlink(link)
            if path.startswith(str(folder)) and (store or f"/{FOLDER_PREFIX}" not in path):
                found.append(path)
    return found


@pytest.fixture(scope="module")
def one_thread(
    tmp_path_factory: pytest.TempPathFactory, sample_dist: Path
) -> Iterator[tuple[LiveServer, bytes, Path]]:
    """One worker with one thread, on a publication with an 8 MB file (more than the kernel
    buffers a socket: its sending must wait for the client)."""
    dist = tmp_path_factory.mktemp("lane") / "dist"
    data = with_large_file(sample_dist, dist, "context.jsonld", 8 << 20)
    server = LiveServer(dist, "--workers", "1", "--threads", "1")
    yield server, data, dist
    server.stop()


@contextlib.contextmanager
def the_only_thread_busy(address: tuple[str, int]) -> Iterator[None]:
    """A request whose body does not come holds the worker's only thread while it waits for
    it; the body is sent, and the request answered, when the block ends."""
    with socket.create_connection(address, timeout=10) as busy:
        busy.sendall(
            b"POST /sparql HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\nquery="
        )
        time.sleep(0.5)
        yield
        busy.sendall(b"x" * 94)
        assert busy.recv(65536).startswith(b"HTTP/1.1 ")


@pytest.mark.parametrize("kind", ["file", "page", "revalidated page"])
def test_a_kept_answer_is_sent_while_the_only_thread_is_busy(
    one_thread: tuple[LiveServer, bytes, Path], sample_dist: Path, kind: str
) -> None:
    """A kept file, a kept page, and the ``304`` to a request naming a kept page's ``ETag``
    (a browser's or a crawler's revalidation)."""
    server, _, _ = one_thread
    address = ("127.0.0.1", server.port)
    page = f"GET /id/{sample_urns()[0]} HTTP/1.1\r\nHost: a\r\nAccept: text/turtle\r\n"
    request = get("/dump.ttl") if kind == "file" else f"{page}\r\n".encode()
    with socket.create_connection(address, timeout=10) as first:
        kept = raw_exchange(first, request, head=False)  # answered by a thread, and kept
        if kind == "revalidated page":
            fields = dict(line.split(b": ", 1) for line in kept[0].split(b"\r\n")[1:])
            etag = fields[b"ETag"].decode()
            request = f"{page}If-None-Match: {etag}\r\n\r\n".encode()
            kept = raw_exchange(first, request, head=True)
    status = b"HTTP/1.1 304 " if kind == "revalidated page" else b"HTTP/1.1 200 "
    assert kept[0].startswith(status)
    if kind == "file":
        assert kept[1] == (sample_dist / "graph.ttl").read_bytes()
    with the_only_thread_busy(address), socket.create_connection(address, timeout=10) as other:
        assert raw_exchange(other, request, head=kind == "revalidated page") == kept


def test_a_client_that_does_not_read_holds_no_thread(
    one_thread: tuple[LiveServer, bytes, Path],
) -> None:
    server, data, _ = one_thread
    address = ("127.0.0.1", server.port)
    with socket.create_connection(address, timeout=10) as first:
        assert raw_exchange(first, get("/context.jsonld"), head=False)[1] == data
    with socket.create_connection(address, timeout=30) as slow:
        slow.sendall(get("/context.jsonld"))
        time.sleep(0.5)  # the kernel's buffers are full: the rest waits for the client
        for _ in range(3):
            with socket.create_connection(address, timeout=10) as other:
                block, body = raw_exchange(other, get("/health"), head=False)
            assert block.startswith(b"HTTP/1.1 200 ")
        received = b""
        while b"\r\n\r\n" not in received:
            received += slow.recv(1 << 16)
        head, _, body = received.partition(b"\r\n\r\n")
        while len(body) < len(data):
            chunk = slow.recv(1 << 20)
            assert chunk
            body += chunk
        assert body == data
        assert b"Connection: keep-alive" in head
        # The connection is kept alive: it asks again.
        assert raw_exchange(slow, get("/context.jsonld"), head=True)[0].startswith(b"HTTP/1.1 200")


def test_a_client_gone_mid_answer_leaves_nothing_open(
    one_thread: tuple[LiveServer, bytes, Path],
) -> None:
    server, data, dist = one_thread
    address = ("127.0.0.1", server.port)
    for _ in range(5):
        gone = socket.create_connection(address, timeout=10)
        gone.sendall(get("/context.jsonld"))
        gone.recv(1 << 16)
        gone.close()
    with socket.create_connection(address, timeout=10) as other:
        assert raw_exchange(other, get("/context.jsonld"), head=False)[1] == data
    assert len(worker_files(server, dist.resolve())) <= len({"graph.ttl", "context.jsonld"})


def test_the_files_of_an_older_snapshot_are_closed(tmp_path: Path, sample_dist: Path) -> None:
    first, second = tmp_path / "snapshots" / "a", tmp_path / "snapshots" / "b"
    shutil.copytree(sample_dist, first)
    changed = with_large_file(sample_dist, second, "context.jsonld", 10)
    dist = tmp_path / "dist"
    dist.symlink_to(first)
    server = LiveServer(dist, "--workers", "1")
    try:
        address = ("127.0.0.1", server.port)
        with socket.create_connection(address, timeout=10) as client:
            for _ in range(2):
                raw_exchange(client, get("/context.jsonld"), head=False)
            assert worker_files(server, first) == [str(first / "context.jsonld")]
            dist.unlink()
            dist.symlink_to(second)
            time.sleep(CHECK_INTERVAL * 1.2)  # a worker looks at the link at most once a second
            bodies = [raw_exchange(client, get("/context.jsonld"), head=False)[1] for _ in "ab"]
        assert bodies == [changed, changed]
        assert worker_files(server, first, store=True) == []  # its store closed too
        assert worker_files(server, second) == [str(second / "context.jsonld")]
    finally:
        server.stop()


def sample_urns() -> list[str]:
    """Every URN the sample content gives its documents (front matter ``id``)."""
    found = []
    for path in sorted(SAMPLE_CONTENT.rglob("*.md")):
        urn = frontmatter.load(path).metadata.get("id")
        if isinstance(urn, str) and urn.startswith("urn:nl:ak:"):
            found.append(urn)
    return found


METHODS = ("GET", "HEAD")
#: Accept headers a page is asked with (the first: none at all).
ACCEPTS = ("", "text/html", "text/turtle", "application/ld+json;q=0.9, text/turtle;q=0.5")


def test_kept_pages_are_the_applications_answers(
    one_thread: tuple[LiveServer, bytes, Path], make_app: Callable[..., Flask]
) -> None:
    """Each page in each format, ``GET`` and ``HEAD``, three times on one connection (the
    second and third from what the worker kept, sent by its poller) is what the application
    answers in process: status, headers (those gunicorn adds apart) and body."""
    server, _, dist = one_thread
    urns = sample_urns()
    assert len(urns) >= 5
    client = make_app(dist).test_client()
    cases = [(urn, accept, method) for urn in urns for accept in ACCEPTS for method in METHODS]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for urn, accept, method in cases:
            lines = f"Accept: {accept}\r\n" if accept else ""
            request = f"{method} /id/{urn} HTTP/1.1\r\nHost: a\r\n{lines}\r\n".encode()
            answers = [raw_exchange(sock, request, head=method == "HEAD") for _ in range(3)]
            assert answers[1] == answers[0] and answers[2] == answers[0], (urn, accept)
            headers = {"Accept": accept} if accept else {}
            expected = client.open(f"/id/{urn}", method=method, headers=headers)
            block, body = answers[0]
            status, *fields = block.decode("latin-1").split("\r\n")
            assert status == f"HTTP/1.1 {expected.status}"
            ours = [tuple(field.split(": ", 1)) for field in fields]
            added = {"server", "connection"}
            assert [f for f in ours if f[0].lower() not in added] == list(expected.headers.items())
            assert body == expected.get_data()
            expected.close()


def kept_files(app: Flask) -> KeptFiles:
    kept: KeptFiles = app.extensions[EXTENSION]
    return kept


def test_a_page_is_kept_per_accept_header(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    """In process: the second request for a page with the same ``Accept`` is answered from
    what was kept, the same bytes; another ``Accept`` is another answer; so is the ``304`` to
    a request that names the page's ``ETag``."""
    app = make_app(sample_dist)
    client, kept = app.test_client(), kept_files(app)
    path = f"/id/{sample_urns()[0]}"

    def ask(accept: str) -> tuple[tuple[str, list[tuple[str, str]], bytes], int]:
        hits = kept.hits
        answer = client.get(path, headers={"Accept": accept})
        seen = (answer.status, list(answer.headers.items()), answer.get_data())
        answer.close()
        return seen, kept.hits - hits

    (turtle, _), (turtle_again, turtle_hit) = ask("text/turtle"), ask("text/turtle")
    (html, _), (html_again, html_hit) = ask("text/html"), ask("text/html")
    assert turtle == turtle_again and html == html_again and turtle != html
    assert (turtle_hit, html_hit) == (1, 1)
    assert ("Content-Type", "text/turtle; charset=utf-8") in turtle[1]
    # A revalidation: the view's 304 the first time, then the kept one, the same.
    etag = dict(turtle[1])["ETag"]
    revalidated = []
    for _ in range(2):
        hits = kept.hits
        answer = client.get(path, headers={"Accept": "text/turtle", "If-None-Match": etag})
        revalidated.append((answer.status, undated(answer.headers.items()), kept.hits - hits))
        answer.close()
    assert [hit for *_, hit in revalidated] == [0, 1]
    assert revalidated[0][:2] == revalidated[1][:2] and revalidated[0][0] == "304 NOT MODIFIED"


def test_no_page_is_kept_without_the_page_cache(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    app = make_app(sample_dist, page_cache_bytes=0)
    client, kept = app.test_client(), kept_files(app)
    for _ in range(3):
        client.get(f"/id/{sample_urns()[0]}").close()
        client.get("/dump.ttl").close()
    assert kept.hits == 2  # the dump's second and third


def test_an_answer_that_varies_on_more_than_its_key_is_not_kept(app: Flask) -> None:
    """A page whose ``Vary`` names a header the key does not hold, or larger than a quarter of
    the bound, is the application's to answer each time."""
    dataset = app.extensions["kg_snapshots"].refresh().dataset
    body = b"x" * 100

    def page(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        mark_kept(environ, dataset, None, body)  # type: ignore[arg-type]
        vary = str(environ.get("QUERY_VARY", "Accept"))
        start_response("200 OK", [("Content-Length", "100"), ("Vary", vary)])
        return [body]

    kept = KeptFiles(page, app.extensions["kg_snapshots"], [], lambda *_: True, 1000)
    counted = []
    for vary, page_bytes in (("Accept", 1000), ("Accept, Origin", 1000), ("Accept", 399)):
        kept.page_bytes, kept.hits = page_bytes, 0
        kept._answers.clear()
        for _ in range(3):
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/p", "QUERY_VARY": vary}
            assert b"".join(kept(environ, lambda *_: None)) == body  # type: ignore[arg-type]
        counted.append(kept.hits)
    assert counted == [2, 0, 0]


def answers(sock: socket.socket, bodyless: list[bool]) -> list[tuple[bytes, bytes]]:
    """The next answers on ``sock``, one per entry of ``bodyless`` (True: a ``HEAD``'s), read
    from one buffer (an answer's bytes may come with the one before): header block and body."""
    buffer, found = b"", []
    for head in bodyless:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(1 << 20)
            assert chunk, "the server closed the connection"
            buffer += chunk
        block, _, buffer = buffer.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in block.split(b"\r\n")[1:])
        length = 0 if head else int(fields[b"Content-Length"])
        while len(buffer) < length:
            chunk = sock.recv(1 << 20)
            assert chunk, "the server closed the connection"
            buffer += chunk
        found.append((block, buffer[:length]))
        buffer = buffer[length:]
    assert not buffer
    return found


def test_pipelined_requests_are_all_answered_in_order(
    live_server: LiveServer, sample_dist: Path
) -> None:
    """Requests sent at once are gunicorn's to read (the lane takes one request alone); one
    sent while their answers are still coming is answered after them."""
    expected = (sample_dist / "graph.ttl").read_bytes()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        raw_exchange(sock, get("/dump.ttl"), head=False)  # kept now
        sock.sendall(get("/dump.ttl") + b"HEAD /dump.ttl HTTP/1.1\r\nHost: a\r\n\r\n")
        sock.sendall(get("/dump.ttl"))
        got = answers(sock, [False, True, False])
    assert [body for _, body in got] == [expected, b"", expected]
    heads = [
        [line for line in block.split(b"\r\n") if not line.startswith(b"Date:")] for block, _ in got
    ]
    assert heads[0] == heads[1] == heads[2]


def until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(1 << 20):
        data += chunk
    return data


def test_connection_close_is_answered_then_the_connection_closed(
    one_thread: tuple[LiveServer, bytes, Path], sample_dist: Path
) -> None:
    """A request with ``Connection: close`` (as Python's urllib sends) takes the lane too (its
    answer comes while the only thread is busy): the same answer as gunicorn's, then the
    server closes the connection."""
    server, _, _ = one_thread
    address = ("127.0.0.1", server.port)
    close = "GET {} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    with socket.create_connection(address, timeout=10) as first:
        raw_exchange(first, get("/dump.ttl"), head=False)  # kept now
    with socket.create_connection(address, timeout=10) as routed:
        routed.sendall(close.format("/dump.ttl?via=route").encode())
        expected = until_closed(routed)
    with the_only_thread_busy(address), socket.create_connection(address, timeout=10) as sock:
        sock.sendall(close.format("/dump.ttl").encode())
        got = until_closed(sock)

    def undated(answer: bytes) -> tuple[list[bytes], bytes]:
        block, _, body = answer.partition(b"\r\n\r\n")
        return [line for line in block.split(b"\r\n") if not line.startswith(b"Date:")], body

    assert undated(got) == undated(expected)
    assert b"Connection: close" in undated(got)[0]
    assert undated(got)[1] == (sample_dist / "graph.ttl").read_bytes()
