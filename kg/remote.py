"""``kg push`` and ``kg query``: the publication in any SPARQL 1.1 store, and questions to one.

Why: when the data or the load outgrow one machine, any number of stateless web nodes can
share one store (Virtuoso, Oxigraph server, …). ``kg push`` loads a built publication into it,
each graph replaced in one step, so a reader of the store sees the old graph or the new one,
never half of each:

* ``--protocol gsp`` (the default): SPARQL 1.1 Graph Store Protocol, one ``PUT`` of the file
  to ``URL?graph=IRI`` (the N-Triples dump for the data, the Turtle ontology for the ontology);
  ``URL`` is the store's graph-store service (Oxigraph: ``/store``, Virtuoso:
  ``/sparql-graph-crud-auth``).
* ``--protocol update``: SPARQL 1.1 Update through SPARQLWrapper to the update endpoint
  (Oxigraph: ``/update``, Virtuoso: ``/sparql-auth``): ``DROP SILENT GRAPH`` and the insert in
  one request; a graph larger than ``--chunk-bytes`` is inserted in pieces into a staging graph
  (:func:`kg.namespace.staging_graph`) that one ``MOVE`` then puts in place. Triples with
  blank nodes are written as ``INSERT {…} WHERE {}`` (Virtuoso refuses blank nodes in
  ``INSERT DATA``), and the triples of one blank node always travel in the same request, so
  the ontology's lists stay whole.

The publication is read from the snapshot ``dist`` points at when the push starts (resolved
once), so a build swapping ``dist`` meanwhile cannot mix two snapshots. ``kg query`` runs a
query file against our server's ``/sparql`` or any endpoint (SPARQLWrapper) and prints a table
or the raw answer. A failure (connection refused, an HTTP error) is a
:class:`kg.sparql_http.RemoteError`: one line ``kg: …`` and exit 2 (:mod:`kg.cli`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pyoxigraph as ox

from kg.config import Settings
from kg.manifest import GRAPH_NT, ONTOLOGY, RELEASES_NQ, read_manifest
from kg.namespace import DATA_GRAPH, ONTOLOGY_GRAPH, staging_graph
from kg.sparql_http import Endpoint, RemoteError, client, open_request, perform

#: Bytes of N-Triples one SPARQL Update request carries at most (a larger graph is staged).
#: Virtuoso's SPARQL compiler gives up at about 5,000 triples in one request.
CHUNK_BYTES = 256 * 1024
#: ``--format`` of ``kg query``.
QUERY_FORMATS = ("table", "json", "csv", "tsv")
_GRAPH_QUERIES = ("CONSTRUCT", "DESCRIBE")


@dataclass(frozen=True)
class Part:
    """One graph of the publication: which file goes to which graph (or, for a graph of the
    release dataset, its triples, read from ``releases.nq``)."""

    graph: str
    path: Path
    media_type: str
    format: ox.RdfFormat
    triples: tuple[ox.Triple, ...] | None = None


@dataclass(frozen=True)
class Pushed:
    graph: str
    triples: int
    requests: int


# --- the command line -----------------------------------------------------------------------


def configure_push(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", required=True, metavar="URL", help=_ENDPOINT_HELP)
    parser.add_argument("--graph", default=DATA_GRAPH, metavar="IRI", help="the data's graph")
    parser.add_argument(
        "--ontology-graph", default=ONTOLOGY_GRAPH, metavar="IRI", help="the ontology's graph"
    )
    parser.add_argument("--dist", dest="out", type=Path, help="publication (default: dist/)")
    parser.add_argument("--protocol", choices=("gsp", "update"), default="gsp")
    parser.add_argument(
        "--chunk-bytes",
        type=int,
        default=CHUNK_BYTES,
        metavar="N",
        help="update: bytes of triples per request; a larger graph is staged and moved",
    )
    _credential_flags(parser)


_ENDPOINT_HELP = (
    "gsp: the store's graph-store service (Oxigraph /store); update: its SPARQL Update "
    "endpoint (Oxigraph /update)"
)


def configure_query(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE.rq", help="the query")
    parser.add_argument(
        "--endpoint", metavar="URL", help="SPARQL endpoint (default: this host's kg serve)"
    )
    parser.add_argument("--format", dest="answer_format", choices=QUERY_FORMATS, default="table")
    _credential_flags(parser)


def _credential_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", metavar="U", help="user name for the endpoint")
    parser.add_argument(
        "--password-env", metavar="VAR", help="environment variable holding the password"
    )
    parser.add_argument("--auth", choices=("basic", "digest"), default="basic")


def endpoint_from(url: str, args: argparse.Namespace, environ: Mapping[str, str]) -> Endpoint:
    """The endpoint the flags name; the password is read from the variable ``--password-env``
    names (never from the command line, where ``ps`` shows it)."""
    password = None
    if args.password_env:
        if args.password_env not in environ:
            raise RemoteError(f"--password-env: {args.password_env} is not set")
        password = environ[args.password_env]
    return Endpoint(url, args.user, password, args.auth)


def run_push(
    settings: Settings, args: argparse.Namespace, environ: Mapping[str, str], out: TextIO
) -> int:
    endpoint = endpoint_from(args.endpoint, args, environ)
    parts = publication_parts(settings.out, args.graph, args.ontology_graph)
    for part in parts:
        if args.protocol == "gsp":
            pushed = put_graph(endpoint, part)
        else:
            pushed = update_graph(endpoint, part, args.chunk_bytes)
        print(
            f"{pushed.graph}: {pushed.triples} triples replaced at {endpoint.url} "
            f"({args.protocol}, {pushed.requests} request{'' if pushed.requests == 1 else 's'})",
            file=out,
        )
    return 0


def run_query(
    settings: Settings, args: argparse.Namespace, environ: Mapping[str, str], out: TextIO
) -> int:
    url = args.endpoint or f"http://{settings.host}:{settings.port}/sparql"
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as error:
        raise RemoteError(f"{args.file}: {error}") from None
    query(endpoint_from(url, args, environ), text, args.answer_format, out)
    return 0


# --- reading the publication ----------------------------------------------------------------


def publication_parts(dist: Path, data_graph: str, ontology_graph: str) -> list[Part]:
    """The files to push, from the snapshot ``dist`` points at now."""
    folder = Path(os.path.realpath(dist))
    read_manifest(folder)  # a publication, not any folder
    parts = [Part(data_graph, folder / GRAPH_NT.name, GRAPH_NT.media_type, ox.RdfFormat.N_TRIPLES)]
    if (folder / ONTOLOGY.name).is_file():
        parts.append(
            Part(ontology_graph, folder / ONTOLOGY.name, ONTOLOGY.media_type, ox.RdfFormat.TURTLE)
        )
    if (folder / RELEASES_NQ.name).is_file():
        parts.extend(release_parts(folder / RELEASES_NQ.name))
    return parts


def release_parts(path: Path) -> list[Part]:
    """Each named graph of the release dataset (``kg build --git``: a graph per release, their
    description, the lineage), in the order met; its default graph, the newest release, is
    the data graph already."""
    graphs: dict[str, list[ox.Triple]] = {}
    for quad in ox.parse(path=str(path), format=ox.RdfFormat.N_QUADS):
        if isinstance(quad.graph_name, ox.NamedNode):
            graphs.setdefault(quad.graph_name.value, []).append(quad.triple)
    media_type, syntax = GRAPH_NT.media_type, ox.RdfFormat.N_TRIPLES
    return [Part(name, path, media_type, syntax, tuple(found)) for name, found in graphs.items()]


def triples_of(part: Part) -> list[ox.Triple]:
    """The triples of the part, read by Oxigraph's parser."""
    if part.triples is not None:
        return list(part.triples)
    return [quad.triple for quad in ox.parse(path=str(part.path), format=part.format)]


