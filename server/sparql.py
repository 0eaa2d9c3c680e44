"""``/sparql``: the SPARQL 1.1 Protocol endpoint (queries only), its service description and form.

* ``GET ?query=``, ``POST`` form-encoded, ``POST application/sparql-query``; the dataset by
  ``default-graph-uri`` / ``named-graph-uri`` (else the query's ``FROM``, else the union of the
  store's graphs as the default graph);
* the answer's format by ``?format=`` or ``Accept`` (:mod:`server.formats`), ``Vary: Accept``;
* at most ``Settings.max_rows`` rows or triples, said in ``X-Result-Limit`` and
  ``X-Result-Truncated``; a query stopped at ``Settings.query_timeout`` gets ``503``;
* without a query: the service description (RDF), or the query form for browsers.

Errors are plain text: ``400`` (syntax, update, ``SERVICE``, bad parameters), ``406``, ``413``
(body), ``414`` (query string), ``415`` (POST of another content type), ``503`` (timeout),
``500`` (logged with the child's traceback).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.datastructures import MIMEAccept, MultiDict
from werkzeug.exceptions import (
    BadRequest,
    RequestEntityTooLarge,
    RequestURITooLarge,
    UnsupportedMediaType,
)
from werkzeug.http import parse_accept_header

from kg.config import Settings
from server.dataset import DATA_GRAPH, ONTOLOGY_GRAPH, current_dataset
from server.formats import (
    GRAPH_FORMATS,
    HTML,
    RESULT_FORMATS,
    Format,
    choose_format,
    list_formats,
    serialize_triples,
)
from server.pages import EXAMPLES
from server.query import (
    Answer,
    QueryFailed,
    QueryNotAcceptable,
    QueryRefused,
    QueryRequest,
    QueryStopped,
    QuerySyntaxError,
    QueryTimeout,
    run_query,
)

blueprint = Blueprint("sparql", __name__)

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_COMMENT = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment")

#: What a browser's form answer is built from: SPARQL JSON for results, Turtle for graphs.
_FOR_HTML = parse_accept_header("application/sparql-results+json, text/turtle", MIMEAccept)
#: Headers a script on another origin may read.
_EXPOSED = "X-Result-Limit, X-Result-Truncated, Content-Length"


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
        ),
        settings.query_timeout,
    )
    response = render_form(protocol.query, answer) if for_html else _answer_response(answer)
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
    params: MultiDict[str, str] = request.args
    query: str | None = None
    if request.method == "POST":
        if request.mimetype == "application/x-www-form-urlencoded":
            params = MultiDict([*request.args.items(multi=True), *request.form.items(multi=True)])
        elif request.mimetype == "application/sparql-query":
            query = _body_text()
        elif request.mimetype == "application/sparql-update":
            raise QueryRefused("this endpoint is read-only; SPARQL Update is not accepted")
        else:
            raise UnsupportedMediaType(
                "POST a query as application/x-www-form-urlencoded (query=…) "
                "or as application/sparql-query"
            )
    if "update" in params:
        raise QueryRefused("this endpoint is read-only; SPARQL Update is not accepted")
    queries = params.getlist("query")
    if len(queries) + (query is not None) > 1:
        raise BadRequest("give one query (one query parameter, or the request body)")
    if queries:
        query = queries[0]
    return ProtocolRequest(
        query=query,
        default_graphs=tuple(params.getlist("default-graph-uri")),
        named_graphs=tuple(params.getlist("named-graph-uri")),
        format_param=params.get("format"),
    )


def _body_text() -> str:
    try:
        return request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"the query is not UTF-8: {error}") from None


def _answer_response(answer: Answer) -> Response:
    return Response(answer.body, content_type=answer.format.content_type)


def describe_service(format_param: str | None) -> Response:
    """The service description in RDF, or the query form for a browser."""
    chosen = choose_format(request.accept_mimetypes, format_param, (*GRAPH_FORMATS, HTML))
    if chosen is None:
        return plain_text(406, _not_acceptable_text((*GRAPH_FORMATS, HTML)))
    if chosen is HTML:
        response = render_form(None, None)
    else:
        body = serialize_triples(service_description(request.base_url), chosen)
        response = Response(body, content_type=chosen.content_type)
    response.vary.add("Accept")
    return response


def service_description(endpoint_url: str) -> list[ox.Triple]:
    """SPARQL 1.1 Service Description of this endpoint, with its default dataset."""
    settings = current_settings()
    store = current_dataset().store
    service, dataset, default_graph = ox.BlankNode(), ox.BlankNode(), ox.BlankNode()

    def sd(name: str) -> ox.NamedNode:
        return ox.NamedNode(SD + name)

    triples = [
        ox.Triple(service, RDF_TYPE, sd("Service")),
        ox.Triple(service, sd("endpoint"), ox.NamedNode(endpoint_url)),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(
            service,
            sd("defaultEntailmentRegime"),
            ox.NamedNode("http://www.w3.org/ns/entailment/Simple"),
        ),
        ox.Triple(
            service,
            RDFS_COMMENT,
            ox.Literal(
                f"Read-only (no SPARQL Update, no SERVICE). A query is stopped after "
                f"{settings.query_timeout:g} s (503); an answer holds at most "
                f"{settings.max_rows} rows or triples (X-Result-Truncated: true when cut).",
                language="en",
            ),
        ),
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(dataset, RDF_TYPE, sd("Dataset")),
        ox.Triple(dataset, sd("defaultGraph"), default_graph),
        ox.Triple(default_graph, RDF_TYPE, sd("Graph")),
        ox.Triple(default_graph, ox.NamedNode(VOID + "triples"), _integer(len(store))),
    ]
    for fmt in (*RESULT_FORMATS, *GRAPH_FORMATS):
        triples.append(ox.Triple(service, sd("resultFormat"), ox.NamedNode(_format_iri(fmt))))
    for name, size in graph_sizes(store).items():
        named, graph = ox.BlankNode(), ox.BlankNode()
        triples += [
            ox.Triple(dataset, sd("namedGraph"), named),
            ox.Triple(named, RDF_TYPE, sd("NamedGraph")),
            ox.Triple(named, sd("name"), ox.NamedNode(name)),
            ox.Triple(named, sd("graph"), graph),
            ox.Triple(graph, RDF_TYPE, sd("Graph")),
            ox.Triple(graph, ox.NamedNode(VOID + "triples"), _integer(size)),
        ]
    return triples


def graph_sizes(store: ox.Store) -> dict[str, int]:
    """Triples in each of the store's named graphs (data first, then ontology)."""
    sizes = {}
    for name in (DATA_GRAPH, ONTOLOGY_GRAPH):
        solutions = store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{name}> {{ ?s ?p ?o }} }}")
        assert isinstance(solutions, ox.QuerySolutions)
        count = int(next(solutions)["n"].value)
        if count:
            sizes[name] = count
    return sizes


