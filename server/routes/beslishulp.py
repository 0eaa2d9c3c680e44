"""``/beslishulp``: the AI-Act decision aid, one question at a time, rendered on the server.

Every step is a plain GET address holding the answers so far (``?a=1&a=5&a=2``: the number of
the answer picked at each question in turn), so a step can be shared, bookmarked and reached
without JavaScript; the question is a form of radio buttons that submits to the next step. At a
conclusion the page shows the obligations, the profile the labels stand for and the vereisten
that then apply (the answer of ``/applicable``), with their maatregelen and hulpmiddelen per
lifecycle phase; ``format=csv`` and ``format=xlsx`` export the list, and the page prints
cleanly (a print stylesheet).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from werkzeug.exceptions import BadRequest, NotFound

from kg.decision_walk import MAX_STEPS, WalkError
from kg.manifest import BESLISHULP
from server.services.beslishulp import (
    current_tree,
    decide,
    export_csv,
    export_xlsx,
    tree_html,
)
from server.services.dataset import current_dataset
from server.services.parameters import refuse_control

blueprint = Blueprint("beslishulp", __name__)

_EXPORTS = {
    "csv": ("text/csv; charset=utf-8", "csv", export_csv),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
        export_xlsx,
    ),
}


@blueprint.app_context_processor
def _beslishulp_link() -> dict[str, bool]:
    """Whether the request's snapshot has the decision aid, for the header's link: its
    manifest (read once per snapshot, with it) lists ``beslishulp.json``; no file is read."""
    return {"has_beslishulp": BESLISHULP.name in current_dataset().manifest.files}


@blueprint.get("/beslishulp")
def beslishulp() -> Response:
    dataset = current_dataset()
    tree, labels = current_tree(dataset)
    if tree is None:
        raise NotFound("deze publicatie is gebouwd zonder beslishulp (kg build --beslishulp)")
    answers = _answers()
    try:
        decision = decide(tree, labels, answers, dataset)
    except WalkError as error:
        raise BadRequest(f"deze antwoorden passen niet bij de beslishulp: {error}") from None
    wanted = request.args.get("format", "html")
    if wanted != "html":
        if wanted not in _EXPORTS:
            raise BadRequest(f"format must be one of: html, {', '.join(_EXPORTS)}")
        if decision.position.conclusion is None:
            raise BadRequest("een export is er pas bij een conclusie")
        media_type, extension, render = _EXPORTS[wanted]
        response = Response(render(decision), content_type=media_type)
        response.headers["Content-Disposition"] = (
            f'attachment; filename="beslishulp-vereisten.{extension}"'
        )
        return response
    page = render_template(
        "beslishulp.html",
        tree=tree,
        decision=decision,
        answers=answers,
        back=_step_url(answers[:-1]) if answers else None,
        step_url=_step_url,
        tree_html=tree_html,
    )
    return Response(page, content_type="text/html; charset=utf-8")


def _answers() -> list[int]:
    """The ``a`` parameters: answer numbers, at most :data:`MAX_STEPS`."""
    values = request.args.getlist("a")
    if len(values) > MAX_STEPS:
        raise BadRequest(f"at most {MAX_STEPS} answers")
    answers = []
    for value in values:
        refuse_control(value, "the parameter a")
        if not value.isascii() or not value.isdigit() or len(value) > 3:
            raise BadRequest(f"the parameter a is the number of an answer, not {value!r}")
        answers.append(int(value))
    return answers


def _step_url(answers: list[int], format: str | None = None) -> str:
    """The address of the step after ``answers`` (``format``: an export of it)."""
    values: dict[str, Any] = {"a": answers}
    if format is not None:
        values["format"] = format
    return url_for("beslishulp.beslishulp", **values)
