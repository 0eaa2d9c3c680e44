"""``/sparql``: the SPARQL 1.1 Protocol endpoint (queries only), its service description and form.

* ``GET ?query=``, ``POST`` form-encoded, ``POST application/sparql-query``; the dataset by
  ``default-graph-uri`` / ``named-graph-uri`` (else the query's ``FROM``, else the union of the
  store's graphs as the default graph);
* the answer's format by ``?format=`` or ``Accept`` (:mod:`server.services.formats`),
  ``Vary: Accept``;
* at most ``Settings.max_rows`` rows or triples, said in ``X-Result-Limit`` and
  ``X-Result-Truncated``; a query stopped at ``Settings.query_timeout`` gets ``503``;
* without a query: the service description (RDF), or the query workbench for browsers.

A client that prefers HTML (a browser; or ``format=html``) gets the workbench instead of a
result format: the form (it POSTs ``query=``, the protocol's own form encoding, so long queries
fit), the answer as a table of :data:`server.services.workbench.PAGE_SIZE` rows a page
(``page=``) with labels and links, download buttons for every format, the example library. Only
there are the common prefixes predeclared (:func:`server.services.sparql_text.with_prefixes`),
and errors are a page with the query kept: a syntax error at its line and column in the user's
text, a refusal (``400``), a limit (``503``). Every other client gets the protocol, the query run
as sent.

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

import functools
from dataclasses import dataclass, replace

from flask import Blueprint, Response, current_app, render_template, request, url_for
from werkzeug.datastructures import MIMEAccept, MultiDict
from werkzeug.exceptions import BadRequest, RequestURITooLarge, UnsupportedMediaType
from werkzeug.http import parse_accept_header

from kg.config import Settings
from kg.manifest import DUMPS, ONTOLOGY
from kg.namespace import AK_IRI
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
from server.services.index import current_index
from server.services.query import (
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
from server.services.sparql_text import PREDECLARED, QueryRefused, locate_error, with_prefixes
from server.services.workbench import WorkbenchView, page_number, show_answer

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
    if choose_format(accepted(), protocol.format_param, offers) is HTML:
        response = workbench(protocol, protocol.query, settings)
    else:
        request_ = query_request(protocol, protocol.query, settings)
        answer = run_query(current_dataset().store, request_, settings.query_timeout)
        response = Response(answer.body, content_type=answer.format.content_type)
        response.headers["X-Result-Truncated"] = "true" if answer.truncated else "false"
    response.headers["X-Result-Limit"] = str(settings.max_rows)
    response.vary.add("Accept")
    return response


def query_request(
    protocol: ProtocolRequest, text: str, settings: Settings, for_html: bool = False
) -> QueryRequest:
    """The sandbox's request for ``text`` on the protocol's dataset; ``for_html``: in the
    formats the workbench reads (SPARQL JSON, Turtle), whatever the client accepts."""
    return QueryRequest(
        text=text,
        default_graphs=protocol.default_graphs,
        named_graphs=protocol.named_graphs,
        accept=_FOR_HTML if for_html else accepted(),
        format_param=None if for_html else protocol.format_param,
        max_rows=settings.max_rows,
        max_bytes=settings.max_request_bytes,
        base_iri=url_for("sparql.endpoint", _external=True),
    )


def accepted() -> MIMEAccept:
    """The request's ``Accept`` ranges (``request.accept_mimetypes``), parsed once per distinct
    short header: clients send few, and werkzeug's parse took 17 µs of each query."""
    header = request.headers.get("Accept", "")
    if len(header) > _REMEMBERED_ACCEPT_CHARS:
        return parse_accept_header(header, MIMEAccept)
    return _parsed_accept(header)


#: ``Accept`` headers longer than this are parsed each time (the memory stays bounded).
_REMEMBERED_ACCEPT_CHARS = 512


@functools.lru_cache(maxsize=64)
def _parsed_accept(header: str) -> MIMEAccept:
    return parse_accept_header(header, MIMEAccept)


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
        response = render_workbench(WorkbenchView(query=EXAMPLES[0].text))
    else:
        endpoint_url = url_for("sparql.endpoint", _external=True)
        triples = service_description(current_dataset().store, endpoint_url, current_settings())
        response = Response(serialize_triples(triples, chosen), content_type=chosen.content_type)
    response.vary.add("Accept")
    return response


def workbench(protocol: ProtocolRequest, query: str, settings: Settings) -> Response:
    """The workbench with the answer to ``query`` (the predeclared prefixes it lacks declared
    in front), or with the query kept and what went wrong: a syntax error at its line and
    column, a refusal (``400``), a limit (``503``)."""
    prepared = with_prefixes(query)
    view = WorkbenchView(query, prepared, protocol.default_graphs, protocol.named_graphs)
    try:
        answer = run_query(
            current_dataset().store,
            query_request(protocol, prepared.text, settings, for_html=True),
            settings.query_timeout,
        )
    except QuerySyntaxError as error:
        problem = locate_error(str(error), prepared, query)
        return render_workbench(replace(view, problem=problem), 400)
    except QueryRefused as error:
        return render_workbench(replace(view, refusal=str(error)), 400)
    except QueryStopped as error:
        current_app.logger.warning("SPARQL (workbench) stopped: %s", error)
        return render_workbench(replace(view, refusal=_stopped_message(error)), 503)
    page = page_number(request.values.get("page"))
    shown = show_answer(answer, page, current_index())
    response = render_workbench(replace(view, shown=shown))
    response.headers["X-Result-Truncated"] = "true" if answer.truncated else "false"
    return response


def render_workbench(view: WorkbenchView, status: int = 200) -> Response:
    """The workbench page: the form, the predeclared prefixes, the answer or the error, the
    example library."""
    body = render_template(
        "sparql.html",
        view=view,
        examples=EXAMPLES,
        predeclared=PREDECLARED,
        settings=current_settings(),
        result_formats=RESULT_FORMATS,
        graph_formats=GRAPH_FORMATS,
        dumps=DUMPS,
        data_graph=DATA_GRAPH,
        ontology_graph=ONTOLOGY_GRAPH,
        vocabulary=AK_IRI,
        ontology_file=ONTOLOGY.served_as,
    )
    return Response(body, status, content_type=HTML.content_type)


def _stopped_message(error: QueryStopped) -> str:
    if isinstance(error, QueryTimeout):
        return f"De vraag duurde te lang en is gestopt: {error}"
    return f"De vraag is gestopt bij een grens van de server: {error}"


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
