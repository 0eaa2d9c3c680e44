"""Every triple from an existing SPARQL store (``kg serve --store URL``), the files from ``dist``.

When the data or the load outgrow one machine, any number of stateless web nodes share one
store that ``kg push`` loaded (:mod:`kg.remote`): each node keeps the publication folder for its
files (manifest, ``html.json``, search index, dumps), and :class:`RemoteStore` stands in for the
embedded Oxigraph store. It implements exactly the part of ``pyoxigraph.Store`` the services use
(``query``, ``quads_for_pattern``, ``named_graphs``, ``len``) over the SPARQL 1.1 Protocol and
returns pyoxigraph's own objects, so pages, dereferencing, the index and the statistics run
unchanged. ``pyoxigraph.Store`` cannot be subclassed, so :func:`open_store` hands it over typed
as one.

The reach of every request is fixed here, never by a client: the dataset is always sent
(``default-graph-uri``: the pushed data and ontology graphs; ``named-graph-uri``: those and
the release graphs), so no query reaches another graph of the store; a ``/sparql`` query that
names its own dataset (``FROM``) or asks for a graph outside the pushed ones is refused. The
store's URL is the operator's setting; requests follow no redirect and use no proxy, so a query
cannot make the server contact anything else. Each request has the query timeout (a deadline
over the whole answer, not per read, also sent to the store) and reads at most a byte cap of
answer; how requests travel (kept-alive connections, the timeout, the admission of heavy
``/sparql`` queries) is :mod:`server.services.store_connection`. What a store gives back is
made what the embedded engine gives: Virtuoso's blank node names and booleans are rewritten,
its partial answers (cut at its timeout or at its ``ResultSetMaxRows``) never pass as whole.

A store that cannot be reached or fails is :class:`StoreUnavailable` (``503``, plain message):
pages get it through the application's one error handler (:mod:`server.http_policy`),
``/sparql`` as the outcome ``unavailable`` (:func:`RemoteStore.answer`).
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterable, Iterator
from typing import Any, cast

import pyoxigraph as ox
from werkzeug.exceptions import ServiceUnavailable

from kg.config import Settings
from kg.namespace import DATA_GRAPH, ONTOLOGY_GRAPH
from server.services.pool_answers import AnswerTooLarge
from server.services.pool_child import Outcome, evaluate_job, write_graph
from server.services.sparql_text import outline
from server.services.store_answers import BOOLEAN, as_the_engine_writes, cut_at, passed_through
from server.services.store_connection import Admit, Connections, Exchange, Reply
from server.services.store_reply import AnswerOverCap, DeadlinePassed
from server.services.store_request import StoreGraphs, form_value, with_base

#: Bytes an answer to the server's own queries (pages, the index) may have: the index reads
#: every quad once per snapshot.
INTERNAL_BYTES = 1024**3
#: Seconds the read of every quad (the index, once per snapshot, not a request) may take: at
#: ×100 (1.5 million triples) Virtuoso needs about 13 s to write them as N-Triples.
BULK_SECONDS = 300.0
_RESULTS_ACCEPT = "application/sparql-results+json"
_GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9"
_GRAPH_FORMS = ("CONSTRUCT", "DESCRIBE")


class StoreUnavailable(ServiceUnavailable):
    """The store could not be reached, or did not answer as a SPARQL endpoint does: 503."""


class RemoteStore:
    """The part of ``pyoxigraph.Store`` the server uses, answered by a SPARQL endpoint."""

    def __init__(
        self,
        endpoint: str,
        graphs: StoreGraphs,
        timeout: float,
        max_bytes: int,
        cheap_seconds: float = 0.1,
    ) -> None:
        self.endpoint = endpoint
        self.graphs = graphs
        #: The data's graph in the store (``--store-graph``); the server's own queries and
        #: patterns name :data:`DATA_GRAPH`, and get this one.
        self.data_graph = graphs.default[0]
        self.timeout = timeout
        #: The byte cap of a ``/sparql`` answer (the server's ``max_answer_bytes``).
        self.max_answer_bytes = max_bytes
        #: A ``/sparql`` query not answered within this many seconds (wall time) is heavy.
        self.cheap_seconds = cheap_seconds
        self.connections = Connections(endpoint)

    # -- the Store methods the services call ----------------------------------------------

    def query(self, query: str, **options: Any) -> Any:
        """SELECT and ASK as ``QuerySolutions`` / ``QueryBoolean``, CONSTRUCT and DESCRIBE as
        ``QueryTriples``; the dataset is always the pushed graphs (``options`` such as
        ``use_default_graph_as_union`` change nothing: the default graph is their union)."""
        del options
        return self._internal(query, self.graphs)

    def quads_for_pattern(
        self, subject: Any, predicate: Any, object: Any, graph_name: Any = None
    ) -> Iterator[ox.Quad]:
        """The quads of the pushed graphs (``graph_name`` None: all of them) that match."""
        graphs = self._pattern_graphs(graph_name)
        terms = (subject, predicate, object)
        if not graphs or any(isinstance(term, ox.BlankNode) for term in terms):
            return iter(())  # a blank node of an earlier answer names nothing in the store
        names = ("s", "p", "o")
        pattern = " ".join(
            f"?{name}" if term is None else str(term)
            for name, term in zip(names, terms, strict=True)
        )
        if subject is None and predicate is None and object is None:  # the index's read
            return self._every_quad(graphs)
        text = f"SELECT * WHERE {{ GRAPH ?g {{ {pattern} }} }}"  # ?g: the graphs named
        solutions = self._internal(text, StoreGraphs(graphs, graphs))
        return (
            ox.Quad(
                row["s"] if subject is None else subject,
                row["p"] if predicate is None else predicate,
                row["o"] if object is None else object,
                self._served_name(row["g"]),
            )
            for row in solutions
        )

    def _every_quad(self, graphs: tuple[str, ...]) -> Iterator[ox.Quad]:
        """Every quad of ``graphs`` (the index reads them once per snapshot) as N-Triples, a
        ``CONSTRUCT`` per graph and predicate: Virtuoso writes 1.5 million triples (×100) as
        SPARQL JSON in 80 s, past its own 60 s limit, and builds a ``CONSTRUCT``'s answer in
        one vector of at most a million triples (``MaxVectorSize``), so the whole graph at
        once fails from ×100 on."""
        timeout = max(self.timeout, BULK_SECONDS)
        within = StoreGraphs(graphs, graphs)
        for graph in graphs:
            node = ox.NamedNode(graph)
            name = self._served_name(node)
            listed = f"SELECT DISTINCT ?p WHERE {{ GRAPH {node} {{ ?s ?p ?o }} }}"
            for row in self._internal(listed, within, timeout):
                pattern = f"?s {row['p']} ?o"
                text = f"CONSTRUCT {{ {pattern} }} WHERE {{ GRAPH {node} {{ {pattern} }} }}"
                for triple in self._internal(text, within, timeout):
                    yield ox.Quad(triple.subject, triple.predicate, triple.object, name)

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        return iter([self._served_name(ox.NamedNode(graph)) for graph in self.graphs.named])

    def __len__(self) -> int:
        text = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
        restricted = StoreGraphs(self.graphs.default, self.graphs.default)
        solutions = self._internal(text, restricted)
        return int(next(iter(solutions))["n"].value)

    # -- /sparql ------------------------------------------------------------------------------

    def answer(self, job: dict[str, Any], timeout: float, admit: Admit | None = None) -> Outcome:
        """``job`` (:func:`server.services.query.job_for`) answered by the store, written in
        the client's format and within the job's row and byte caps, as the query lane does.
        ``admit``: the admission a query must pass once it has run ``cheap_seconds``
        (:mod:`server.services.store_connection`); its refusal (429 / 503) is raised."""
        try:
            graphs = self._job_graphs(job["dataset"])
            outlined = outline(job["text"])
            form = outlined.form
            base = None if outlined.declares_base else job["base_iri"]
            text = with_base(job["text"], base)
            reply = self._ask(text, form, graphs, job["max_bytes"], timeout, admit)
            cut = cut_at(reply)
            if cut is not None:  # the store cut the answer at ``cut`` rows: truncated, said so
                job = {**job, "max_rows": max(0, min(job["max_rows"], cut - 1))}
            if form in _GRAPH_FORMS:  # its triples written as the lane writes an answer's
                return write_graph(_graph_triples(reply.body, reply.media_type), job)
            select = form == "SELECT"  # (Virtuoso's ASK: not SPARQL JSON)
            passed = passed_through(reply, job) if select else None
            if passed is not None:
                return passed
            result, _ = self._parsed(form, reply)
        except _Refused as error:
            return ("refused", str(error))
        except SyntaxError as error:
            return ("syntax", str(error))
        except AnswerTooLarge as error:
            return ("too-large", str(error))
        except TimeoutError:
            return ("timeout", "")
        except StoreUnavailable as error:
            return ("unavailable", error.description)
        return evaluate_job(cast(ox.Store, _Answered(result)), job)

    def _job_graphs(self, dataset: Any) -> StoreGraphs:
        if dataset == "union":
            return self.graphs
        if dataset == "query":
            raise _Refused(
                "FROM / FROM NAMED: this server's dataset is fixed; "
                "name graphs with default-graph-uri / named-graph-uri"
            )
        defaults, named = dataset
        outside = sorted((set(defaults) | set(named)) - set(self.graphs.named))
        if outside:
            raise _Refused(f"{outside[0]}: not a graph of this server")
        return StoreGraphs(tuple(defaults), tuple(named))

    # -- the protocol ---------------------------------------------------------------------------

    def _served_name(self, graph: Any) -> Any:
        """The store's data graph under the name the server's services know it by."""
        return ox.NamedNode(DATA_GRAPH) if graph == ox.NamedNode(self.data_graph) else graph

    def _internal(self, text: str, graphs: StoreGraphs, timeout: float | None = None) -> Any:
        """A query of the server's own (pages, index): whatever goes wrong is the store's, and
        so is an answer it cut short (the index needs all of it)."""
        if self.data_graph != DATA_GRAPH:  # our own text: the graph's IRI as we wrote it
            text = text.replace(f"<{DATA_GRAPH}>", f"<{self.data_graph}>")
        seconds = self.timeout if timeout is None else timeout
        try:
            result, cut = self._query(text, graphs, INTERNAL_BYTES, seconds)
        except TimeoutError:
            raise StoreUnavailable(
                f"the triple store did not answer within {seconds:g} s"
            ) from None
        except (SyntaxError, AnswerTooLarge) as error:
            raise StoreUnavailable(f"the triple store could not answer: {error}") from None
        if cut is not None:
            raise StoreUnavailable(
                f"the triple store cut an answer at {cut} rows (Virtuoso: ResultSetMaxRows "
                "in virtuoso.ini); it must answer the whole graph"
            )
        return result

    def _pattern_graphs(self, graph_name: Any) -> tuple[str, ...]:
        if graph_name is None:
            return self.graphs.default
        if graph_name == ox.NamedNode(DATA_GRAPH):
            return (self.data_graph,)
        if isinstance(graph_name, ox.NamedNode) and graph_name.value in self.graphs.named:
            return (graph_name.value,)
        return ()  # the default graph of the embedded store holds nothing

    def _query(
        self,
        text: str,
        graphs: StoreGraphs,
        max_bytes: int,
        timeout: float | None = None,
        admit: Admit | None = None,
    ) -> tuple[Any, int | None]:
        """The answer, and the rows the store cut it at (Virtuoso's ``X-SPARQL-MaxRows``,
        sent only when it did), if it did."""
        form = outline(text).form
        return self._parsed(form, self._ask(text, form, graphs, max_bytes, timeout, admit))

    def _ask(
        self,
        text: str,
        form: str | None,
        graphs: StoreGraphs,
        max_bytes: int,
        timeout: float | None = None,
        admit: Admit | None = None,
    ) -> Reply:
        exchange = Exchange(
            b"query=" + form_value(text) + graphs.fields,
            _GRAPH_ACCEPT if form in _GRAPH_FORMS else _RESULTS_ACCEPT,
            time.monotonic() + (self.timeout if timeout is None else timeout),
            max_bytes,
            admit,
            self.cheap_seconds,
        )
        return self._post(exchange)

    def _parsed(self, form: str | None, reply: Reply) -> tuple[Any, int | None]:
        body, media_type = reply.body, reply.media_type
        cut = cut_at(reply)
        if form in _GRAPH_FORMS:
            return _triples(body, media_type), cut
        results_format = ox.QueryResultsFormat.from_media_type(media_type)
        if results_format is None:
            raise StoreUnavailable(f"the store answered {media_type!r}, not SPARQL results")
        if results_format == ox.QueryResultsFormat.JSON and (
            b'"bnode"' in body or BOOLEAN.encode() in body
        ):
            body = as_the_engine_writes(body)
        return ox.parse_query_results(body, format=results_format), cut

    def _post(self, exchange: Exchange) -> Reply:
        try:
            reply = self.connections.post(exchange)
        except DeadlinePassed:
            raise TimeoutError from None
        except AnswerOverCap as error:
            raise AnswerTooLarge(str(error)) from None
        except (OSError, http.client.HTTPException) as error:
            if isinstance(error, TimeoutError):
                raise TimeoutError from None
            raise StoreUnavailable(f"the triple store cannot be reached: {error}") from None
        if reply.status != 200:
            raise _http_failure(reply)
        return reply


class _Refused(ValueError):
    """A ``/sparql`` dataset outside the pushed graphs: 400."""


class _Answered:
    """A store whose one answer is already there, for :func:`evaluate_job`'s formatting."""

    def __init__(self, result: Any) -> None:
        self.result = result

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.result


