"""The researcher query mix over HTTP: this project against rdflib-endpoint and Virtuoso.

Every server is started by this script in the same run (:mod:`bench.harness`), loaded with the
same data (the real corpus's graph and ontology, and synthetic ×10 and ×100 copies:
:mod:`bench.synthetic`), and driven by wrk on loopback. Printed as one table:

* the whole mix (the questions in turn, each request a distinct query string so no parse
  cache decides) at 1, 8 and 32 connections: requests per second, p50 and p99 latency;
* each question alone at 8 connections;
* at every scale, the answers compared first: each question must return the same number of
  rows from every server (a server that disagrees is named, and its figures are not compared);
* the resident memory of each server afterwards (per gunicorn worker for this project).

Usage: python bench/mix.py [--seconds S] [--scales 1,10,100] [--peers rdflib,virtuoso]
       [--rdflib-max-scale N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    SPARQL_JSON,
    Load,
    Target,
    build_real,
    our_server,
    rdflib_endpoint,
    rss_mib,
    virtuoso,
    wrk,
)
from synthetic import scale_publication

PREFIXES = (
    "PREFIX ak: <urn:nl:ak:def:> PREFIX dcterms: <http://purl.org/dc/terms/> "
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
)
#: The questions of the mix (issue 10), as a researcher would write them.
QUESTIONS: dict[str, str] = {
    "lookup": "SELECT ?p ?o WHERE { <urn:nl:ak:mtr:org-02> ?p ?o }",
    "maatregelen per fase": PREFIXES + "SELECT ?fase (COUNT(?m) AS ?n) WHERE { "
    "?m a ak:Maatregel ; ak:levenscyclusfase ?fase } GROUP BY ?fase ORDER BY ?fase",
    "maatregelen voor 1 vereiste": PREFIXES + "SELECT ?m ?titel WHERE { "
    "?m ak:vereiste <urn:nl:ak:ver:aia-01> ; dcterms:title ?titel } ORDER BY ?m",
    "vereisten hoog-risico gebruiksverantwoordelijke": PREFIXES + "SELECT ?v ?titel WHERE { "
    "?v a ak:Vereiste ; dcterms:title ?titel ; "
    "ak:risicogroep <urn:nl:ak:risicogroep:hoog-risico-ai-systeem> ; "
    "ak:rolAiAct <urn:nl:ak:rol-ai-act:gebruiksverantwoordelijke> } ORDER BY ?v",
    "maatregelen zonder vereiste": PREFIXES + "SELECT ?m WHERE { ?m a ak:Maatregel "
    "FILTER NOT EXISTS { ?m ak:vereiste ?v } } ORDER BY ?m",
    "tekstfilter": PREFIXES + "SELECT ?s ?titel WHERE { ?s dcterms:title ?titel "
    'FILTER(CONTAINS(LCASE(STR(?titel)), "bias")) } ORDER BY ?s',
    "describe": "DESCRIBE <urn:nl:ak:ver:aia-01>",
    "twee stappen hulpmiddel-maatregel-vereiste": PREFIXES + "SELECT ?h ?m ?v WHERE { "
    "?h a ak:Hulpmiddel ; ak:maatregel ?m . ?m ak:vereiste ?v . ?v a ak:Vereiste } "
    "ORDER BY ?h ?m ?v",
    "optional + not exists": PREFIXES + "SELECT ?v ?titel ?m WHERE { "
    "?v a ak:Vereiste ; dcterms:title ?titel OPTIONAL { ?m ak:vereiste ?v } "
    "FILTER NOT EXISTS { ?h a ak:Hulpmiddel ; ak:vereiste ?v } } ORDER BY ?v ?m",
}
ACCEPT = f"{SPARQL_JSON}, text/turtle;q=0.9, application/n-triples;q=0.8"


def answer_size(target: Target, query: str) -> int:
    """Rows (or, for DESCRIBE, lines of N-Triples) of one answer."""
    describe = query.startswith("DESCRIBE")
    request = urllib.request.Request(
        target.base + target.query_path(query),
        headers={"Accept": "application/n-triples" if describe else SPARQL_JSON},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        body = response.read()
    if describe:
        return len([line for line in body.decode().splitlines() if line.strip()])
    return len(json.loads(body)["results"]["bindings"])


def run_target(
    target: Target, seconds: float, connections: tuple[int, ...], rows: list[str]
) -> dict[str, int]:
    sizes = {name: answer_size(target, query) for name, query in QUESTIONS.items()}
    paths = [target.query_path(query) for query in QUESTIONS.values()]
    for count in connections:
        load = wrk(target.base, paths, count, seconds, ACCEPT, distinct=True, threads=2)
        rows.append(_row(target.name, f"mix, {count} conn.", load))
    for name, query in QUESTIONS.items():
        load = wrk(target.base, [target.query_path(query)], 8, seconds, ACCEPT, distinct=True)
        rows.append(_row(target.name, f"{name}, 8 conn.", load))
    memory = rss_mib(target.pid, children=target.name == "this project")
    rows.append(f"  {target.name:16s} RSS: " + ", ".join(f"{m:.0f} MiB" for m in memory))
    return sizes


def _row(name: str, what: str, load: Load) -> str:
    return f"  {name:16s} {what:58s} {load.row()}"


def _servers(
    dist: Path, peers: set[str], with_rdflib: bool
) -> Iterator[Callable[[], AbstractContextManager[Target]]]:
    yield lambda: our_server(dist)
    data = [dist / "graph.nt", dist / "ontology.ttl"]
    if "rdflib" in peers and with_rdflib:
        yield lambda: rdflib_endpoint(data[0])
    if "virtuoso" in peers:
        yield lambda: virtuoso(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--peers", default="rdflib,virtuoso")
    parser.add_argument("--rdflib-max-scale", type=int, default=10)
    args = parser.parse_args()
    peers = set(args.peers.split(",")) if args.peers else set()
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-mix-") as folder:
        real = build_real(Path(folder) / "real" / "dist")
        for scale in (int(text) for text in args.scales.split(",")):
            dist = (
                real if scale == 1 else scale_publication(real, Path(folder) / f"x{scale}", scale)
            )
            rows.append(f"×{scale} ({sum(1 for _ in (dist / 'graph.nt').open())} triples)")
            connections = (1, 8, 32) if scale == 1 else (8,)
            answers: dict[str, dict[str, int]] = {}
            for start in _servers(dist, peers, scale <= args.rdflib_max_scale):
                with start() as target:
                    answers[target.name] = run_target(target, args.seconds, connections, rows)
            rows.extend(_agreement(answers))
    print(f"{'':18s} {'what':58s} {'req/s':>10s} {'p50 ms':>9s} {'p99 ms':>9s}")
    print("\n".join(rows))


def _agreement(answers: dict[str, dict[str, int]]) -> list[str]:
    ours = answers.get("this project", {})
    lines = []
    for name, sizes in answers.items():
        differing = [q for q, size in sizes.items() if size != ours.get(q)]
        if differing:
            lines.append(f"  {name}: answers differ from this project's on: {differing}")
    if not lines:
        lines.append("  every server gave the same number of rows for every question")
    return lines


if __name__ == "__main__":
    main()
