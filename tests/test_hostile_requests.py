"""Hostile and odd requests against a real gunicorn server, as raw bytes on a socket.

Every case is answered with the status in the table (a clear ``4xx`` for what cannot be
answered, never a ``500``), and afterwards the server's log (gunicorn's stdout and stderr)
holds no traceback and no ``500``. Cases answered by the application also carry the site's
headers (CORS, ``nosniff``, a CSP); requests gunicorn cannot parse are refused by gunicorn
itself before the application sees them (``ours=False``). The bytes are sent as written:
``http.client`` and ``urllib`` refuse to send most of them.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import LiveServer

ORG_01 = b"/id/urn:nl:ak:mtr:org-01"
FORM = b"application/x-www-form-urlencoded"
DIRECT = b"application/sparql-query"


def get(target: bytes, *headers: bytes, method: bytes = b"GET", host: bool = True) -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1"]
    lines += [b"Host: 127.0.0.1"] if host else []
    return b"\r\n".join([*lines, *headers, b"Connection: close", b"", b""])


def post(target: bytes, content_type: bytes, body: bytes, *headers: bytes) -> bytes:
    head = get(
        target,
        b"Content-Type: " + content_type,
        b"Content-Length: %d" % len(body),
        *headers,
        method=b"POST",
    )
    return head + body


def query(text: str, *params: str) -> bytes:
    """``GET /sparql?query=…`` with the query percent-encoded."""
    return get(b"/sparql?" + "&".join((f"query={quote(text)}", *params)).encode())


def nested(depth: int) -> str:
    return "SELECT * WHERE " + "{" * depth + "}" * depth


@dataclass(frozen=True)
class Case:
    request: bytes
    status: int
    #: Text the body holds.
    says: str = ""
    #: Answered by the application (with the site's headers), not by gunicorn.
    ours: bool = True


CASES: dict[str, Case] = {
    # CR, LF and NUL in paths and fragments (a # never reaches a server: it comes as %23)
    "CR in the fragment of /id/": Case(get(ORG_01 + b"%23a%0Db"), 400, "control character"),
    "LF in the fragment of /id/": Case(get(ORG_01 + b"%23a%0Ab"), 400, "control character"),
    "CR in a bare URN": Case(get(b"/urn:nl:ak:mtr:org-01%23a%0Db"), 400, "U+000D"),
    "NUL in a path": Case(get(ORG_01 + b"%00"), 400, "U+0000"),
    "DEL in a path": Case(get(b"/id/urn:nl:ak:%7F"), 400, "U+007F"),
    "LF in a lookup": Case(get(b"/lookup?urn=urn:nl:ak:mtr:org-01%23a%0Ab"), 400, "the URN"),
    "CR in a lookup": Case(get(b"/lookup?urn=urn:nl%0D:ak:mtr:org-01"), 400, "U+000D"),
    "NUL in a lookup": Case(get(b"/lookup?urn=%00"), 400, "U+0000"),
    "a pasted line (LF after)": Case(get(b"/lookup?urn=urn:nl:ak:mtr:org-01%0A"), 303),
    # bytes that are not UTF-8
    "%FF in a path": Case(get(b"/id/urn:nl:ak:%FF"), 400, "the path is not UTF-8"),
    "overlong UTF-8 in a path": Case(get(b"/id/urn:nl:ak:%C0%AF"), 400, "not UTF-8"),
    "a surrogate in a path": Case(get(b"/%ED%A0%80"), 400, "not UTF-8"),
    "%FF at an unknown path": Case(get(b"/nothing%FF"), 400, "not UTF-8"),
    "a raw 0xFF in the request line": Case(get(b"/id/urn:nl:ak:\xff"), 400, ours=False),
    "%FF in a lookup": Case(get(b"/lookup?urn=%FF"), 400, "the query string is not UTF-8"),
    "%FF in a query": Case(get(b"/sparql?query=ASK%7B%7D%FF"), 400, "not UTF-8"),
    "overlong UTF-8 in ?format=": Case(get(ORG_01 + b"?format=%C0%AF"), 400, "not UTF-8"),
    "%FF in a form": Case(post(b"/sparql", FORM, b"query=ASK%7B%7D%FF"), 400, "the form"),
    "a raw 0xFF in a form": Case(post(b"/sparql", FORM, b"query=ASK{}\xff"), 400, "the form"),
    "a raw 0xFF in a query body": Case(post(b"/sparql", DIRECT, b"ASK{'\xff'}"), 400, "UTF-8"),
    "a BOM before a query body": Case(post(b"/sparql", DIRECT, b"\xef\xbb\xbfASK{}"), 200),
    "a query body in Latin-1": Case(
        post(b"/sparql", DIRECT + b"; charset=latin-1", b"ASK{}"), 415, "UTF-8"
    ),
    # the same parameter twice
    "two queries": Case(query("ASK{}", "query=ASK%7B%7D"), 400, "one query"),
    "two versions": Case(query("ASK{}", "version=1.2", "version=1.2"), 400, "one version"),
    "an unknown version": Case(query("ASK{}", "version=9"), 400, "not supported"),
    # (format: the first counts, SPARQLWrapper sends two)
    "two formats of a URN": Case(get(ORG_01 + b"?format=nt&format=html"), 200, "<urn:nl:ak"),
    "two formats of VoID": Case(get(b"/.well-known/void?format=nt&format=ttl"), 200, "<http"),
    "two URNs to look up": Case(get(b"/lookup?urn=a&urn=b"), 400, "urn once"),
    # queries that are too deep, or long and recursive for the engine
    "2,201 nested braces": Case(
        post(b"/sparql", DIRECT, nested(2201).encode()), 400, "nests { } ( ) [ ] 2201 deep"
    ),
    "4,683 nested parentheses": Case(
        post(b"/sparql", DIRECT, b"ASK { FILTER(" + b"(" * 4683 + b"1" + b")" * 4683 + b") }"),
        400,
        "at most 64 is accepted",
    ),
    "3,000 nested blank nodes": Case(
        post(b"/sparql", FORM, b"query=ASK%7B?s<urn:p>" + b"[<urn:p>" * 3000 + b"]" * 3000 + b"}"),
        400,
        "deep",
    ),
    "20,000 negations": Case(
        post(b"/sparql", DIRECT, b"ASK { FILTER(" + b"!" * 20_000 + b"true) }"), 200, "true"
    ),
    "a query of 7,500 sums": Case(
        post(b"/sparql", DIRECT, b"ASK { FILTER(" + b"+".join([b"1"] * 7500) + b") }"), 200
    ),
    # other SPARQL refusals
    "an update": Case(query("DROP ALL"), 400, "read-only"),
    "update=": Case(get(b"/sparql?update=CLEAR%20ALL"), 400, "read-only"),
    "SERVICE": Case(query("SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"), 400),
    "an empty query": Case(get(b"/sparql?query="), 400, "syntax error"),
    "a NUL in a query": Case(query("ASK {\0}"), 400, "syntax error"),
    "a graph that is not an IRI": Case(query("ASK{}", "default-graph-uri=a%20b"), 400),
    "a multipart form": Case(post(b"/sparql", b"multipart/form-data; boundary=x", b""), 415),
    "a POST without a type": Case(get(b"/sparql", b"Content-Length: 0", method=b"POST"), 415),
    "a relative IRI": Case(query("ASK { FILTER(<s> = <s>) }"), 200, "true"),
    # too long, too many
    "a request line of 9,000 bytes": Case(get(b"/" + b"a" * 9000), 414, ours=False),
    "a URN of 8,000 bytes": Case(get(b"/id/urn:nl:ak:" + b"a" * 8000), 404, "not a URN"),
    "a lookup of 8,000 bytes": Case(get(b"/lookup?urn=" + b"x" * 8000), 404),
    "a header field of 9,000 bytes": Case(get(b"/", b"X-A: " + b"a" * 9000), 431, ours=False),
    "150 header fields": Case(get(b"/", *(b"X-%d: a" % i for i in range(150))), 431, ours=False),
    "a body over the limit": Case(
        get(
            b"/sparql",
            b"Content-Type: application/sparql-query",
            b"Content-Length: 70000",
            method=b"POST",
        ),
        413,
        "at most 65536 bytes",
    ),
    # methods
    "PUT": Case(get(b"/sparql", b"Content-Length: 0", method=b"PUT"), 405),
    "DELETE": Case(get(ORG_01, method=b"DELETE"), 405),
    "TRACE": Case(get(b"/", method=b"TRACE"), 405),
    "PROPFIND": Case(get(b"/", method=b"PROPFIND"), 405),
    "an invented method": Case(get(b"/health", method=b"BREW"), 405),
    "a lower-case method": Case(get(b"/", method=b"get"), 400, ours=False),
    "CONNECT": Case(get(b"127.0.0.1:443", method=b"CONNECT"), 404),
    "OPTIONS *": Case(get(b"*", method=b"OPTIONS"), 404),
    "HEAD of a query": Case(query("ASK{}").replace(b"GET", b"HEAD", 1), 200),
    # ranges
    "two ranges": Case(get(b"/dump.nt", b"Range: bytes=0-1,5-9"), 200),
    "200 ranges": Case(get(b"/dump.nt", b"Range: bytes=" + b",".join([b"0-0"] * 200)), 200),
    "a range that cannot be read": Case(get(b"/dump.nt", b"Range: bytes=abc"), 200),
    "a range backwards": Case(get(b"/dump.nt", b"Range: bytes=9-1"), 200),
    "a range of another unit": Case(get(b"/dump.nt", b"Range: items=0-1"), 200),
    "a range past the end": Case(get(b"/dump.nt", b"Range: bytes=999999999-"), 416),
    "one range": Case(get(b"/dump.nt", b"Range: bytes=0-99"), 206),
    # other headers
    "a Host with a space": Case(get(b"/.well-known/void", b"Host: a b", host=False), 400, "Host"),
    "a Host with brackets": Case(get(b"/sparql", b"Host: <x>", host=False), 400, "Host"),
    "a Host with a port too large": Case(get(b"/", b"Host: x:99999", host=False), 400, "Host"),
    "no Host in HTTP/1.1": Case(get(b"/health", host=False), 400, "Host header"),
    "two Host headers": Case(get(b"/", b"Host: a", b"Host: b", host=False), 400, ours=False),
    "an IPv6 Host": Case(get(b"/sparql", b"Host: [::1]:8080", host=False), 200),
    "HTTP/1.0 without a Host": Case(b"GET /health HTTP/1.0\r\n\r\n", 200),
    "HTTP/2.0 as text": Case(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, ours=False),
    "an absolute URL": Case(get(b"http://elsewhere.example/health"), 200),
    "an Accept of nothing": Case(get(ORG_01, b"Accept: ;;;,,,q=abc"), 406),
    "a q-value that is no number": Case(get(b"/dump.nt", b"Accept-Encoding: gzip;q=x"), 200),
    "validators that are no validators": Case(
        get(b"/dump.nt", b'If-None-Match: ,,"', b"If-Modified-Since: yesterday"), 200
    ),
    "a Content-Length that is no number": Case(
        get(b"/sparql", b"Content-Length: abc", method=b"POST"), 400, ours=False
    ),
    "two Content-Lengths": Case(
        get(b"/sparql", b"Content-Length: 1", b"Content-Length: 2", method=b"POST"),
        400,
        ours=False,
    ),
    "a NUL in a header": Case(get(b"/", b"X-A: a\0b"), 400, ours=False),
    "a chunked query": Case(
        get(
            b"/sparql",
            b"Content-Type: application/sparql-query",
            b"Transfer-Encoding: chunked",
            method=b"POST",
        )
        + b"5\r\nASK{}\r\n0\r\n\r\n",
        200,
    ),
    # paths that are not there
    "/id/ without a URN": Case(get(b"/id/"), 404),
    "a climb out of /static/": Case(get(b"/static/%2e%2e/%2e%2e/etc/passwd"), 404),
    "a climb out, unencoded": Case(get(b"/static/../../etc/passwd"), 404),
}


def exchange(server: LiveServer, data: bytes) -> tuple[int, Message, bytes]:
    """Send ``data`` as it is; the status, headers and body of the answer."""
    method = data.split(b" ", 1)[0].decode("latin-1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        with response:
            return response.status, response.headers, response.read()


@pytest.fixture(scope="module")
def server(sample_dist: Path) -> Iterator[LiveServer]:
    """A server of its own, so that its log holds only these requests."""
    live = LiveServer(sample_dist)
    yield live
    live.stop()


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_request(server: LiveServer, name: str) -> None:
    case = CASES[name]
    status, headers, body = exchange(server, case.request)
    assert status == case.status, body[:300]
    assert case.says.encode() in body
    if case.ours:
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert headers["Referrer-Policy"] == "no-referrer"
    else:
        # gunicorn's own short page (its message escaped), without the site's headers
        assert headers.get_content_type() == "text/html"
        assert "Access-Control-Allow-Origin" not in headers


def test_a_fragment_in_a_redirect_is_percent_encoded(server: LiveServer) -> None:
    for target in (
        b"/lookup?urn=urn:nl:ak:mtr:org-01%23a%20%22b%3Cc%C3%A9",
        ORG_01 + b"%23a%20%22b%3Cc%C3%A9",
        b"/urn:nl:ak:mtr:org-01%23a%20%22b%3Cc%C3%A9",
    ):
        status, headers, _ = exchange(server, get(target))
        assert status == 303
        assert headers["Location"] == "/id/urn:nl:ak:mtr:org-01#a%20%22b%3Cc%C3%A9"


def test_the_log_holds_no_traceback(server: LiveServer) -> None:
    for case in CASES.values():
        exchange(server, case.request)
    time.sleep(0.5)  # the access log is written after the answer
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log
    assert not re.search(r"\] \[ERROR\]|ERROR in |\[CRITICAL\]", log), log
    statuses = re.findall(r'HTTP/[\d.]+" (\d{3}) ', log)
    assert len(statuses) >= len([case for case in CASES.values() if case.ours])
    assert "500" not in statuses


def test_the_server_opens_no_way_in_but_http(sample_dist: Path, tmp_path: Path) -> None:
    """No gunicorn control socket (gunicorn 25.1+ opens one in the home folder by default,
    one path for every server of the machine): nothing is written under ``HOME``."""
    live = LiveServer(sample_dist, home=tmp_path)
    try:
        with urllib.request.urlopen(f"{live.url}/health", timeout=10) as answer:
            assert answer.status == 200
        time.sleep(1)  # gunicorn opens the socket once its workers are started
    finally:
        live.stop()
    assert list(tmp_path.iterdir()) == []
    assert "control socket" not in live.log.read_text().lower()
