"""``/releases`` and ``/diff/A..B``: the release history of the content on the web.

Both read the snapshot's release store (``releases.nq`` of ``kg build --git``,
:mod:`server.services.history`); a publication without one lists no releases and answers
``404`` for a dump or a diff.

* ``/releases`` (HTML, or JSON by ``?format=json`` / ``Accept``): every release, oldest first,
  with its tag, date, commit, documents per kind, a citation line, its Turtle dump
  (``/releases/<tag>/dump.ttl``, drawn from its graph) and the diff with the one before.
* ``/diff/<A>..<B>`` (HTML, JSON, or Turtle: a changeset, :mod:`server.services.history_diff`):
  resources added, removed, renamed and changed, with the properties that changed.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Response, jsonify, render_template, request, url_for
from werkzeug.exceptions import BadRequest, NotFound

from kg.diff import DiffError
from kg.diff import diff as compute_diff
from kg.serialization import prefix_map
from server.services.dataset import current_dataset
from server.services.history import ReleaseInfo, find_release, release_infos
from server.services.history_diff import CHANGESET, changeset, release_graph_triples
from server.services.page_cache import cached_page

blueprint = Blueprint("releases", __name__)

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
        "dump": url_for("releases.dump", tag=info.tag, _external=True),
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
            render_template("releases.html", releases=rows),
            content_type="text/html; charset=utf-8",
        )
    response.vary.add("Accept")
    return response


@blueprint.get("/releases/<tag>/dump.ttl")
@cached_page(lambda: "ttl")
def dump(tag: str) -> Response:
    store = _releases_store()
    graph = find_release(store, tag)
    if graph is None:
        raise NotFound(f"Geen release {tag!r} in deze publicatie.")
    body = ox.serialize(
        release_graph_triples(store, graph), format=ox.RdfFormat.TURTLE, prefixes=prefix_map()
    )
    return Response(body, content_type="text/turtle; charset=utf-8")


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
