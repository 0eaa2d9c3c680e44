"""The server's access log (server.access_log) writes exactly gunicorn's own lines."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
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


@pytest.fixture
def access_log() -> Iterator[logging.Logger]:
    """gunicorn's access log (one logger for the process), its handlers as they were after."""
    log = logging.getLogger("gunicorn.access")
    before = list(log.handlers)
    for handler in before:
        log.removeHandler(handler)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    for handler in before:
        log.addHandler(handler)


@pytest.mark.parametrize("filtered", [False, True])
def test_lines_written_to_the_file_are_gunicorns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, access_log: logging.Logger, filtered: bool
) -> None:
    """With ``--access-logfile FILE`` our logger writes each line straight to gunicorn's
    handler (no log record made), and the file holds what gunicorn's own logger writes through
    the logging machinery; with a filter on the log it goes that standard way too."""
    monkeypatch.setattr(Logger, "now", lambda self: "[27/Nov/2026:20:00:00 +0000]")
    records: list[str] = []
    make_record = logging.Logger.makeRecord

    def counted(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        records.append(self.name)
        return make_record(self, *args, **kwargs)

    monkeypatch.setattr(logging.Logger, "makeRecord", counted)
    request = Request([("HOST", "127.0.0.1")])
    answers = (Answer("200 OK", 340994, []), Answer("304 Not Modified", None, []))
    written, made = {}, {}
    for name, kind in (("theirs", Logger), ("ours", AccessLogger)):
        config = Config()
        config.set("accesslog", str(tmp_path / name))
        logger = kind(config)
        if filtered:
            access_log.addFilter(logging.Filter())
        records.clear()
        for env in CASES:
            for answer in answers:
                logger.access(answer, request, env, timedelta(seconds=1, microseconds=2345))
        made[name] = records.count("gunicorn.access")
        access_log.filters.clear()
        for handler in list(access_log.handlers):  # gunicorn replaces it without closing it
            access_log.removeHandler(handler)
            handler.close()
        written[name] = (tmp_path / name).read_text()
    assert written["ours"] == written["theirs"]
    assert len(written["ours"].splitlines()) == len(CASES) * len(answers)
    assert made == {"theirs": len(CASES) * len(answers), "ours": made["theirs"] if filtered else 0}
