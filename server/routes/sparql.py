"""``/sparql``: the SPARQL 1.1 Protocol endpoint (queries only), its service description and form.

* ``GET ?query=``, ``POST`` form-encoded, ``POST application/sparql-query``; the dataset by
  ``default-graph-uri`` / ``named-graph-uri`` (else the query's ``FROM``, else the union of the
  store's graphs as the default graph);
* the answer's format by ``?format=`` or ``Accept`` (:mod:`server.services.formats`),
  ``Vary: Accept``;
* at most ``Settings.max_rows`` rows or triples, said in ``X-Result-Limit`` and
  ``X-Result-Truncated``; a query stopped at ``Settings.query_timeout`` gets ``503``;
* without a query: the service description (RDF), or the query form for browsers.

To the letter of the SPARQL 1.1 Protocol, and of 1.2 where it says more: exactly one query
(``400`` for two); at most one ``version`` (SPARQL 1.2: a parameter, or the ``version``
parameter of ``application/sparql-query``); a query body is UTF-8 (``400`` when it is not; a
byte-order mark before it is dropped; another ``charset`` is ``415``); relative IRIs in the
query are resolved against the endpoint's URL (1.2 §"Determining the Base IRI": the service
defines the base, which may be the endpoint). Bytes that are not UTF-8 in the URL or a form
are refused for every route by :mod:`server.http_policy`.

Errors are plain text: ``400`` (syntax, too large or deep, update, ``SERVICE``, bad
parameters), ``406``, ``503`` (timeout, memory), ``500`` (logged: with the child's traceback
when the evaluation raised, in one line when the query process died of a signal) here;
``413``, ``414`` and ``415`` are HTTP errors, answered by the application's one error handler
(:mod:`server.http_policy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from werkzeug.datastructures import MIMEAccept, MultiDict
from werkzeug.exceptions import BadRequest, RequestURITooLarge, UnsupportedMediaType
from werkzeug.http import parse_accept_header

from kg.config import Settings
from kg.manifest import DUMPS
from server.services.dataset import DATA_GRAPH, ONTOLOGY_GRAPH, current_dataset
from server.services.endpoint import service_description
from server.services.examples import EXAMPLES
from server.services.formats import (
    GRAPH_FORMATS,
    HTML,
    RESULT_FORMATS,
    choose_format,
    serialize_triples,
)
from server.services.query import (
    Answer,
    QueryDied,
    QueryFailed,
    QueryNotAcceptable,
    QueryRequest,
    QueryStopped,
    QuerySyntaxError,
    QueryTimeout,
    run_query,
)
from server.services.responses import not_acceptable, plain_text
from server.services.sparql_text import QueryRefused

blueprint = Blueprint("sparql", __name__)

#: What a browser's form answer is built from: SPARQL JSON for results, Turtle for graphs.
_FOR_HTML = parse_accept_header("application/sparql-results+json, text/turtle", MIMEAccept)
_READ_ONLY = "this endpoint is read-only; SPARQL Update is not accepted"
#: ``version`` values this endpoint takes (SPARQL 1.2 Protocol; RDF 1.2 Concepts' labels). The
#: engine parses SPARQL 1.2, which holds 1.1.
VERSIONS = ("1.1", "1.2", "1.2-basic")
_UTF8 = ("utf-8", "utf8")
_BOM = "\ufeff"


@dataclass(frozen=True)
class ProtocolRequest:
    """The protocol parameters of one request."""

    query: str | None
    default_graphs: tuple[str, ...]
    named_graphs: tuple[str, ...]
    format_param: str | None


def current_settings() -> Settings:
    settings: Settings = current_app.config["KG_SETTINGS"]
    return settings


@blueprint.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    settings = current_settings()
    protocol = read_protocol_request(settings)
    if protocol.query is None:
        return describe_service(protocol.format_param)
    offers = (*RESULT_FORMATS, *GRAPH_FORMATS, HTML)
    for_html = choose_format(request.accept_mimetypes, protocol.format_param, offers) is HTML
    answer = run_query(
        current_dataset().store,
        QueryRequest(
            text=protocol.query,
            default_graphs=protocol.default_graphs,
            named_graphs=protocol.named_graphs,
            accept=_FOR_HTML if for_html else request.accept_mimetypes,
            format_param=None if for_html else protocol.format_param,
            max_rows=settings.max_rows,
            max_bytes=settings.max_request_bytes,
            base_iri=url_for("sparql.endpoint", _external=True),
        ),
        settings.query_timeout,
    )
    if for_html:
        response = render_form(protocol.query, answer)
    else:
        response = Response(answer.body, content_type=answer.format.content_type)
    response.headers["X-Result-Limit"] = str(settings.max_rows)
    response.headers["X-Result-Truncated"] = "true" if answer.truncated else "false"
    response.vary.add("Accept")
    return response


def read_protocol_request(settings: Settings) -> ProtocolRequest:
    """The query and dataset of a GET or POST request; updates are refused here."""
    if len(request.query_string) > settings.max_request_bytes:
        raise RequestURITooLarge(
            f"the query string has more than {settings.max_request_bytes} bytes; POST the query"
        )
    params, query = _parameters()
    if "update" in params:
        raise QueryRefused(_READ_ONLY)
    queries = params.getlist("query")
    if len(queries) + (query is not None) > 1:
        raise BadRequest("give one query (one query parameter, or the request body)")
    _check_version(params)
    return ProtocolRequest(
        query=queries[0] if queries else query,
        default_graphs=tuple(params.getlist("default-graph-uri")),
        named_graphs=tuple(params.getlist("named-graph-uri")),
        format_param=params.get("format"),  # the first: SPARQLWrapper sends two
    )


def _parameters() -> tuple[MultiDict[str, str], str | None]:
    """The request's parameters (URL and form), and the query sent as the body, if any."""
    if request.method != "POST":
        return request.args, None
    if request.mimetype == "application/x-www-form-urlencoded":
        return MultiDict([*request.args.items(multi=True), *request.form.items(multi=True)]), None
    if request.mimetype == "application/sparql-query":
        params = MultiDict(request.args.items(multi=True))
        if "version" in request.mimetype_params:  # SPARQL 1.2: a media-type parameter
            params.add("version", request.mimetype_params["version"])
        return params, _body_text()
    if request.mimetype == "application/sparql-update":
        raise QueryRefused(_READ_ONLY)
    raise UnsupportedMediaType(
        "POST a query as application/x-www-form-urlencoded (query=…) or as application/sparql-query"
    )


