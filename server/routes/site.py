"""What every web site answers at fixed addresses: ``/favicon.ico`` and ``/robots.txt``; and
what every page's header links to that is not a route (the vocabulary, ``/id/urn:nl:ak:def:``).

Browsers ask for ``/favicon.ico`` whatever the page links to; it is a 32×32 icon in
``server/static`` (the pages also link the SVG one beside it). ``robots.txt`` lets crawlers
read the pages and the downloads, but not the addresses where every request runs work: the
SPARQL endpoint (each request is a query) and the lookup box (a search). Both are built from
the routes with ``url_for``, so they follow the routes if they move.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory, url_for

from kg.namespace import AK_IRI
from server.services.responses import plain_text

blueprint = Blueprint("site", __name__)

#: Endpoints crawlers are asked to leave alone: each request runs a query or a search.
EXPENSIVE_ENDPOINTS = ("sparql.endpoint", "pages.lookup")
#: How long browsers and caches may keep the icon and robots.txt (one day).
MAX_AGE = 24 * 3600


@blueprint.app_context_processor
def _site_links() -> dict[str, str]:
    """What the header of every page links to besides the routes: the vocabulary's URN."""
    return {"vocabulary_urn": AK_IRI}


@blueprint.get("/favicon.ico")
def favicon() -> Response:
    assert current_app.static_folder is not None
    response = send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon"
    )
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response


@blueprint.get("/robots.txt")
def robots() -> Response:
    lines = ["User-agent: *"]
    lines += [f"Disallow: {url_for(endpoint)}" for endpoint in EXPENSIVE_ENDPOINTS]
    lines.append(f"Allow: {url_for('pages.home')}")
    response = plain_text(200, "\n".join(lines))
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response