# --- Graph Store Protocol -------------------------------------------------------------------


def put_graph(endpoint: Endpoint, part: Part) -> Pushed:
    """One ``PUT`` replaces the graph with the file."""
    separator = "&" if "?" in endpoint.url else "?"
    url = f"{endpoint.url}{separator}{urllib.parse.urlencode({'graph': part.graph})}"
    if part.triples is None:
        body = part.path.read_bytes()
    else:
        body = ox.serialize(part.triples, format=ox.RdfFormat.N_TRIPLES) or b""
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": part.media_type}
    )
    with open_request(endpoint, request):
        pass
    return Pushed(part.graph, len(triples_of(part)), 1)


# --- SPARQL Update --------------------------------------------------------------------------


def update_graph(endpoint: Endpoint, part: Part, chunk_bytes: int) -> Pushed:
    triples = triples_of(part)
    requests = update_requests(part.graph, triples, chunk_bytes, secrets.token_hex(8))
    for index, text in enumerate(requests):
        try:
            _update(endpoint, text)
        except RemoteError:
            if index > 0:  # staged: the first request drops the staging graph, leave none
                _drop_quietly(endpoint, requests[0])
            raise
    return Pushed(part.graph, len(triples), len(requests))


def update_requests(
    graph: str, triples: Sequence[ox.Triple], chunk_bytes: int, token: str
) -> list[str]:
    """The requests that replace ``graph`` with ``triples``: one when they fit in
    ``chunk_bytes``, else a staging graph filled piece by piece and moved in one step."""
    chunks = list(chunked(triples, chunk_bytes))
    if sum(chunk.size for chunk in chunks) <= chunk_bytes:
        inserts = [_insert(graph, chunk) for chunk in chunks]
        return [" ;\n".join([f"DROP SILENT GRAPH <{graph}>", *inserts])]
    staging = staging_graph(graph, token)
    return [
        f"DROP SILENT GRAPH <{staging}>",
        *(_insert(staging, chunk) for chunk in chunks),
        f"MOVE <{staging}> TO <{graph}>",
    ]