def _body_text() -> str:
    """The query in the body: UTF-8, the only charset the protocol allows, without a BOM."""
    charset = request.mimetype_params.get("charset", "utf-8")
    if charset.lower() not in _UTF8:
        raise UnsupportedMediaType(f"a query is sent as UTF-8, not as charset={charset}")
    try:
        text = request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"the query is not UTF-8: {error}") from None
    return text.removeprefix(_BOM)


def _check_version(params: MultiDict[str, str]) -> None:
    """SPARQL 1.2 Protocol: a request has at most one ``version``, and this endpoint knows it."""
    versions = params.getlist("version")
    if len(versions) > 1:
        raise BadRequest(f"give at most one version (got {len(versions)}: {', '.join(versions)})")
    if versions and versions[0] not in VERSIONS:
        raise BadRequest(
            f"version {versions[0]!r} is not supported; this endpoint takes {', '.join(VERSIONS)}"
        )


def describe_service(format_param: str | None) -> Response:
    """The service description in RDF, or the query form for a browser."""
    offers = (*GRAPH_FORMATS, HTML)
    chosen = choose_format(request.accept_mimetypes, format_param, offers)
    if chosen is None:
        return not_acceptable(offers, lambda fmt: url_for("sparql.endpoint", format=fmt.key))
    if chosen is HTML:
        response = render_form(None, None)
    else:
        endpoint_url = url_for("sparql.endpoint", _external=True)
        triples = service_description(current_dataset().store, endpoint_url, current_settings())
        response = Response(serialize_triples(triples, chosen), content_type=chosen.content_type)
    response.vary.add("Accept")
    return response


def render_form(query: str | None, answer: Answer | None) -> Response:
    """The HTML query form, with the answer to ``query`` below it when there is one."""
    table: dict[str, Any] | None = None
    text: str | None = None
    if answer is not None:
        if answer.format in RESULT_FORMATS:
            table = json.loads(answer.body)
        else:
            text = answer.body.decode("utf-8")
    body = render_template(
        "sparql.html",
        query=query or EXAMPLES[0].query,
        examples=EXAMPLES,
        table=table,
        text=text,
        answer=answer,
        settings=current_settings(),
        formats=(*RESULT_FORMATS, *GRAPH_FORMATS),
        dumps=DUMPS,
        data_graph=DATA_GRAPH,
        ontology_graph=ONTOLOGY_GRAPH,
    )
    return Response(body, content_type=HTML.content_type)


@blueprint.errorhandler(QuerySyntaxError)
def _syntax_error(error: QuerySyntaxError) -> Response:
    return plain_text(400, f"400 Bad Request: SPARQL syntax error: {error}")


@blueprint.errorhandler(QueryRefused)
def _refused(error: QueryRefused) -> Response:
    return plain_text(400, f"400 Bad Request: {error}")


@blueprint.errorhandler(QueryNotAcceptable)
def _not_acceptable(error: QueryNotAcceptable) -> Response:
    return not_acceptable(error.offers)


@blueprint.errorhandler(QueryStopped)
def _stopped(error: QueryStopped) -> Response:
    kind = "query timeout" if isinstance(error, QueryTimeout) else "query too large"
    current_app.logger.warning("SPARQL %s: %s", kind, error)
    return plain_text(503, f"503 Service Unavailable: {kind}: {error}")


@blueprint.errorhandler(QueryFailed)
def _failed(error: QueryFailed) -> Response:
    current_app.logger.error("SPARQL query failed: %s", error)
    return plain_text(500, "500 Internal Server Error: the query could not be evaluated")


@blueprint.errorhandler(QueryDied)
def _died(error: QueryDied) -> Response:
    # One line: there is no traceback to show, only how the process ended.
    current_app.logger.error("SPARQL query: %s, %s", error, error.name)
    return plain_text(500, f"500 Internal Server Error: {error}")
