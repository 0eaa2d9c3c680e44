"""gunicorn's access log, the same lines at a fraction of the cost.

For every request gunicorn builds a dictionary of every value a log format can name: a few
dozen of its own, plus one per request header (``{name}i``), response header (``{name}o``) and
WSGI environment entry (``{name}e``), then copies it once more to escape quotes; the default
format prints nine of them. On a published file sent from what the server kept
(:mod:`server.services.kept_files`) that was a quarter of the Python time of a request
(``bench/dumps.py``, py-spy). :class:`AccessLogger` hands gunicorn's own code only what the
format can read when the format names no ``{…}`` value (the default does not), so each value is
made by gunicorn, as before; a format that does name one gets gunicorn's full dictionary.
"""

from __future__ import annotations

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


class _Sent:
    """What gunicorn reads of a response for its own values: status and bytes sent."""

    headers: tuple[tuple[str, str], ...] = ()

    def __init__(self, response: Any) -> None:
        self.status = response.status
        self.sent = getattr(response, "sent", None)


class AccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger; the access line's values made only from what the format can name."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta
    ) -> dict[str, Any]:
        if "{" in self.cfg.access_log_format:  # header or environment values: all of them
            every: dict[str, Any] = super().atoms(resp, req, environ, request_time)
            return every
        read = {name: environ[name] for name in ENVIRON_READ if name in environ}
        found: dict[str, Any] = super().atoms(_Sent(resp), (), read, request_time)
        return found
