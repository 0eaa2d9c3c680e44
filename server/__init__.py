"""The Flask application that publishes a built graph: SPARQL, dumps, URN pages.

``create_app(settings)`` is the application factory: it loads the snapshot the publication
folder points at, and takes up each newer one as it is published (:mod:`server.services.dataset`,
indexed by :mod:`server.services.index`), installs what every
answer shares (CORS, error handling: :mod:`server.http_policy`) and registers the blueprints of
:mod:`server.routes`. The server reads only ``dist/``: it never builds, and it imports no code
from ``kg`` that parses content.
"""

from __future__ import annotations

from flask import Flask

from kg.config import Settings
from kg.manifest import FILES
from server.http_policy import install_http_policy, readable_host
from server.routes import (
    applicable,
    beslishulp,
    browse,
    dumps,
    health,
    pages,
    releases,
    resource,
    site,
    sparql,
    stats,
)
from server.routes import search as search_routes
from server.services.dataset import install_snapshots
from server.services.kept_files import install_kept_files
from server.services.page_cache import install_page_cache
from server.services.pool import install_lane


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["KG_SETTINGS"] = settings
    snapshots = install_snapshots(app, settings.out)
    install_lane(app, settings)
    install_page_cache(app, settings)
    install_http_policy(app, settings)
    for module in (
        health,
        sparql,
        dumps,
        resource,
        pages,
        applicable,
        stats,
        search_routes,
        browse,
        site,
        beslishulp,
        releases,
    ):
        app.register_blueprint(module.blueprint)
    # Published files and kept pages without Flask's dispatch (and the worker's poller sends
    # them: server.kept_lane); a page is kept only while the page cache is on.
    files = [f"/{file.served_as}" for file in FILES if file.served_as]
    install_kept_files(app, snapshots, files, readable_host, settings.page_cache_bytes)
    return app