def _http_failure(reply: Reply) -> Exception:
    """A 400 from the store is the query's fault (its message); Virtuoso's timeout (``S1T00``)
    is ours; anything else the store's."""
    message = reply.body[:4096].decode("utf-8", "replace").strip()
    if reply.status == 400:
        return SyntaxError(message or "the store refused the query")
    if "S1T00" in message:
        return TimeoutError()
    return StoreUnavailable(f"the triple store answered {reply.status} {reply.reason}")


def _graph_triples(body: bytes, media_type: str) -> list[ox.Triple]:
    """A graph answer's triples, each once, in the store's order (a ``/sparql`` answer is
    written from them: a store and a query in between took 0.4 ms for a DESCRIBE of 50).

    They are the parser's quads, all in the default graph, which pyoxigraph writes in a graph
    format as their triples, byte for byte: a ``Triple`` made of each took 0.04 ms more for
    the 69 of a DESCRIBE."""
    return cast(list[ox.Triple], _graph_quads(body, media_type))


def _graph_quads(body: bytes, media_type: str) -> list[ox.Quad]:
    """The answer's triples as quads of the default graph, each once, in the store's order."""
    rdf_format = ox.RdfFormat.from_media_type(media_type)
    if rdf_format is None:
        raise StoreUnavailable(f"the store answered {media_type!r}, not an RDF graph")
    quads: Iterable[ox.Quad] = ox.parse(body, rdf_format)
    if rdf_format.supports_datasets:  # (not what was asked for) its graphs are left out
        quads = (ox.Quad(q.subject, q.predicate, q.object) for q in quads)
    return list(dict.fromkeys(quads))


