"""``/zoeken``: full-text search over the publication, as a page or as JSON.

The index is the publication's ``search.sqlite`` (:mod:`kg.search`), searched by
:mod:`server.services.search`; the lookup box (``/lookup``, :mod:`server.routes.pages`) falls
back to the same results page. Also gives templates :func:`official_page`: a resource's page on
the official website, which the resource page links near its title.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest

from kg.namespace import FOAF_IRI
from server.services.describe import Page
from server.services.page_cache import cached_page
from server.services.parameters import html_or_json, refuse_control, single_value
from server.services.responses import error_page
from server.services.search import (
    MAX_PAGES,
    Results,
    SearchUnavailable,
    find,
    kind_key,
    kinds_indexed,
    open_index,
    results_answer,
)

blueprint = Blueprint("search", __name__)

_FOAF_PAGE = f"{FOAF_IRI}page"


@blueprint.get("/zoeken")
@cached_page(html_or_json)
def search_page() -> Response:
    """``?q=`` the words to find, ``pagina=`` which page of the results (from 1), ``soort=``
    only resources of one kind (``vereiste``, ``maatregel``, …); ``format=json`` or ``Accept:
    application/json``: JSON."""
    text = refuse_control((single_value(request.args, "q") or "").strip(), "the search")
    page = _page_number(single_value(request.args, "pagina"))
    kind = single_value(request.args, "soort") or ""
    if not text:
        return results_answer(text, Results.listed([]))
    try:
        with open_index() as connection:
            kinds = {kind_key(found): found for found in kinds_indexed(connection)}
            if kind and kind not in kinds:
                raise BadRequest(f"soort must be one of: {', '.join(sorted(kinds))}")
            results = find(connection, text, page, kinds.get(kind))
    except SearchUnavailable:
        return error_page(503, "Service Unavailable", "deze publicatie heeft geen zoekindex")
    return results_answer(text, results, kind=kind)


def _page_number(given: str | None) -> int:
    if given is None:
        return 1
    if not given.isdigit() or not 1 <= int(given) <= MAX_PAGES:
        raise BadRequest(f"pagina must be a whole number from 1 to {MAX_PAGES}")
    return int(given)


@blueprint.app_template_global()
def official_page(page: Page) -> str | None:
    """The page of ``page``'s resource on the official website (``foaf:page``), if it has one."""
    for prop in page.properties:
        if prop.iri == _FOAF_PAGE:
            return next((value.href for value in prop.values if value.href), None)
    return None
