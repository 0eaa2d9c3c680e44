"""The server's access log (server.access_log) writes exactly gunicorn's own lines."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from server.access_log import AccessLogger

DEFAULT = Config().access_log_format
FORMATS = (
    DEFAULT,
    '%(h)s %(m)s %(U)s?%(q)s %(H)s %(s)s %(B)s %(D)s %(L)s %(p)s "%(a)s"',
    '%(h)s "%(r)s" %(s)s %({accept-encoding}i)s %({etag}o)s %({remote_addr}e)s',
)


class Answer:
    """What gunicorn's worker passes as the response."""

    def __init__(self, status: str, sent: int | None, headers: list[tuple[str, str]]) -> None:
        self.status, self.sent, self.headers = status, sent, headers


class Request:
    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers


def environ(**extra: str) -> dict[str, Any]:
    found: dict[str, Any] = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/dump.ttl?x=%22",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/dump.ttl",
        "QUERY_STRING": "x=%22",
        "HTTP_ACCEPT_ENCODING": "gzip",
        "wsgi.url_scheme": "http",
    }
    found.update(extra)
    return found


CASES = [
    environ(),
    environ(HTTP_USER_AGENT='wrk "quoted"', HTTP_REFERER="http://example.org/a"),
    environ(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"anna:secret").decode()),
    {k: v for k, v in environ().items() if k != "REMOTE_ADDR"},
]


def line(logger: Logger, answer: Answer, request: Request, env: dict[str, Any]) -> str:
    """The access line ``logger`` writes (gunicorn: the format filled from the atoms)."""
    atoms = logger.atoms(answer, request, env, timedelta(seconds=1, microseconds=2345))
    text: str = logger.cfg.access_log_format % logger.atoms_wrapper_class(atoms)
    return text


@pytest.mark.parametrize("log_format", FORMATS)
@pytest.mark.parametrize("env", CASES)
def test_lines_are_gunicorns(
    monkeypatch: pytest.MonkeyPatch, log_format: str, env: dict[str, Any]
) -> None:
    monkeypatch.setattr(Logger, "now", lambda self: "[27/Nov/2026:20:00:00 +0000]")
    config = Config()
    config.set("access_log_format", log_format)
    answer = Answer("200 OK", 340994, [("ETag", '"abc"'), ("Content-Length", "340994")])
    request = Request([("HOST", "127.0.0.1"), ("ACCEPT-ENCODING", "gzip")])
    ours, theirs = AccessLogger(config), Logger(config)
    assert line(ours, answer, request, env) == line(theirs, answer, request, env)
    bodyless = Answer("304 Not Modified", None, [])
    assert line(ours, bodyless, request, env) == line(theirs, bodyless, request, env)


def test_the_default_format_reads_no_header_or_environment_value() -> None:
    """Else the short way of AccessLogger would not be taken at all."""
    assert "{" not in DEFAULT
