"""``/health``: is the server up, and what does it serve: the snapshot and commit, from the
manifest of the snapshot this request is answered from."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from server.services.dataset import current_dataset

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> Response:
    manifest = current_dataset().manifest
    return jsonify(
        status="ok",
        snapshot=manifest.snapshot,
        commit=manifest.commit,
        built_at=manifest.built_at,
        triples=manifest.triples,
        documents=dict(manifest.documents),
        validation=dict(manifest.validation or {}),
    )