@dataclass(frozen=True)
class Chunk:
    """Triples for one insert, written as N-Triples (which SPARQL reads as it is)."""

    lines: tuple[str, ...]
    #: Whether they hold blank nodes (then ``INSERT {…} WHERE {}``, else ``INSERT DATA``).
    blank: bool

    @property
    def size(self) -> int:
        return sum(len(line.encode()) + 3 for line in self.lines)


def _insert(graph: str, chunk: Chunk) -> str:
    body = " .\n".join(chunk.lines)
    if chunk.blank:
        return f"INSERT {{ GRAPH <{graph}> {{\n{body} .\n}} }} WHERE {{}}"
    return f"INSERT DATA {{ GRAPH <{graph}> {{\n{body} .\n}} }}"


def chunked(triples: Sequence[ox.Triple], chunk_bytes: int) -> Iterator[Chunk]:
    """The triples in pieces of about ``chunk_bytes``: those without blank nodes, then those
    with. The triples that share a blank node (a list, a restriction) are never split, as a
    blank node is new in every request."""
    groups = _blank_node_groups(triples)
    plain = [group for group in groups if not _blank_labels(group[0])]
    blank = [group for group in groups if _blank_labels(group[0])]
    for kind, of_kind in ((False, plain), (True, blank)):
        piece: list[str] = []
        size = 0
        for group in of_kind:
            lines = [str(triple) for triple in group]
            weight = sum(len(line.encode()) + 3 for line in lines)
            if piece and size + weight > chunk_bytes:
                yield Chunk(tuple(piece), kind)
                piece, size = [], 0
            piece.extend(lines)
            size += weight
        if piece:
            yield Chunk(tuple(piece), kind)


def _blank_node_groups(triples: Sequence[ox.Triple]) -> list[list[ox.Triple]]:
    """The triples grouped so that the triples connected through blank nodes are together;
    a triple without one is a group of its own. Order is kept."""
    parent: dict[str, str] = {}

    def root(label: str) -> str:
        while parent.setdefault(label, label) != label:
            label = parent[label]
        return label

    labels = []
    for triple in triples:
        found = _blank_labels(triple)
        for other in found[1:]:
            parent[root(other)] = root(found[0])
        labels.append(found)
    groups: dict[str, list[ox.Triple]] = {}
    ordered: list[list[ox.Triple]] = []
    for triple, found in zip(triples, labels, strict=True):
        if not found:
            ordered.append([triple])
            continue
        key = root(found[0])
        if key not in groups:
            groups[key] = []
            ordered.append(groups[key])
        groups[key].append(triple)
    return ordered


def _blank_labels(triple: ox.Triple) -> list[str]:
    return [
        term.value for term in (triple.subject, triple.object) if isinstance(term, ox.BlankNode)
    ]


def _update(endpoint: Endpoint, text: str) -> None:
    sparql = client(endpoint)
    sparql.setQuery(text)
    perform(endpoint, sparql)


def _drop_quietly(endpoint: Endpoint, drop: str) -> None:
    with contextlib.suppress(RemoteError):  # the error that stopped the push is the one told
        _update(endpoint, drop)


# --- queries --------------------------------------------------------------------------------


def query(endpoint: Endpoint, text: str, answer_format: str, out: TextIO) -> None:
    """Run ``text`` at the endpoint and print the answer: a table, or the raw body."""
    from SPARQLWrapper import CSV, JSON, JSONLD, TSV, TURTLE

    sparql = client(endpoint)
    sparql.setQuery(text)
    graph_query = sparql.queryType in _GRAPH_QUERIES
    if graph_query and answer_format in ("csv", "tsv"):
        raise RemoteError(f"--format {answer_format} is for SELECT and ASK queries")
    chosen = {"json": JSONLD if graph_query else JSON, "csv": CSV, "tsv": TSV}
    sparql.setReturnFormat(chosen.get(answer_format, TURTLE if graph_query else JSON))
    body = perform(endpoint, sparql)
    if answer_format == "table" and not graph_query:
        for line in table(json.loads(body)):
            print(line, file=out)
        return
    out.write(body.decode("utf-8"))
    if not body.endswith(b"\n"):
        out.write("\n")


def table(answer: Mapping[str, Any]) -> list[str]:
    """A SPARQL JSON answer as aligned columns (ASK: ``true`` or ``false``)."""
    if "boolean" in answer:
        return ["true" if answer["boolean"] else "false"]
    names: list[str] = list(answer["head"]["vars"])
    rows = [
        [binding.get(name, {}).get("value", "") for name in names]
        for binding in answer["results"]["bindings"]
    ]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(names)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    return [
        line(names).rstrip(),
        line(["-" * width for width in widths]).rstrip(),
        *(line(row).rstrip() for row in rows),
        f"({len(rows)} rows)",
    ]