def _format_iri(fmt: Format) -> str:
    results = {
        "json": ox.QueryResultsFormat.JSON,
        "xml": ox.QueryResultsFormat.XML,
        "csv": ox.QueryResultsFormat.CSV,
        "tsv": ox.QueryResultsFormat.TSV,
    }
    if fmt in RESULT_FORMATS:
        return results[fmt.key].iri
    rdf = ox.RdfFormat.from_media_type(fmt.media_type)
    assert rdf is not None
    return rdf.iri


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))


def render_form(query: str | None, answer: Answer | None) -> Response:
    """The HTML query form, with the answer to ``query`` below it when there is one."""
    settings = current_settings()
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
        settings=settings,
        formats=(*RESULT_FORMATS, *GRAPH_FORMATS),
    )
    return Response(body, content_type=HTML.content_type)


def plain_text(status: int, message: str) -> Response:
    return Response(message.rstrip("\n") + "\n", status, content_type="text/plain; charset=utf-8")


def _not_acceptable_text(offers: tuple[Format, ...]) -> str:
    return (
        "406 Not Acceptable: no format this answer has matches the Accept header "
        "(or ?format=). Available:\n" + list_formats(offers)
    )


@blueprint.errorhandler(QuerySyntaxError)
def _syntax_error(error: QuerySyntaxError) -> Response:
    return plain_text(400, f"400 Bad Request: SPARQL syntax error: {error}")


@blueprint.errorhandler(QueryRefused)
def _refused(error: QueryRefused) -> Response:
    return plain_text(400, f"400 Bad Request: {error}")


@blueprint.errorhandler(QueryNotAcceptable)
def _not_acceptable(error: QueryNotAcceptable) -> Response:
    response = plain_text(406, _not_acceptable_text(error.offers))
    response.vary.add("Accept")
    return response


@blueprint.errorhandler(QueryStopped)
def _stopped(error: QueryStopped) -> Response:
    kind = "query timeout" if isinstance(error, QueryTimeout) else "query too large"
    current_app.logger.warning("SPARQL %s: %s", kind, error)
    return plain_text(503, f"503 Service Unavailable: {kind}: {error}")


@blueprint.errorhandler(QueryFailed)
def _failed(error: QueryFailed) -> Response:
    current_app.logger.error("SPARQL query failed: %s", error)
    return plain_text(500, "500 Internal Server Error: the query could not be evaluated")


@blueprint.errorhandler(BadRequest)
def _bad_request(error: BadRequest) -> Response:
    return plain_text(400, f"400 Bad Request: {error.description}")


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Response:
    limit = current_settings().max_request_bytes
    return plain_text(413, f"413 Content Too Large: a request body may have {limit} bytes")


@blueprint.errorhandler(RequestURITooLarge)
def _uri_too_large(error: RequestURITooLarge) -> Response:
    return plain_text(414, f"414 URI Too Long: {error.description}")


@blueprint.errorhandler(UnsupportedMediaType)
def _unsupported(error: UnsupportedMediaType) -> Response:
    return plain_text(415, f"415 Unsupported Media Type: {error.description}")


@blueprint.after_request
def _cors(response: Response) -> Response:
    """Any origin may query (GET, POST, and the preflight OPTIONS)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type"
    response.headers["Access-Control-Expose-Headers"] = _EXPOSED
    response.headers["Access-Control-Max-Age"] = "86400"
    return response
