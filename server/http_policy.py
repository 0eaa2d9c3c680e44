"""What every answer of the site has in common, installed once on the application.

* **Requests no route can read are refused first** (``400`` with the reason), before routing
  decides anything: a ``Host`` that is not a host name or address (the host becomes part of
  the addresses in VoID, the service description and the SPARQL base IRI; RFC 9112 §3.2 asks
  for ``400``), a path that is not UTF-8 or holds a control character (CR, LF, NUL: they
  would end up in a ``Location`` or in the log), a query string or form body that is not UTF-8,
  raw or percent-encoded (Werkzeug would otherwise read ``%FF`` as the text ``%FF``, or drop a
  whole form without a word). Requests gunicorn cannot parse never get here: it answers them
  itself (``400``; ``414`` for a request line over 8190 bytes, ``431`` for a header field over
  8190 bytes or more than 100 of them; :mod:`server.runner`).
* **CORS.** Everything here is public, read-only data, so any origin may read every answer
  (errors too): ``Access-Control-Allow-Origin: *``, and the headers a script needs to use what
  it got are exposed (validators, digests, links, the SPARQL result limits). A preflight
  (``OPTIONS``, answered by Flask for every route) allows the methods of that route (its
  ``Allow`` header) and the request headers the site reads.
* **Security headers** on every answer: ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY`` and a Content Security Policy:
  for HTML, :data:`PAGE_POLICY` (this site's stylesheet and images, forms that submit here, no
  ``<base>``, no framing; no script and no inline style at all: the templates have none, and
  rendered content has neither, :mod:`kg.htmlpolicy`); for everything else, :data:`DATA_POLICY`
  (nothing may load).
* **Errors.** Every HTTP error (unknown path, wrong method, too large, bad request, …) is
  answered by one handler: plain text for programs, a page of the site for browsers
  (:func:`server.services.responses.error_page`). Routes answer their own ``404`` for an
  unknown URN (with close matches) and ``406`` (with the formats), from the same module.

A plain request for a published file (``/dump.ttl``, …) or a page the page cache keeps is
answered, after the first of its kind, with the status and headers the application gave that
first one, without running these hooks again (:mod:`server.services.kept_files`;
:func:`readable_host` decides which ``Host`` may take that way). So what a hook adds must
depend on nothing but the request's method, path, ``Accept``, ``Accept-Encoding`` and
``If-None-Match``: a hook that reads more of a request must add it to the key of
:class:`server.services.kept_files.KeptFiles` (or to its ``ASIDE`` headers).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from kg.config import Settings
from server.services.parameters import refuse_control
from server.services.responses import error_page

#: Response headers a script on another origin may read.
EXPOSED_HEADERS = (
    "Content-Location",
    "Link",
    "ETag",
    "Last-Modified",
    "Content-Length",
    "Content-Encoding",
    "Repr-Digest",
    "Digest",
    "X-Result-Limit",
    "X-Result-Truncated",
)
#: Request headers a script may send (beyond the CORS-safelisted ones).
ALLOWED_HEADERS = ("Accept", "Content-Type", "Range", "If-None-Match", "If-Modified-Since")
#: How long a browser may keep a preflight's answer, in seconds.
PREFLIGHT_MAX_AGE = 86400
#: The policy of the site's pages.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
#: The policy of every other answer (data, text): nothing loads, nothing frames it.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
#: ``Host``: a name of unreserved characters, an IPv4 address or a bracketed IPv6 address,
#: then an optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")
_FORM = "application/x-www-form-urlencoded"


def install_http_policy(app: Flask, settings: Settings) -> None:
    """The request checks, CORS and security headers on every response, and the one handler
    of HTTP errors."""
    app.before_request(check_request)
    app.after_request(_cors)
    app.after_request(_security_headers)

    def http_error(error: HTTPException) -> Response:
        return _error_response(error, settings)

    app.register_error_handler(HTTPException, http_error)


def check_request() -> None:
    """:class:`BadRequest` with the reason for a request no route can read."""
    _check_host(request.environ.get("HTTP_HOST"), request.environ.get("SERVER_PROTOCOL"))
    _check_path(request.environ.get("PATH_INFO", ""))
    _check_encoded("the query string", request.query_string)
    if request.mimetype == _FORM and request.routing_exception is None:
        _check_encoded("the form", request.get_data(cache=True))


def _check_host(host: str | None, protocol: str | None) -> None:
    if host is None:
        if protocol == "HTTP/1.1":
            raise BadRequest("an HTTP/1.1 request must have a Host header")
        return
    if not readable_host(host, protocol):
        raise BadRequest("the Host header is not a host name or address (with a port)")


def readable_host(host: str | None, protocol: str | None) -> bool:
    """Whether :func:`check_request` accepts this ``Host`` (None: none sent) for ``protocol``
    (the request line's ``HTTP/1.x``)."""
    if host is None:
        return protocol != "HTTP/1.1"
    match = _HOST.fullmatch(host)
    return match is not None and int(match.group("port") or 0) <= 65535


def _check_path(path_info: str) -> None:
    """The path as the server decoded it (WSGI: its bytes as Latin-1 characters)."""
    try:
        path = path_info.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequest("the path is not UTF-8 (percent-encoded or raw)") from None
    refuse_control(path, "the path")


def _check_encoded(what: str, data: bytes) -> None:
    """``data`` (``name=value&…``, percent-encoded) is UTF-8, raw and decoded. Decoded as a
    whole, not name by name and value by value (half the time of ``parse_qsl``, per request):
    the separators are ASCII, so the whole is UTF-8 exactly when each part is."""
    try:
        unquote_to_bytes(data.decode("utf-8")).decode("utf-8")
    except UnicodeError:
        raise BadRequest(f"{what} is not UTF-8 (percent-encoded or raw)") from None


def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    if request.method == "OPTIONS":
        methods = response.allow.to_header() if response.allow else "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response


def _security_headers(response: Response) -> Response:
    page = response.mimetype == "text/html"
    response.headers["Content-Security-Policy"] = PAGE_POLICY if page else DATA_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _error_response(error: HTTPException, settings: Settings) -> Response:
    """``error`` as text or a page, keeping the headers it brings (``Allow`` of a 405, …)."""
    code = error.code or 500
    description = error.description or ""
    if isinstance(error, RequestEntityTooLarge):
        description = f"a request body may have at most {settings.max_request_bytes} bytes"
    response = error_page(code, error.name, description)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response
