"""The HTTP side of talking to a SPARQL store (``kg push``, ``kg query``): signing in,
SPARQLWrapper set up the same way for every request, and every failure one line.

Why apart from :mod:`kg.remote`: what a store does wrong at the HTTP level (a digest
challenge answered by closing the connection, a status wrapped in SPARQLWrapper's own
exceptions) is handled once here, whatever is sent. A base module: it imports nothing of kg.
"""

from __future__ import annotations

import ast
import base64
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

#: Seconds one request to a store may take.
TIMEOUT = 300.0
#: SPARQLWrapper's exception for an HTTP status -> that status.
_STATUS = {
    "QueryBadFormed": "400 Bad Request",
    "Unauthorized": "401 Unauthorized",
    "EndPointNotFound": "404 Not Found",
    "URITooLong": "414 URI Too Long",
    "EndPointInternalError": "500 Internal Server Error",
}


class RemoteError(OSError):
    """A store or endpoint could not be reached or refused the request."""


@dataclass(frozen=True)
class Endpoint:
    """A SPARQL service and how to sign in to it."""

    url: str
    user: str | None = None
    password: str | None = None
    #: ``basic`` or ``digest`` (Virtuoso's authenticated endpoints use digest).
    auth: str = "basic"


def open_request(endpoint: Endpoint, request: urllib.request.Request) -> Any:
    authorization = sign_in(endpoint, request.get_method(), request.full_url)
    if authorization is not None:
        request.add_unredirected_header("Authorization", authorization)
    try:
        return urllib.request.build_opener().open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as error:
        detail = _first_line(error.read())
        raise RemoteError(f"{endpoint.url}: HTTP {error.code} {error.reason}{detail}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RemoteError(f"cannot reach {endpoint.url}: {reason}") from None


def sign_in(endpoint: Endpoint, method: str, url: str) -> str | None:
    """The ``Authorization`` header of a request, sent with it the first time: a store that
    answers ``401`` before it reads a body of megabytes (Virtuoso) closes the connection, and
    the client then sees a broken pipe instead of the challenge. Digest: the challenge is
    fetched first by a ``HEAD`` without a body, and answered for the request to come."""
    if endpoint.user is None:
        return None
    password = endpoint.password or ""
    if endpoint.auth == "basic":
        token = base64.b64encode(f"{endpoint.user}:{password}".encode()).decode("ascii")
        return f"Basic {token}"
    try:
        with urllib.request.build_opener().open(_head(url), timeout=TIMEOUT):
            return None  # no sign-in asked for
    except urllib.error.HTTPError as error:
        challenge = error.headers.get("WWW-Authenticate", "")
    except (urllib.error.URLError, OSError) as error:
        raise RemoteError(
            f"cannot reach {endpoint.url}: {getattr(error, 'reason', error)}"
        ) from None
    scheme, _, parameters = challenge.partition(" ")
    if scheme.lower() != "digest":
        raise RemoteError(f"{endpoint.url}: asks for no digest sign-in ({challenge or 'none'})")
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, url, endpoint.user, password)
    digest = urllib.request.HTTPDigestAuthHandler(passwords)
    fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(parameters))
    _check_signed_in(endpoint, url, f"Digest {digest.get_authorization(_head(url), fields)}")
    answer = digest.get_authorization(urllib.request.Request(url, method=method), fields)
    return f"Digest {answer}"


def _head(url: str) -> urllib.request.Request:
    return urllib.request.Request(url, method="HEAD")


def _check_signed_in(endpoint: Endpoint, url: str, authorization: str) -> None:
    """A wrong password is told as the ``401`` it is (sent with a body, the store would close
    the connection before it reads it)."""
    request = _head(url)
    request.add_unredirected_header("Authorization", authorization)
    try:
        with urllib.request.build_opener().open(request, timeout=TIMEOUT):
            return
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise RemoteError(f"{endpoint.url}: HTTP 401 {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise RemoteError(
            f"cannot reach {endpoint.url}: {getattr(error, 'reason', error)}"
        ) from None


def _wrapped_body(error: Exception) -> str:
    """The first line of the answer SPARQLWrapper put into its message (as a bytes repr)."""
    _, found, written = str(error).partition("Response:\n")
    try:
        body = ast.literal_eval(written) if found else b""
    except (ValueError, SyntaxError):
        body = b""
    return _first_line(body if isinstance(body, bytes) else b"")


def _first_line(body: bytes) -> str:
    lines = [line.strip() for line in body.decode("utf-8", "replace").splitlines()]
    first = next((line for line in lines if line), "")
    return f": {first[:200]}" if first else ""


def client(endpoint: Endpoint) -> Any:
    from SPARQLWrapper import SPARQLWrapper

    sparql = SPARQLWrapper(endpoint.url)
    sparql.setTimeout(int(TIMEOUT))
    # The format by Accept alone, as the SPARQL protocol has it: the extra ``format=json``
    # SPARQLWrapper adds makes Virtuoso answer an ASK in its own JSON, not SPARQL JSON.
    sparql.setOnlyConneg(True)
    sparql.setMethod("POST")  # every request: a form body, however long the query
    # Signed in by our own header (see sign_in), not by SPARQLWrapper's opener, which
    # would be installed for the whole process.
    authorization = sign_in(endpoint, "POST", endpoint.url)
    if authorization is not None:
        sparql.addCustomHttpHeader("Authorization", authorization)
    return sparql


def perform(endpoint: Endpoint, sparql: Any) -> bytes:
    """The answer's body; every failure a one-line :class:`RemoteError`."""
    from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

    try:
        response = sparql.query().response
        body: bytes = response.read()
        return body
    except urllib.error.HTTPError as error:
        detail = _first_line(error.read())
        raise RemoteError(f"{endpoint.url}: HTTP {error.code} {error.reason}{detail}") from None
    except SPARQLWrapperException as error:  # SPARQLWrapper's name for an HTTP error status
        status = _STATUS.get(type(error).__name__, "error")
        raise RemoteError(f"{endpoint.url}: HTTP {status}{_wrapped_body(error)}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RemoteError(f"cannot reach {endpoint.url}: {reason}") from None
