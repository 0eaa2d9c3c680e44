"""``/health``: is the server up, and what does it serve."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from server.dataset import current_dataset

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> Response:
    manifest = current_dataset().manifest
    validation = manifest.get("validation", {})
    return jsonify(
        status="ok",
        commit=manifest.get("commit"),
        built_at=manifest.get("built_at"),
        triples=manifest.get("triples"),
        documents=manifest.get("documents"),
        validation=validation,
    )
