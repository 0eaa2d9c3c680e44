"""What every answer of the site has in common, installed once on the application.

* **CORS.** Everything here is public, read-only data, so any origin may read every answer
  (errors too): ``Access-Control-Allow-Origin: *``, and the headers a script needs to use what
  it got are exposed (validators, digests, links, the SPARQL result limits). A preflight
  (``OPTIONS``, answered by Flask for every route) allows the methods of that route (its
  ``Allow`` header) and the request headers the site reads.
* **Errors.** Every HTTP error (unknown path, wrong method, too large, bad request, …) is
  answered by one handler: plain text for programs, a page of the site for browsers
  (:func:`server.services.responses.error_page`). Routes answer their own ``404`` for an
  unknown URN (with close matches) and ``406`` (with the formats), from the same module.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from kg.config import Settings
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


def install_http_policy(app: Flask, settings: Settings) -> None:
    """CORS on every response and the one handler of HTTP errors."""
    app.after_request(_cors)

    def http_error(error: HTTPException) -> Response:
        return _error_response(error, settings)

    app.register_error_handler(HTTPException, http_error)


def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    if request.method == "OPTIONS":
        methods = response.allow.to_header() if response.allow else "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
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