def _triples(body: bytes, media_type: str) -> ox.QueryTriples:
    """A graph answer as the embedded store gives one (``QueryTriples``)."""
    graph = ox.Store()
    graph.bulk_extend(_graph_quads(body, media_type))
    triples = graph.query("CONSTRUCT WHERE { ?s ?p ?o }")
    assert isinstance(triples, ox.QueryTriples)
    return triples


def store_graphs(settings: Settings, releases: ox.Store | None) -> StoreGraphs:
    """The pushed graphs: the data (``--store-graph``) and the ontology, and each graph of the
    publication's release dataset (named only, as in the embedded engine's query lane)."""
    data = settings.store_graph or DATA_GRAPH
    ours = (data, ONTOLOGY_GRAPH)
    if releases is None:
        return StoreGraphs(ours, ours)
    family = data.rsplit(":", 1)[0] + ":"
    others = tuple(sorted(g.value for g in releases.named_graphs() if g.value not in ours))
    default = ours + tuple(graph for graph in others if graph.startswith(family))
    return StoreGraphs(default, ours + others)


def open_store(settings: Settings, releases: ox.Store | None) -> ox.Store:
    """The store ``settings.store`` names, typed as the embedded one it stands in for."""
    assert settings.store is not None
    remote = RemoteStore(
        settings.store,
        store_graphs(settings, releases),
        settings.query_timeout,
        settings.max_answer_bytes,
        settings.cheap_seconds,
    )
    return cast(ox.Store, remote)


def remote_of(store: object) -> RemoteStore | None:
    """``store`` when it is a :class:`RemoteStore` (``/sparql`` sends its queries there)."""
    return store if isinstance(store, RemoteStore) else None
