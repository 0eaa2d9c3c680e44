"""URN dereferencing: ``/id/<urn>`` and the bare ``/<urn>``, by content negotiation.

Both URL forms answer ``200`` with the representation chosen (no redirect), and say where that
representation lives on its own with ``Content-Location: /id/<urn>?format=<key>``; every
format is announced in ``Link: <…>; rel="alternate"; type="…"`` headers and the response
varies on ``Accept``. The bare form also links to ``/id/<urn>`` as ``rel="canonical"``.

* a section (``<urn>#slug``, sent as ``%23``) or a URN in the wrong case: redirect to the
  document's ``/id/`` address (``303`` with ``#slug`` kept; ``301`` for case);
* no acceptable format: ``406`` listing the formats;
* an unknown URN, or something that is not an ``urn:nl:ak:`` URN: ``404`` with close matches.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response as BaseResponse

from kg.namespace import URN_PREFIX
from server.dataset import current_dataset
from server.describe import describe_page, describe_triples
from server.index import close_matches, current_index, install_index
from server.representation import FORMATS, HTML, Format, negotiate, serialize

blueprint = Blueprint("resource", __name__)


class UrnConverter(PathConverter):
    """A path that is a URN (``urn:`` in any case): the bare ``/<urn>`` form."""

    regex = "[Uu][Rr][Nn]:.*"


def _setup(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("urn", UrnConverter)
    install_index(state.app)


blueprint.record_once(_setup)


@blueprint.get("/id/<path:urn>")
def by_id(urn: str) -> BaseResponse:
    return dereference(urn, bare=False)


@blueprint.get("/<urn:urn>")
def bare(urn: str) -> BaseResponse:
    return dereference(urn, bare=True)


def resource_url(iri: str, fmt: Format | None = None) -> str:
    """The site address of a URN (``#fragment`` kept), optionally of one format."""
    urn, _, fragment = iri.partition("#")
    url = url_for("resource.by_id", urn=urn, format=fmt.key if fmt else None)
    return f"{url}#{fragment}" if fragment else url


def dereference(raw: str, bare: bool) -> BaseResponse:
    index = current_index()
    base, hash_sign, fragment = raw.partition("#")
    urn = index.canonical(base) if base.lower().startswith(URN_PREFIX) else None
    if urn is None:
        return not_found(raw)
    if hash_sign or urn != base:
        target = url_for("resource.by_id", urn=urn, format=request.args.get("format"))
        location = f"{target}#{fragment}" if fragment else target
        response = redirect(location, 303 if hash_sign else 301)
        response.vary.add("Accept")
        return response
    links = [f'<{resource_url(urn, f)}>; rel="alternate"; type="{f.media_type}"' for f in FORMATS]
    if bare:
        links.append(f'<{resource_url(urn)}>; rel="canonical"')
    fmt = negotiate(request.accept_mimetypes, request.args.get("format"))
    if fmt is None:
        response = not_acceptable(urn)
    else:
        tag = _etag(urn, fmt)
        if request.if_none_match.contains(tag):
            response = Response(status=304)  # nothing is described again
        else:
            response = Response(_body(urn, fmt), content_type=fmt.content_type)
        response.set_etag(tag)
        response.headers["Content-Location"] = resource_url(urn, fmt)
    response.headers["Link"] = ", ".join(links)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Content-Location, Link, ETag"
    response.vary.add("Accept")
    return response


def _etag(urn: str, fmt: Format) -> str:
    """Strong validator of one representation: it changes exactly when the publication does."""
    files = current_dataset().manifest.get("files", {})
    graph = files.get("graph.nt", {}).get("sha256", "") if isinstance(files, dict) else ""
    return hashlib.sha256(f"{graph} {urn} {fmt.key}".encode()).hexdigest()[:32]


def _body(urn: str, fmt: Format) -> str | bytes:
    store = current_dataset().store
    if fmt is HTML:
        page = describe_page(store, current_index(), urn, resource_url)
        alternates = [(f, resource_url(urn, f)) for f in FORMATS if f is not HTML]
        return render_template("resource.html", page=page, alternates=alternates)
    return serialize(describe_triples(store, urn), fmt)


def not_acceptable(urn: str) -> Response:
    lines = [
        "406 Not Acceptable: none of the formats this resource has matches the Accept header.",
        "",
        "Available formats (media type, address):",
        *(f"  {f.media_type}\t{resource_url(urn, f)}" for f in FORMATS),
        "",
        "Ask for one of these media types, or add ?format=" + "|".join(f.key for f in FORMATS),
    ]
    return Response("\n".join(lines) + "\n", 406, content_type="text/plain; charset=utf-8")


def not_found(text: str) -> Response:
    """``404`` for ``text`` (a URN or not), with the URNs it may have meant."""
    index = current_index()
    looks_right = text.strip().lower().startswith(URN_PREFIX)
    matches = [(urn, index.label(urn), resource_url(urn)) for urn in close_matches(index, text)]
    wants_html = (
        not request.accept_mimetypes
        or request.accept_mimetypes.best_match(["text/html", "text/plain"]) == "text/html"
    )
    if wants_html:
        body = render_template(
            "not_found.html", text=text, looks_right=looks_right, matches=matches
        )
        response = Response(body, 404, content_type="text/html; charset=utf-8")
    else:
        lines = [f"404 Not Found: {text!r} is not a URN of this graph."]
        if not looks_right:
            lines.append(f"URNs here start with {URN_PREFIX}")
        if matches:
            lines += ["", "Did you mean:", *(f"  {urn}\t{label}" for urn, label, _ in matches)]
        response = Response("\n".join(lines) + "\n", 404, content_type="text/plain; charset=utf-8")
    response.vary.add("Accept")
    return response
