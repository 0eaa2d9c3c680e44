"""``/zoeken``: full-text search over the publication, as a page or as JSON.

The index is the publication's ``search.sqlite`` (:mod:`kg.search`), searched by
:mod:`server.services.search`; the lookup box (``/lookup``, :mod:`server.routes.pages`) falls
back to the same results page. Also gives templates :func:`official_page`: a resource's page on
the official website, which the resource page links near its title.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from kg.namespace import FOAF_IRI
from server.services.describe import Page
from server.services.parameters import refuse_control, single_value
from server.services.responses import error_page
from server.services.search import (
    SearchUnavailable,
    open_index,
    results_answer,
    search,
)

blueprint = Blueprint("search", __name__)

_FOAF_PAGE = f"{FOAF_IRI}page"


@blueprint.get("/zoeken")
def search_page() -> Response:
    """``?q=`` the words to find (``format=json`` or ``Accept: application/json``: JSON)."""
    text = refuse_control((single_value(request.args, "q") or "").strip(), "the search")
    if not text:
        return results_answer(text, [])
    try:
        with open_index() as connection:
            hits = search(connection, text)
    except SearchUnavailable:
        return error_page(503, "Service Unavailable", "deze publicatie heeft geen zoekindex")
    return results_answer(text, hits)


@blueprint.app_template_global()
def official_page(page: Page) -> str | None:
    """The page of ``page``'s resource on the official website (``foaf:page``), if it has one."""
    for prop in page.properties:
        if prop.iri == _FOAF_PAGE:
            return next((value.href for value in prop.values if value.href), None)
    return None
