"""Browse: ``/vereisten``, ``/maatregelen``, ``/hulpmiddelen`` with facets, and the simple lists
``/onderwerpen``, ``/rollen``, ``/levenscyclus``, ``/begrippen``.

Every page is a ``GET`` address that says everything (shareable, works without JavaScript: the
facets are a form of checkboxes, and every value is also a link), and answers as a page or,
by ``?format=`` or ``Accept``, as JSON, CSV or Excel holding exactly the rows the page shows
(:mod:`server.services.browse`, :mod:`server.services.browse_export`). A parameter the page
does not take is a ``400`` naming the ones it does. An answer depends only on the snapshot, the
address and the format, so it is rendered once and kept (:mod:`server.services.page_cache`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from kg.vocabulary import AI_ACT_KEYS
from server.services.browse import (
    FORMAT,
    SORT_KEYS,
    BrowseError,
    Selection,
    View,
    browse,
    column_headings,
    facet_label,
    parse_selection,
)
from server.services.browse_catalogue import LAW, OVERVIEWS, TAG_FACETS, current_catalogue
from server.services.browse_export import JSON as JSON_FORMAT
from server.services.browse_export import OFFERS, Sheet, attachment, joined, to_csv, to_xlsx
from server.services.browse_export import XLSX as XLSX_FORMAT
from server.services.browse_lists import (
    GLOSSARY,
    TAG_LISTS,
    TagRow,
    TermRow,
    tag_rows,
    term_rows,
)
from server.services.dataset import current_dataset
from server.services.formats import HTML, Format, choose_format
from server.services.index import current_index
from server.services.page_cache import cached_page
from server.services.parameters import refuse_control
from server.services.responses import not_acceptable

blueprint = Blueprint("browse", __name__)


def _variant() -> str:
    """What the answer depends on beyond the address: the negotiated format (page cache)."""
    fmt = choose_format(request.accept_mimetypes, request.args.get(FORMAT), OFFERS)
    return "" if fmt is None else fmt.key


@blueprint.get("/<any(vereisten, maatregelen, hulpmiddelen):name>")
@cached_page(_variant)
def overview(name: str) -> Response:
    spec = OVERVIEWS[name]
    params = _params()
    try:
        selection = parse_selection(spec, params)
    except BrowseError as error:
        raise BadRequest(str(error)) from None
    fmt = _format(lambda f: url_for("browse.overview", name=name, format=f.key))
    if isinstance(fmt, Response):
        return fmt
    index = current_index()
    view = browse(current_catalogue(spec), selection, index)
    if fmt is HTML:
        labels = {key: facet_label(key, index) for key in spec.facets}
        page = render_template(
            "browse.html",
            view=view,
            title=index.plural(spec.cls),
            labels=labels,
            headings=column_headings(index),
            columns=TAG_FACETS,
            law=LAW,
            ai_act_keys=AI_ACT_KEYS,
            sort_keys=SORT_KEYS,
            formats=[offer for offer in OFFERS if offer is not HTML],
        )
        return _answer(Response(page, content_type=HTML.content_type))
    if fmt is JSON_FORMAT:
        return _answer(jsonify(view.to_json()))
    return _download(_overview_sheet(view), fmt)


@blueprint.get("/<any(onderwerpen, rollen, levenscyclus):name>")
@cached_page(_variant)
def tags(name: str) -> Response:
    tag_list = TAG_LISTS[name]
    _no_parameters(name)
    fmt = _format(lambda f: url_for("browse.tags", name=name, format=f.key))
    if isinstance(fmt, Response):
        return fmt
    index = current_index()
    rows = tag_rows(current_dataset().store, tag_list, index)
    if fmt is HTML:
        page = render_template(
            "browse_tags.html",
            rows=rows,
            tag_list=tag_list,
            title=index.plural(tag_list.cls),
            overviews=[(o.name, index.plural(o.cls)) for o in OVERVIEWS.values()],
            formats=[offer for offer in OFFERS if offer is not HTML],
        )
        return _answer(Response(page, content_type=HTML.content_type))
    if fmt is JSON_FORMAT:
        return _answer(jsonify([row.to_json() for row in rows]))
    return _download(_tag_sheet(name, rows), fmt)


@blueprint.get("/begrippen")
@cached_page(_variant)
def glossary() -> Response:
    _no_parameters(GLOSSARY)
    fmt = _format(lambda f: url_for("browse.glossary", format=f.key))
    if isinstance(fmt, Response):
        return fmt
    rows = term_rows(current_dataset().store)
    if fmt is HTML:
        page = render_template(
            "browse_glossary.html",
            rows=rows,
            formats=[offer for offer in OFFERS if offer is not HTML],
        )
        return _answer(Response(page, content_type=HTML.content_type))
    if fmt is JSON_FORMAT:
        return _answer(jsonify([row.to_json() for row in rows]))
    return _download(_term_sheet(rows), fmt)


# -- the request ----------------------------------------------------------------------------


def _params() -> list[tuple[str, list[str]]]:
    """The query parameters, each name and value refused when it holds a control character."""
    return [
        (
            refuse_control(name, "a parameter name"),
            [refuse_control(value, f"the parameter {name}") for value in values],
        )
        for name, values in request.args.lists()
    ]


def _no_parameters(name: str) -> None:
    unknown = [key for key in request.args if key != FORMAT]
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r}: /{name} takes only {FORMAT}")


def _format(address: Callable[[Format], str]) -> Format | Response:
    """``?format=`` (the first value) or ``Accept``; a ``406`` listing the formats if none fits."""
    fmt = choose_format(request.accept_mimetypes, request.args.get(FORMAT), OFFERS)
    return fmt if fmt is not None else not_acceptable(OFFERS, address)


def _answer(response: Response) -> Response:
    response.vary.add("Accept")
    return response


def _download(sheet: Sheet, fmt: Format) -> Response:
    body = to_xlsx(sheet) if fmt is XLSX_FORMAT else to_csv(sheet)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Content-Disposition"] = attachment(sheet.name, fmt)
    return _answer(response)


# -- the files ------------------------------------------------------------------------------


def _page_url(urn: str) -> str:
    return url_for("resource.by_id", urn=urn, _external=True)


def _overview_sheet(view: View) -> Sheet:
    facets = view.overview.facets
    return Sheet(
        view.overview.name,
        ("code", "titel", "urn", "pagina", "bestand", *facets),
        tuple(
            (
                item.code,
                item.title,
                item.urn,
                _page_url(item.urn),
                item.file,
                *(joined(item.values.get(key, ())) for key in facets),
            )
            for item in view.items
        ),
    )


def _tag_sheet(name: str, rows: tuple[TagRow, ...]) -> Sheet:
    return Sheet(
        name,
        ("code", "titel", "urn", "pagina", *OVERVIEWS),
        tuple(
            (row.code, row.title, row.urn, _page_url(row.urn), *map(str, row.counts.values()))
            for row in rows
        ),
    )


def _term_sheet(rows: tuple[TermRow, ...]) -> Sheet:
    return Sheet(
        GLOSSARY,
        ("begrip", "definitie", "urn", "pagina"),
        tuple((row.term, row.definition, row.urn, _page_url(row.urn)) for row in rows),
    )


@blueprint.app_template_global("browse_url")
def browse_url(name: str, selection: Selection, **extra: str) -> str:
    """The address of ``selection`` on overview ``name`` (the templates' links)."""
    params = {**selection.params(), **{key: [value] for key, value in extra.items()}}
    return _with_query(url_for("browse.overview", name=name), params)


@blueprint.app_template_global("facet_url")
def facet_url(name: str, key: str, value: str) -> str:
    """Overview ``name`` filtered on one value (the simple lists' links)."""
    return _with_query(url_for("browse.overview", name=name), {key: [value]})


def _with_query(path: str, params: dict[str, list[str]]) -> str:
    query = urlencode(params, doseq=True)
    return f"{path}?{query}" if query else path
