"""``/statistieken``: the framework in numbers and pictures, as a page or as CSV.

The page draws each figure as inline SVG (:mod:`server.services.charts`) with its numbers in a
table below it and the SPARQL query that counts them; ``?format=csv`` gives every number
(``&grafiek=heatmap|wetten|onderwerpen|zonder-maatregelen`` one chart's). A heat-map cell and a
topic bar open the filtered list of those maatregelen when this server has the browse pages
(an endpoint of :data:`_BROWSE`, looked up at render time), and otherwise run the query of that
cell on ``/sparql`` (a topic bar: the topic's page).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BuildError

from server.services.addresses import resource_url
from server.services.charts import BarChart, bar_svg, heatmap_svg
from server.services.page_cache import cached_page
from server.services.parameters import refuse_control, single_value
from server.services.statistics import (
    CHARTS,
    Count,
    Overview,
    cell_query,
    csv_rows,
    current_overview,
    slug_of,
)

blueprint = Blueprint("stats", __name__)

#: Where the filtered list of maatregelen may live: (endpoint, its own arguments), first found.
_BROWSE: tuple[tuple[str, dict[str, str]], ...] = (
    ("browse.maatregelen", {}),
    ("browse.overview", {"name": "maatregelen"}),
)
_FORMATS = ("html", "csv")
_LAWS = BarChart(
    "wetten",
    "Vereisten per wet",
    "Staafdiagram: het aantal vereisten per wet of regeling, met het deel waarvoor geen "
    "maatregel bestaat. De getallen staan ook in de tabel onder de figuur.",
    "vereisten",
    "zonder maatregelen",
)
_TOPICS = BarChart(
    "onderwerpen",
    "Maatregelen per onderwerp",
    "Staafdiagram: het aantal maatregelen per onderwerp, het grootste eerst. De getallen staan "
    "ook in de tabel onder de figuur.",
    "maatregelen",
)


@blueprint.get("/statistieken")
@cached_page(lambda: "")  # the format is in the query string
def statistics() -> Response:
    wanted = refuse_control(request.args.get("format") or "html", "the parameter format")
    if wanted not in _FORMATS:
        raise BadRequest(f"format must be one of: {', '.join(_FORMATS)}")
    chart = single_value(request.args, "grafiek")
    if chart is not None and chart not in CHARTS:
        raise BadRequest(f"grafiek must be one of: {', '.join(CHARTS)}")
    numbers = current_overview()
    if wanted == "csv":
        return _csv(numbers, chart)
    page = render_template(
        "stats.html",
        overview=numbers,
        heatmap=heatmap_svg(numbers.heatmap, _cell_href),
        laws=bar_svg(_LAWS, numbers.laws, lambda count: None),
        topics=bar_svg(_TOPICS, numbers.topics, _topic_href),
        resource_url=resource_url,
        query_url=lambda query: url_for("sparql.endpoint", query=query),
    )
    return Response(page, content_type="text/html; charset=utf-8")


def _browse_href(**criteria: str) -> str | None:
    """The address of the maatregelen list filtered by ``criteria``, if this server has one."""
    for endpoint, arguments in _BROWSE:
        if endpoint in current_app.view_functions:
            try:
                values: dict[str, Any] = {**arguments, **criteria}  # url_for's **values
                return url_for(endpoint, **values)
            except BuildError:
                continue
    return None


def _cell_href(row: str, column: str) -> str:
    found = _browse_href(levenscyclus=slug_of(row), rollen=slug_of(column))
    return found or url_for("sparql.endpoint", query=cell_query(row, column))


def _topic_href(count: Count) -> str:
    return _browse_href(onderwerp=count.category.slug) or resource_url(count.category.key)


def _csv(numbers: Overview, chart: str | None) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("grafiek", "rij", "kolom", "aantal"))
    writer.writerows(csv_rows(numbers, chart))
    name = f"statistieken-{chart}.csv" if chart else "statistieken.csv"
    response = Response(out.getvalue(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
