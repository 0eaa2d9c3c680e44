"""Request parameters that take one value, and text that must hold no control characters.

Werkzeug's ``args.get(name)`` quietly takes the first of several values. A parameter whose
second value can only be a mistake (the lookup's ``urn``: which one?) is read here instead and
refused with a reason (``400``); SPARQL's ``query`` and ``version`` are refused the same way by
the endpoint, as the protocol says. ``format`` is not: the first value counts, because
SPARQLWrapper, the common Python client, sends it twice (its name for the format, then media
types). A control character (CR, LF, NUL, …) in a path or in the text of a lookup is refused
too: it could only end up in a ``Location`` header or in the log.
"""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

#: C0 and C1 controls and DEL.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def single_value(params: MultiDict[str, str], name: str) -> str | None:
    """The one value of ``name`` (None when absent); :class:`BadRequest` when given twice."""
    values = params.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"give the parameter {name} once (it was given {len(values)} times)")
    return values[0] if values else None


def refuse_control(text: str, what: str) -> str:
    """``text``; :class:`BadRequest` naming ``what`` when it holds a control character."""
    control = CONTROL.search(text)
    if control is not None:
        raise BadRequest(f"{what} holds a control character (U+{ord(control.group()):04X})")
    return text


def html_or_json() -> str:
    """``?format=`` (the first value: ``html`` or ``json``), else what ``Accept`` prefers;
    HTML when in doubt. For the pages that are also a small JSON API."""
    from flask import request

    given = request.args.get("format")
    if given is not None:
        if given not in ("html", "json"):
            raise BadRequest("format must be one of: html, json")
        return given
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], "text/html")
    return "json" if best == "application/json" else "html"
