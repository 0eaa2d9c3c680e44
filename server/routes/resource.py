"""URN dereferencing: ``/id/<urn>`` and the bare ``/<urn>``, by content negotiation.

Both URL forms answer ``200`` with the representation chosen (no redirect), and say where that
representation lives on its own with ``Content-Location: /id/<urn>?format=<key>``; every
format is announced in ``Link: <…>; rel="alternate"; type="…"`` headers and the response
varies on ``Accept``. The bare form also links to ``/id/<urn>`` as ``rel="canonical"``.

* a section (``<urn>#slug``, sent as ``%23``) or a URN in the wrong case: redirect to the
  document's ``/id/`` address (``303`` with ``#slug`` kept; ``301`` for case);
* no acceptable format: ``406`` listing the formats and their addresses;
* an unknown URN, or something that is not an ``urn:nl:ak:`` URN: ``404`` with close matches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response as BaseResponse

from kg.namespace import URN_PREFIX
from server.services.addresses import resource_url, with_fragment
from server.services.dataset import current_dataset
from server.services.describe import describe_page, describe_triples
from server.services.exceptions import readable_exceptions
from server.services.history_http import history_context, moved_answer, release_answer
from server.services.index import current_index
from server.services.neighbourhood import neighbourhood
from server.services.page_cache import cached_page, representation_key
from server.services.representation import FORMATS, HTML, Format, negotiate, serialize
from server.services.responses import not_acceptable, urn_not_found

blueprint = Blueprint("resource", __name__)


class UrnConverter(PathConverter):
    """A path that is a URN (``urn:`` in any case): the bare ``/<urn>`` form."""

    regex = "[Uu][Rr][Nn]:.*"


def _setup(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("urn", UrnConverter)


blueprint.record_once(_setup)


@blueprint.get("/id/<path:urn>")
@cached_page(representation_key)
def by_id(urn: str) -> BaseResponse:
    return dereference(urn, bare=False)


@blueprint.get("/<urn:urn>")
@cached_page(representation_key)
def bare(urn: str) -> BaseResponse:
    return dereference(urn, bare=True)


def dereference(raw: str, bare: bool) -> BaseResponse:
    base, hash_sign, fragment = raw.partition("#")
    if "release" in request.args and base.startswith(URN_PREFIX):  # as a release had it
        return release_answer(base, request.args["release"])
    moved = moved_answer(base)  # a URN no current document has: where its document went
    if moved is not None:
        return moved
    urn = current_index().canonical(base) if base.lower().startswith(URN_PREFIX) else None
    if urn is None:
        return urn_not_found(raw)
    if hash_sign or urn != base:
        return _redirect(urn, fragment, 303 if hash_sign else 301)
    fmt = negotiate(request.accept_mimetypes, request.args.get("format"))
    response = _representation(urn, fmt) if fmt else not_acceptable(FORMATS, _address(urn))
    links = [f'<{resource_url(urn, f)}>; rel="alternate"; type="{f.media_type}"' for f in FORMATS]
    if bare:
        links.append(f'<{resource_url(urn)}>; rel="canonical"')
    response.headers["Link"] = ", ".join(links)
    response.vary.add("Accept")
    return response


def _redirect(urn: str, fragment: str, status: int) -> BaseResponse:
    target = url_for("resource.by_id", urn=urn, format=request.args.get("format"))
    response = redirect(with_fragment(target, fragment), status)
    response.vary.add("Accept")
    return response


def _address(urn: str) -> Callable[[Format], str]:
    return lambda fmt: resource_url(urn, fmt)


def _representation(urn: str, fmt: Format) -> Response:
    tag = _etag(urn, fmt)
    # If-None-Match compares weakly (RFC 9110 §13.1.2): nginx in front gives a gzipped answer
    # the weak form of the ETag, and a browser sends that back.
    if request.if_none_match.contains_weak(tag):
        response = Response(status=304)  # nothing is described again
    else:
        response = Response(_body(urn, fmt), content_type=fmt.content_type)
    response.set_etag(tag)
    response.headers["Content-Location"] = resource_url(urn, fmt)
    return response


def _etag(urn: str, fmt: Format) -> str:
    """Strong validator of one representation: it changes exactly when the publication does."""
    version = current_dataset().version
    return hashlib.sha256(f"{version} {urn} {fmt.key}".encode()).hexdigest()[:32]


def _body(urn: str, fmt: Format) -> str | bytes:
    dataset = current_dataset()
    if fmt is HTML:
        page = describe_page(dataset.store, current_index(), dataset.pages, urn)
        page, rules = readable_exceptions(dataset.store, current_index(), dataset.resources, page)
        alternates = [(f, resource_url(urn, f)) for f in FORMATS if f is not HTML]
        around = neighbourhood(dataset.store, current_index(), urn)
        return render_template(
            "resource.html",
            page=page,
            alternates=alternates,
            neighbourhood=around,
            exceptions=rules,
            **history_context(urn),
        )
    return serialize(describe_triples(dataset.store, urn), fmt)
