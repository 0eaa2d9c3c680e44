"""The Flask application that publishes a built graph: SPARQL, dumps, URN pages.

``create_app(settings)`` is the application factory; it loads the publication folder once at
start-up and registers the blueprints. The server reads only ``dist/``: it never builds.
"""

from __future__ import annotations

from flask import Flask

from kg.config import Settings
from server.dataset import load_dataset


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["KG_SETTINGS"] = settings
    app.extensions["kg_dataset"] = load_dataset(settings.out)

    from server.dumps import blueprint as dumps
    from server.health import blueprint as health
    from server.pages import blueprint as pages
    from server.resource import blueprint as resource
    from server.sparql import blueprint as sparql

    app.register_blueprint(health)
    app.register_blueprint(sparql)
    app.register_blueprint(dumps)
    app.register_blueprint(resource)
    app.register_blueprint(pages)
    return app
