"""``/releases`` and ``/diff/A..B``: the release history of the content on the web.

Both read the snapshot's release store (``releases.nq`` of ``kg build --git``,
:mod:`server.services.history`); a publication without one lists no releases and answers
``404`` for a dump or a diff.

* ``/releases`` (HTML, or JSON by ``?format=json`` / ``Accept``): every release, oldest first,
  with its tag, date, commit, documents per kind, a citation line, its dumps and the diff with
  the one before.
* ``/releases/<tag>/dump.ttl`` (``.nt``, ``.jsonld``: the formats of the main dumps), or
  ``/releases/<tag>/dump`` in the format ``Accept`` / ``?format=`` asks for: the release's
  graph, sorted, with a strong ``ETag`` (it changes with ``releases.nq``, which it is drawn
  from) and ``Last-Modified`` (the build time), so a client revalidates with ``304``.
* ``/diff/<A>..<B>`` (HTML, JSON, or Turtle: a changeset, :mod:`server.services.history_diff`):
  resources added, removed, renamed and changed, with the properties that changed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec

import pyoxigraph as ox
from flask import Blueprint, Response, jsonify, render_template, request, url_for
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.http import is_resource_modified
from werkzeug.wrappers import Response as BaseResponse

from kg.diff import DiffError
from kg.diff import diff as compute_diff
from kg.manifest import RELEASES_NQ
from kg.serialization import prefix_map
from server.services.dataset import current_dataset
from server.services.formats import Format, choose_format, serialize_triples
from server.services.history import ReleaseInfo, find_release, release_infos
from server.services.history_diff import CHANGESET, changeset, release_graph_triples
from server.services.history_void import DUMP_FORMATS
from server.services.page_cache import cached_page
from server.services.responses import not_acceptable

blueprint = Blueprint("releases", __name__)
P = ParamSpec("P")

_FORMATS = {"html": "text/html", "json": "application/json", "ttl": "text/turtle"}


def _releases_store() -> ox.Store:
    store = current_dataset().releases
    if store is None:
        raise NotFound("Deze publicatie heeft geen releasegeschiedenis (kg build --git).")
    return store


def _format(offered: tuple[str, ...]) -> str:
    """``?format=`` (one of ``offered``), else what ``Accept`` prefers; HTML when in doubt."""
    given = request.args.get("format")
    if given is not None:
        if given not in offered:
            raise BadRequest(f"format must be one of: {', '.join(offered)}")
        return given
    types = [_FORMATS[key] for key in offered]
    best = request.accept_mimetypes.best_match(types, "text/html")
    return next(key for key in offered if _FORMATS[key] == best)


def _release_json(info: ReleaseInfo) -> dict[str, Any]:
    here = url_for("releases.overview", _anchor=info.tag, _external=True)
    return {
        "tag": info.tag,
        "graph": info.urn,
        "title": info.title,
        "date": info.date,
        "commit": info.commit,
        "triples": info.triples,
        "counts": dict(info.counts),
        "previous": info.previous,
        "dump": url_for("releases.dump", tag=info.tag, extension="ttl", _external=True),
        "dumps": {
            fmt.media_type: url_for("releases.dump", tag=info.tag, extension=key, _external=True)
            for key, fmt in DUMP_FORMATS.items()
        },
        "diff": url_for("releases.diff", span=f"{info.previous}..{info.tag}", _external=True)
        if info.previous
        else None,
        "citation": info.citation(here),
    }


@blueprint.get("/releases")
@cached_page(lambda: _format(("html", "json")))
def overview() -> Response:
    store = current_dataset().releases  # none: a publication without history lists none
    infos = release_infos(store) if store is not None else ()
    rows = [_release_json(info) for info in reversed(infos)]
    if _format(("html", "json")) == "json":
        response = jsonify({"releases": rows})
    else:
        response = Response(
            render_template("releases.html", releases=rows, dump_formats=DUMP_FORMATS),
            content_type="text/html; charset=utf-8",
        )
    response.vary.add("Accept")
    return response


def _dump_format(extension: str | None) -> Format | None:
    """The format of ``dump.<extension>``, or for ``dump`` the one ``Accept`` / ``?format=``
    asks for (None: none of them, 406)."""
    if extension is not None:
        return DUMP_FORMATS[extension]
    offers = tuple(DUMP_FORMATS.values())
    return choose_format(request.accept_mimetypes, request.args.get("format"), offers)


def _dump_variant() -> str:
    chosen = _dump_format(request.view_args.get("extension") if request.view_args else None)
    return chosen.key if chosen is not None else "-"


def _conditional(view: Callable[P, BaseResponse]) -> Callable[P, BaseResponse]:
    """The answer as ``304`` when the request's ``If-None-Match`` or ``If-Modified-Since``
    says the client has it: also for an answer the page cache kept (which revalidates only
    ``If-None-Match`` with the view)."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> BaseResponse:
        response = view(*args, **kwargs)
        if response.status_code == 200:
            response.make_conditional(request)
        return response

    return wrapper


