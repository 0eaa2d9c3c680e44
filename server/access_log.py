"""gunicorn's access log, the same lines at a fraction of the cost.

For every request gunicorn builds a dictionary of every value a log format can name: a few
dozen of its own, plus one per request header (``{name}i``), response header (``{name}o``) and
WSGI environment entry (``{name}e``), then copies it once more to escape quotes; the default
format prints nine of them. On a published file sent from what the server kept
(:mod:`server.services.kept_files`) that was a quarter of the Python time of a request
(``bench/dumps.py``, py-spy). :class:`AccessLogger` hands gunicorn's own code only what the
format can read when the format names no ``{…}`` value (the default does not), so each value is
made by gunicorn, as before; a format that does name one gets gunicorn's full dictionary.

Then, with gunicorn's own handler on the access log (``--access-logfile``: a stream or a
file, its formatter the message alone, nothing that filters), the line is written to that
handler's stream under its lock, as the handler would write it, without a log record going
through the logging machinery (record, handler chain, formatter): that was as much again as
the values, for every request (the poller's kept answers, :mod:`server.kept_lane`, spent two
fifths of their Python time on the access line). Any other setup (a logging configuration,
syslog) goes the standard way. The time of the line is formatted once a second.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

#: The WSGI entries gunicorn's own values (``h``, ``u``, ``r``, ``m``, ``U``, …) are made of.
ENVIRON_READ = (
    "REMOTE_ADDR",
    "HTTP_AUTHORIZATION",
    "REQUEST_METHOD",
    "RAW_URI",
    "SERVER_PROTOCOL",
    "PATH_INFO",
    "QUERY_STRING",
    "HTTP_REFERER",
    "HTTP_USER_AGENT",
)


@dataclass(frozen=True)
class Sent:
    """What gunicorn's own values read of a response: its status and the bytes of its body
    sent (the worker's poller logs its kept answers with one, :mod:`server.kept_lane`)."""

    status: str
    sent: int | None
    headers: tuple[tuple[str, str], ...] = ()


class AccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger; the access line's values made only from what the format can name,
    the line written straight to gunicorn's own handler."""

    def __init__(self, cfg: Any) -> None:
        self._second, self._now = -1, ""
        super().__init__(cfg)

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta
    ) -> dict[str, Any]:
        if "{" in self.cfg.access_log_format:  # header or environment values: all of them
            every: dict[str, Any] = super().atoms(resp, req, environ, request_time)
            return every
        read = {name: environ[name] for name in ENVIRON_READ if name in environ}
        sent = Sent(resp.status, getattr(resp, "sent", None))
        found: dict[str, Any] = super().atoms(sent, (), read, request_time)
        return found

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        handler = self._own_handler()
        if handler is None or not self.access_log_enabled:
            super().access(resp, req, environ, request_time)
            return
        try:
            atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
            text = self.cfg.access_log_format % atoms + handler.terminator
        except Exception:  # gunicorn reports it its own way
            super().access(resp, req, environ, request_time)
            return
        handler.acquire()
        try:
            handler.stream.write(text)
            handler.flush()
        except Exception:  # as the handler would: reported, not raised
            handler.handleError(logging.makeLogRecord({"msg": text}))
        finally:
            handler.release()

    def _own_handler(self) -> logging.StreamHandler[Any] | None:
        """gunicorn's own handler of the access log, when a line can go straight to it: the
        only handler, the message alone as its format, no filter, ``INFO`` let through."""
        log: logging.Logger = self.access_log
        if len(log.handlers) != 1 or log.filters or not log.isEnabledFor(logging.INFO):
            return None
        handler = log.handlers[0]
        if not getattr(handler, "_gunicorn", False) or self.access_fmt != "%(message)s":
            return None
        if not isinstance(handler, logging.StreamHandler) or handler.filters:
            return None
        return handler if handler.level <= logging.INFO else None

    def now(self) -> str:
        """The time of the line as gunicorn writes it, made once a second."""
        second = int(time.time())
        if self._second != second:
            self._second, self._now = second, super().now()
        return self._now
