"""Query benchmark: a typical query mix on the real corpus, three ways.

For each query, the median latency of
  * Oxigraph in-process: ``server.query.evaluate`` (query, read the rows, serialise as SPARQL
    JSON), on the store the server loads (named graphs, union as default graph);
  * the fork-based runner the endpoint uses: ``server.query.run_query`` (the same work in a
    sandboxed child process, the answer sent back through a pipe);
  * rdflib's SPARQL engine on the same triples (one graph holding data and ontology), with its
    answer serialised as SPARQL JSON too: the baseline;
and the ratio rdflib / Oxigraph. The fork overhead is the runner's extra time on a trivial
query (``ASK {}``). Every engine must give the same number of rows.

Usage: python bench/query.py [--content DIR] [--repeat N] [--rdflib-repeat N]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = REPO.parent / "shared" / "corpus" / "algoritmekader"
sys.path.insert(0, str(REPO))

PREFIXES = (
    "PREFIX ak: <urn:nl:ak:def:>\n"
    "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
    "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
)
QUERIES: dict[str, str] = {
    "lookup by URN": "SELECT ?p ?o WHERE { <urn:nl:ak:mtr:org-02> ?p ?o }",
    "maatregel -> vereiste": PREFIXES + "SELECT ?m ?mt ?v ?vt WHERE {\n"
    "  ?m a ak:Maatregel ; dcterms:title ?mt ; ak:vereiste ?v . ?v dcterms:title ?vt }",
    "two-hop join": PREFIXES + "SELECT ?m ?v ?o ?label WHERE {\n"
    "  ?m a ak:Maatregel ; ak:vereiste ?v . ?v a ak:Vereiste ; ak:onderwerp ?o .\n"
    "  ?o skos:prefLabel ?label }",
    "COUNT by class": "SELECT ?class (COUNT(?s) AS ?n) WHERE { ?s a ?class } GROUP BY ?class",
    "FILTER regex on titles": PREFIXES
    + 'SELECT ?s ?t WHERE { ?s dcterms:title ?t FILTER(REGEX(?t, "risico", "i")) }',
}


def median_seconds(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Median wall time of ``run()`` over ``repeat`` runs (after one warm-up), and its rows."""
    rows = run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), rows


def json_rows(body: bytes) -> int:
    data = json.loads(body)
    return 1 if "boolean" in data else len(data["results"]["bindings"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=DEFAULT_CONTENT)
    parser.add_argument("--repeat", type=int, default=50, help="runs per query (Oxigraph)")
    parser.add_argument("--rdflib-repeat", type=int, default=5, help="runs per query (rdflib)")
    args = parser.parse_args()
    if not args.content.is_dir():
        print(f"no content folder at {args.content}", file=sys.stderr)
        return 2

    from rdflib import Graph
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    from kg.cli import run_build
    from kg.config import Settings
    from server.services.dataset import load_dataset
    from server.services.query import QueryRequest, evaluate, run_query

    accept = parse_accept_header("application/sparql-results+json", MIMEAccept)
    with tempfile.TemporaryDirectory() as folder:
        dist = Path(folder) / "dist"
        run_build(Settings(content=args.content, out=dist), io.StringIO(), io.StringIO())
        dataset = load_dataset(dist)
        store = dataset.store

        def direct(text: str) -> Callable[[], int]:
            return lambda: json_rows(evaluate(store, QueryRequest(text, accept=accept)).body)

        def forked(text: str) -> Callable[[], int]:
            return lambda: json_rows(run_query(store, QueryRequest(text, accept=accept), 30).body)

        # Oxigraph first, in a process that holds what a server worker holds (no rdflib graph:
        # a fork's cost grows with the memory the process has).
        gc.collect()
        oxigraph = {
            name: (
                median_seconds(direct(text), args.repeat),
                median_seconds(forked(text), args.repeat),
            )
            for name, text in QUERIES.items()
        }
        trivial_direct, _ = median_seconds(direct("ASK {}"), args.repeat)
        trivial_fork, _ = median_seconds(forked("ASK {}"), args.repeat)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        graph = Graph()
        graph.parse(dist / "graph.nt", format="nt")
        graph.parse(dist / "ontology.ttl", format="turtle")
    gc.collect()
    gc.freeze()  # rdflib's many objects out of the collector's way, as Oxigraph's are

    def rdflib_run(text: str) -> Callable[[], int]:
        return lambda: json_rows(graph.query(text).serialize(format="json") or b"")

    print(f"corpus: {args.content} ({dataset.manifest.triples} triples, {len(graph)} with the")
    print(f"ontology); medians of {args.repeat} runs (rdflib: {args.rdflib_repeat})\n")
    header = f"{'query':<24}{'rows':>6}{'oxigraph':>12}{'fork runner':>14}{'rdflib':>12}"
    print(header + f"{'rdflib/oxigraph':>18}")
    ratios = []
    for name, text in QUERIES.items():
        (ox_time, ox_rows), (fork_time, fork_rows) = oxigraph[name]
        rdf_time, rdf_rows = median_seconds(rdflib_run(text), args.rdflib_repeat)
        if not ox_rows == fork_rows == rdf_rows:
            print(f"{name}: rows differ: {ox_rows} / {fork_rows} / {rdf_rows}", file=sys.stderr)
            return 1
        ratios.append(rdf_time / ox_time)
        print(
            f"{name:<24}{ox_rows:>6}{ox_time * 1000:>10.2f}ms{fork_time * 1000:>12.2f}ms"
            f"{rdf_time * 1000:>10.1f}ms{rdf_time / ox_time:>17.0f}x"
        )
    print(
        f"\nfork overhead (ASK {{}}): {(trivial_fork - trivial_direct) * 1000:.2f} ms "
        f"({trivial_direct * 1000:.2f} ms in-process, {trivial_fork * 1000:.2f} ms forked; "
        f"process max RSS then {rss:.0f} MiB)"
    )
    print(f"rdflib / Oxigraph: {min(ratios):.0f}x to {max(ratios):.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