@blueprint.get("/releases/<tag>/dump", defaults={"extension": None})
@blueprint.get(f"/releases/<tag>/dump.<any({', '.join(DUMP_FORMATS)}):extension>")
@_conditional
@cached_page(_dump_variant)
def dump(tag: str, extension: str | None) -> BaseResponse:
    store = _releases_store()
    graph = find_release(store, tag)
    if graph is None:
        raise NotFound(f"Geen release {tag!r} in deze publicatie.")
    fmt = _dump_format(extension)
    if fmt is None:
        return not_acceptable(tuple(DUMP_FORMATS.values()), lambda offer: _dump_url(tag, offer))
    manifest = current_dataset().manifest
    etag = hashlib.sha256(
        f"{manifest.sha256(RELEASES_NQ.name)} {tag} {fmt.key}".encode()
    ).hexdigest()[:32]
    modified = _built_at(manifest.built_at)
    if is_resource_modified(request.environ, etag=etag, last_modified=modified):
        body = serialize_triples(release_graph_triples(store, graph), fmt)
        response = Response(body, content_type=fmt.content_type)
    else:
        response = Response(status=304)  # nothing drawn from the store again
    response.set_etag(etag)
    response.last_modified = modified
    response.headers["Cache-Control"] = "public, no-cache"
    if extension is None:
        response.vary.add("Accept")
        response.headers["Content-Location"] = _dump_url(tag, fmt)
    return response


def _dump_url(tag: str, fmt: Format) -> str:
    extension = next(key for key, offer in DUMP_FORMATS.items() if offer is fmt)
    return url_for("releases.dump", tag=tag, extension=extension)


def _built_at(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@blueprint.get("/diff/<path:span>", endpoint="diff")
@cached_page(lambda: _format(("html", "json", "ttl")))
def diff_view(span: str) -> Response:
    first, dots, second = span.partition("..")
    if not dots or not first or not second:
        raise BadRequest("Geef twee releases als /diff/<A>..<B>, bijvoorbeeld /diff/v1.5..v2.0.")
    store = _releases_store()
    try:
        found = compute_diff(store, first, second)
    except DiffError as error:
        raise NotFound(str(error)) from None
    wanted = _format(("html", "json", "ttl"))
    if wanted == "json":
        response = jsonify(found.to_json())
    elif wanted == "ttl":
        graphs = (find_release(store, first) or "", find_release(store, second) or "")
        dates = {info.tag: info.date for info in release_infos(store)}
        triples = changeset(store, found, graphs, dates.get(second, ""))
        prefixes = {**prefix_map(), "cs": CHANGESET}
        body = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes)
        response = Response(body, content_type="text/turtle; charset=utf-8")
    else:
        page = render_template(
            "diff.html",
            diff=found,
            formats=[
                (key, url_for("releases.diff", span=span, format=key)) for key in ("json", "ttl")
            ],
        )
        response = Response(page, content_type="text/html; charset=utf-8")
    response.vary.add("Accept")
    return response
