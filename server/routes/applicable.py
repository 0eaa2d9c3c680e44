"""``/applicable``: which vereisten apply to an AI-Act profile, as a page or as JSON.

The answer is the one :mod:`kg.profile` computes with one SPARQL query on the served store
(its default graph as the union, as ``/sparql`` has it), and that query is part of the answer:
posting it to ``/sparql`` gives the same rows. ``kg applicable`` runs the same query on the
content it builds. The lines of the exceptions (``bron``) come from the publication's source map
(``sourcemap.json``), read once per snapshot with the dataset.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request
from werkzeug.exceptions import BadRequest

from kg.profile import (
    GROUPS,
    VALUES_QUERY,
    ProfileError,
    answer_for_store,
    rule_sources,
    select,
    valid_values,
)
from server.services.dataset import current_dataset
from server.services.parameters import html_or_json, refuse_control

blueprint = Blueprint("applicable", __name__)


@blueprint.get("/applicable")
def applicable() -> Response | str:
    """The profile from the query string (each group repeatable; ``format`` once: html, json)."""
    chosen: dict[str, list[str]] = {}
    for name, values in request.args.lists():
        refuse_control(name, "a parameter name")
        if name != "format":
            chosen[name] = [refuse_control(value, f"the parameter {name}") for value in values]
    wanted = html_or_json()
    dataset = current_dataset()
    try:
        answer = answer_for_store(
            dataset.store,
            chosen,
            rule_sources(dataset.resources),
            union=True,
        )
    except ProfileError as error:
        raise BadRequest(str(error)) from None
    if wanted == "json":
        response = jsonify(answer.to_json())
    else:
        rows = select(dataset.store, VALUES_QUERY, union=True)
        valid = valid_values((row["predicate"], row["value"]) for row in rows)
        page = render_template(
            "applicable.html",
            answer=answer,
            groups=[(group, valid[group], answer.profiel.get(group)) for group, _ in GROUPS],
        )
        response = Response(page, content_type="text/html; charset=utf-8")
    response.vary.add("Accept")
    return response
