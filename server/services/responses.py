"""The answers several routes give alike: plain-text errors, the one 406 body, the URN 404 page.

Errors are plain text (``text/plain; charset=utf-8``, first line ``<status> <reason>: <why>``)
unless the client prefers HTML to plain text, as a browser does; then they are a page of the
site. A ``406`` always lists the formats on offer with their ``?format=`` keys (and, where
the answer has one, each format's own address), whichever route sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Response, render_template, request
from werkzeug.datastructures import MIMEAccept

from kg.namespace import URN_PREFIX
from server.services.addresses import resource_url
from server.services.formats import HTML, Format, best_format
from server.services.index import close_matches, current_index

PLAIN_TEXT = Format("text", "text/plain", "Plain text")
_PLAIN_CONTENT_TYPE = PLAIN_TEXT.content_type


def prefers_html(accept: MIMEAccept) -> bool:
    """Whether the client would rather read an error as HTML than as plain text.

    Plain text wins ties, so ``*/*`` and no ``Accept`` at all (scripts, curl) get text; a
    browser names ``text/html``.
    """
    return best_format(accept, (PLAIN_TEXT, HTML)) is HTML


def plain_text(status: int, message: str) -> Response:
    return Response(message.rstrip("\n") + "\n", status, content_type=_PLAIN_CONTENT_TYPE)


def not_acceptable(
    offers: Sequence[Format], address: Callable[[Format], str] | None = None
) -> Response:
    """``406``: no offer fits ``Accept`` / ``?format=``; the body lists the offers.

    One line per format: media type, ``?format=`` key, title, and ``address(format)`` (the
    format's own address) when given.
    """
    lines = [
        "406 Not Acceptable: no format of this answer matches the Accept header (or ?format=).",
        "Available formats (media type, ?format= key, name" + (", address):" if address else "):"),
    ]
    for offer in offers:
        line = f"  {offer.media_type}\t?format={offer.key}\t{offer.title}"
        lines.append(f"{line}\t{address(offer)}" if address else line)
    response = plain_text(406, "\n".join(lines))
    response.vary.add("Accept")
    return response


def error_page(status: int, reason: str, description: str) -> Response:
    """An error as the client prefers it: a page of the site, or plain text."""
    if prefers_html(request.accept_mimetypes):
        body = render_template("error.html", status=status, reason=reason, description=description)
        response = Response(body, status, content_type=HTML.content_type)
    else:
        response = plain_text(status, f"{status} {reason}: {description}")
    response.vary.add("Accept")
    return response


def urn_not_found(text: str) -> Response:
    """``404`` for ``text`` (a URN or not), with the URNs it may have meant."""
    index = current_index()
    looks_right = text.strip().lower().startswith(URN_PREFIX)
    matches = [(urn, index.label(urn), resource_url(urn)) for urn in close_matches(index, text)]
    if prefers_html(request.accept_mimetypes):
        body = render_template(
            "not_found.html", text=text, looks_right=looks_right, matches=matches
        )
        response = Response(body, 404, content_type=HTML.content_type)
    else:
        lines = [f"404 Not Found: {text!r} is not a URN of this graph."]
        if not looks_right:
            lines.append(f"URNs here start with {URN_PREFIX}")
        if matches:
            lines += ["", "Did you mean:", *(f"  {urn}\t{label}" for urn, label, _ in matches)]
        response = plain_text(404, "\n".join(lines))
    response.vary.add("Accept")
    return response
