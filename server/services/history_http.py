"""The release history on URN pages: old URNs that never break, a release's meaning, history.

Called by the resource route (:mod:`server.routes.resource`) so that it stays one small hook:

* :func:`moved_answer`: a URN no current document has but history knows answers ``301`` to the
  URN its document has now; when it went to several, or was removed, a page (``300`` / ``410``)
  says where it went and when it was last seen, with links. None: history never knew it
  (the route answers ``404`` as before).
* :func:`release_answer`: ``/id/<urn>?release=<tag>`` is the resource as release ``tag`` had
  it (its page drawn from that release's graph), ``404`` for an unknown release or a URN that
  release does not have.
* :func:`history_context`: what the "Geschiedenis" part of a resource page shows (releases,
  first and last seen, last modified, the diffs where it changed) and the notice of a reused
  URN ("tot v1.5.1 heette deze URN …; dat document is nu …").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pyoxigraph as ox
from flask import Response, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from kg.namespace import DATA_GRAPH, DCTERMS_IRI, RDF_IRI, URN_PREFIX
from server.services.addresses import resource_url
from server.services.dataset import current_dataset
from server.services.describe import describe_page, describe_triples
from server.services.history import (
    Fate,
    ResourceHistory,
    current_urns,
    fate,
    find_release,
    notices,
    resource_history,
    tag_of,
)
from server.services.history_diff import release_view
from server.services.index import current_index
from server.services.representation import FORMATS, HTML, negotiate, serialize
from server.services.responses import error_page, not_acceptable, plain_text, prefers_html

_TYPE = ox.NamedNode(f"{RDF_IRI}type")
_TITLE = ox.NamedNode(f"{DCTERMS_IRI}title")


def moved_answer(urn: str) -> BaseResponse | None:
    """The answer for ``urn`` when no current document has it (None: a current document has
    it, or history does not know it)."""
    releases = current_dataset().releases
    if releases is None or not urn.startswith(URN_PREFIX):
        return None
    node = ox.NamedNode(urn)
    if any(current_dataset().store.quads_for_pattern(node, _TYPE, None, ox.NamedNode(DATA_GRAPH))):
        return None
    found = fate(releases, urn, current_urns(releases))
    if found is None:
        return None
    if found.current is not None:
        target = url_for("resource.by_id", urn=found.current, format=request.args.get("format"))
        response = Response(status=301, headers={"Location": target})
        response.vary.add("Accept")
        return response
    status = 300 if found.candidates and found.last_seen is None else 410
    return _fate_page(found, status)


def _fate_page(found: Fate, status: int) -> Response:
    last = tag_of(found.last_seen) if found.last_seen else None
    if not prefers_html(request.accept_mimetypes):
        lines = [f"{status} {'Multiple Choices' if status == 300 else 'Gone'}: {found.urn}"]
        if last:
            lines.append(f"last seen in release {last}")
        lines += [f"  now: {urn}" for urn in found.candidates]
        return plain_text(status, "\n".join(lines))
    body = render_template(
        "history_moved.html",
        fate=found,
        last=last,
        trail=[(tag_of(m.release), m) for m in found.trail],
        candidates=[(urn, resource_url(urn)) for urn in found.candidates],
    )
    return Response(body, status, content_type="text/html; charset=utf-8")


def release_answer(urn: str, tag: str) -> BaseResponse:
    """``urn`` as release ``tag`` had it: its page, or its triples in the format negotiated."""
    dataset = current_dataset()
    graph = find_release(dataset.releases, tag) if dataset.releases is not None else None
    if graph is None or dataset.releases is None:
        return error_page(404, "Not Found", f"Geen release {tag!r} in deze publicatie.")
    view = release_view(dataset.releases, graph, dataset.store)
    page = describe_page(view, current_index(), {}, urn)
    if not page.described:
        return error_page(404, "Not Found", f"Release {tag} kent {urn} niet.")
    fmt = negotiate(request.accept_mimetypes, request.args.get("format"))
    if fmt is None:
        return not_acceptable(FORMATS)
    if fmt is not HTML:
        triples = serialize(describe_triples(view, urn), fmt)
        response = Response(triples, content_type=fmt.content_type)
        response.vary.add("Accept")
        return response
    titles = view.quads_for_pattern(ox.NamedNode(urn), _TITLE, None, None)
    title = next((q.object.value for q in titles if isinstance(q.object, ox.Literal)), None)
    page = replace(page, title=title or page.title)  # as that release had it
    page_html = render_template(
        "resource.html", page=page, alternates=[], release=tag, history=None, notices=[]
    )
    response = Response(page_html, content_type=HTML.content_type)
    response.vary.add("Accept")
    return response


def history_context(urn: str) -> dict[str, Any]:
    """Template values for the history part of ``urn``'s page (empty without releases)."""
    releases = current_dataset().releases
    if releases is None:
        return {"history": None, "notices": []}
    found = resource_history(releases, urn)
    said = notices(releases, urn, current_urns(releases))
    return {
        "history": _history_view(found) if found else None,
        "notices": [(tag_of(n.until), n.title, n.now) for n in said],
    }


def _history_view(found: ResourceHistory) -> dict[str, Any]:
    return {
        "releases": [tag_of(name) for name in found.releases],
        "first": tag_of(found.first) if found.first else None,
        "last": tag_of(found.last) if found.last else None,
        "modified": found.modified,
        "changes": [
            (tag_of(a), tag_of(b), url_for("releases.diff", span=f"{tag_of(a)}..{tag_of(b)}"))
            for a, b in found.changes
        ],
        "moves": [(tag_of(m.release), m.old, m.new, m.old_title) for m in found.moves],
    }
