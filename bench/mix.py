"""The researcher query mix over HTTP: this project against rdflib-endpoint and Virtuoso.

Every server is started by this script in the same run (:mod:`bench.harness`), loaded with the
same data (the real corpus's graph and ontology, and synthetic ×10 and ×100 copies:
:mod:`bench.synthetic`), and driven by wrk on loopback. With Virtuoso among the peers, this
project is measured a second time as ``kg serve --store`` on that same Virtuoso (every query
and page through it: the web nodes of the Production setup), so the cost of our layer over
the store shows per question. Printed as one table:

* every measurement starts once the server (and every process under it) is idle again, so
  queries a stopped load generator left running do not count against the next one (for
  ``kg serve --store``, the store too: Virtuoso's last measurement leaves queries running
  there);
* the whole mix (the questions in turn, each request a distinct query string so no parse
  cache decides) at 1, 8 and 32 connections: requests per second, p50 and p99 latency;
* each question alone at 8 connections, with the processor time per request of the server's
  processes (for ``kg serve --store``: of ours, not the store's);
* at every scale, the answers compared first: each question must return the same number of
  rows from every server (a server that disagrees is named, and its figures are not compared);
* the resident memory of each server afterwards (per gunicorn worker for this project; and
  PSS, per worker and of all our processes together, where pages shared between processes
  count once);
* per question at 8 connections, ``kg serve --store`` against Virtuoso queried directly: the
  ratio of their p50 latencies and of their rates (the goal at ×10: at most 1.5× the time),
  once with every process on every processor, and once with Virtuoso on half of them and our
  web node and wrk on the other half, as web nodes on machines of their own would be (on the
  shared processors our layer's work is taken from the store's).

Usage: python bench/mix.py [--seconds S] [--scales 1,10,100] [--peers rdflib,virtuoso]
       [--rdflib-max-scale N] [--ours embedded,store]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers (harness)

from harness import (
    SPARQL_JSON,
    VIRTUOSO_GRAPH,
    Load,
    Target,
    _tree_cpu,
    build_real,
    our_server,
    own_mib,
    pin,
    proportional_mib,
    rdflib_endpoint,
    record,
    rss_mib,
    settle,
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
OURS = "this project"
OURS_ON_STORE = "… --store Virtuoso"
_ADMIT_ALL = ("--heavy-per-client", "32", "--heavy-total", "32")
#: Per target: the sizes of its answers; each question's load alone at 8 connections, and the
#: mix's at each count of connections (``mix N``); its largest RSS (MiB; ours: per worker).
Run = tuple[dict[str, int | str], dict[str, Load], float]
#: The names of the servers in the figures ``bench/goals.py`` reads.
FIGURE_NAMES = {
    OURS: "ours",
    OURS_ON_STORE: "store",
    "Virtuoso": "virtuoso",
    "rdflib-endpoint": "rdflib",
}
#: Per question at 8 connections, Virtuoso's load and ours on it, each on processors of its own.
Pinned = dict[str, tuple[Load, Load]]


def answer_size(target: Target, query: str) -> int | str:
    """Rows (or, for DESCRIBE, lines of N-Triples) of one answer; the status when there is
    none (at ×100 some questions take the embedded engine past its timeout: ``503``)."""
    describe = query.startswith("DESCRIBE")
    request = urllib.request.Request(
        target.base + target.query_path(query),
        headers={"Accept": "application/n-triples" if describe else SPARQL_JSON},
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    if describe:
        return len([line for line in body.decode().splitlines() if line.strip()])
    return len(json.loads(body)["results"]["bindings"])


def run_target(
    target: Target,
    seconds: float,
    connections: tuple[int, ...],
    rows: list[str],
    beside: tuple[int, ...] = (),
) -> Run:
    """``target`` measured; each measurement starts once it and the processes ``beside`` it
    (the store under ``kg serve --store``, still running the queries Virtuoso's last
    measurement left) are idle."""
    sizes = {name: answer_size(target, query) for name, query in QUESTIONS.items()}
    paths = [target.query_path(query) for query in QUESTIONS.values()]
    loads = {}
    for count in connections:
        _settle(target, beside)  # the last measurement's queries finished first
        load = wrk(target.base, paths, count, seconds, ACCEPT, distinct=True, threads=2)
        rows.append(_row(target.name, f"mix, {count} conn.", load))
        loads[f"mix {count}"] = load
    for name, query in QUESTIONS.items():
        _settle(target, beside)
        before = _tree_cpu(target.pid)
        load = wrk(target.base, [target.query_path(query)], 8, seconds, ACCEPT, distinct=True)
        # processor time per request of the server's processes (ours: without the store's):
        # on a shared machine steadier than latency
        cpu_ms = (_tree_cpu(target.pid) - before) / max(load.requests, 1) * 1e3
        cpu = f"{cpu_ms:9.2f}" if load.requests else f"{'n/a':>9s}"
        rows.append(_row(target.name, f"{name}, 8 conn.", load) + f" {cpu}")
        loads[name] = load
    rows.append(f"  {target.name:16s} {_memory(target)}")
    workers = target.name in (OURS, OURS_ON_STORE)
    return sizes, loads, max(rss_mib(target.pid, children=workers))


def _memory(target: Target) -> str:
    """RSS per worker (ours; the process for a peer), what only each holds, and PSS: per
    worker, and of every process of the server together (ours: master, workers, zygotes,
    query processes; shared pages counted once), comparable with a peer's one RSS."""
    workers = target.name in (OURS, OURS_ON_STORE)
    memory = ", ".join(f"{m:.0f} MiB" for m in rss_mib(target.pid, children=workers))
    own = ", ".join(f"{m:.0f}" for m in own_mib(target.pid, children=workers))
    if not workers:
        return f"RSS: {memory} (own: {own})"
    each, total = proportional_mib(target.pid)
    pss = ", ".join(f"{m:.0f}" for m in each)
    return f"RSS: {memory} (own: {own}; PSS: {pss}; all processes together PSS {total:.0f} MiB)"


def _settle(target: Target, beside: tuple[int, ...]) -> None:
    for pid in (*beside, target.pid):
        settle(pid)


def _row(name: str, what: str, load: Load) -> str:
    return f"  {name:16s} {what:58s} {load.row()}"


def _servers(
    dist: Path, peers: set[str], with_rdflib: bool, ours: set[str]
) -> Iterator[Callable[[], AbstractContextManager[list[Target]]]]:
    """Each server (or, for Virtuoso, the store and our server on it) to start in turn."""
    if "embedded" in ours:
        yield lambda: _one(our_server(dist))
    data = [dist / "graph.nt", dist / "ontology.ttl"]
    if "rdflib" in peers and with_rdflib:
        yield lambda: _one(rdflib_endpoint(data[0]))
    if "virtuoso" in peers:
        yield lambda: _virtuoso_and_store(dist, data, "store" in ours)


@contextmanager
def _one(server: AbstractContextManager[Target]) -> Iterator[list[Target]]:
    with server as target:
        yield [target]


@contextmanager
def _virtuoso_and_store(dist: Path, data: list[Path], store: bool) -> Iterator[list[Target]]:
    """Virtuoso, and ``kg serve --store`` on it (the bench loads one graph, its default)."""
    with virtuoso(data) as peer:
        if not store:
            yield [peer]
            return
        # wrk is one client: admission as for 32 of them, so that the figures are the cost of
        # our layer, not refusals (tests/test_fairness.py checks the admission)
        flags = ("--store", peer.endpoint, "--store-graph", VIRTUOSO_GRAPH, *_ADMIT_ALL)
        with our_server(dist, 2, *flags) as on_store:
            yield [peer, replace(on_store, name=OURS_ON_STORE)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--peers", default="rdflib,virtuoso")
    parser.add_argument("--rdflib-max-scale", type=int, default=10)
    parser.add_argument("--ours", default="embedded,store", help="embedded, store (on Virtuoso)")
    args = parser.parse_args()
    peers = set(args.peers.split(",")) if args.peers else set()
    ours = set(args.ours.split(",")) if args.ours else set()
    ratios: list[str] = []
    print(f"{'':18s} {'what':58s} {'req/s':>10s} {'p50 ms':>9s} {'p99 ms':>9s} {'CPU ms':>9s}")
    with tempfile.TemporaryDirectory(prefix="bench-mix-") as folder:
        real = build_real(Path(folder) / "real" / "dist")
        for scale in (int(text) for text in args.scales.split(",")):
            dist = (
                real if scale == 1 else scale_publication(real, Path(folder) / f"x{scale}", scale)
            )
            runs, pinned = _scale(dist, scale, args, peers, ours)
            ratios.extend(_store_ratios(scale, runs, pinned))
    if ratios:
        print("\nkg serve --store on Virtuoso / Virtuoso directly, each question at 8 conn.;")
        print("shared: every process on every processor; own processors: the store on half of")
        print("them, our web node and wrk on the other half (as on machines of their own):")
        print(f"  {'':5s} {'question':48s} {'shared p50 ×':>13s} {'req/s ×':>8s}", end="")
        print(f" {'own processors p50 ×':>21s} {'req/s ×':>8s}")
        print("\n".join(ratios))


def _scale(
    dist: Path, scale: int, args: argparse.Namespace, peers: set[str], ours: set[str]
) -> tuple[dict[str, Run], Pinned]:
    """Every server on ``dist``, its rows printed once the scale is done (a server that does
    not start is said so, and the others are measured)."""
    rows = [f"×{scale} ({sum(1 for _ in (dist / 'graph.nt').open())} triples)"]
    connections = (1, 8, 32) if scale == 1 else (8,)
    runs: dict[str, Run] = {}
    pinned: Pinned = {}
    for start in _servers(dist, peers, scale <= args.rdflib_max_scale, ours):
        try:
            with start() as targets:
                pids = tuple(target.pid for target in targets)
                for index, target in enumerate(targets):  # the store is measured first
                    runs[target.name] = run_target(
                        target, args.seconds, connections, rows, pids[:index]
                    )
                pinned.update(_on_own_processors(targets, args.seconds))
        except RuntimeError as error:
            rows.append(f"  not measured: {error}")
    rows.extend(_agreement({name: run[0] for name, run in runs.items()}))
    print("\n".join(rows), flush=True)
    record("mix", _figures(scale, runs, pinned))
    return runs, pinned


def _figures(scale: int, runs: dict[str, Run], pinned: Pinned) -> dict[str, float | None]:
    """This scale's figures for ``bench/goals.py``: each server's req/s and p99 per question
    and mix, its RSS, the questions whose answers differ from ours (DESCRIBE aside: ours is a
    superset by design) and those not compared (one side gave no answer, e.g. the embedded
    engine's ``503`` past its timeout at ×100), and the store's p50 over Virtuoso's per
    question."""
    figures: dict[str, float | None] = {}
    ours = _reference({name: run[0] for name, run in runs.items()})
    for name, (sizes, loads, rss) in runs.items():
        key = f"x{scale} {FIGURE_NAMES.get(name, name)}"
        for what, load in loads.items():
            answered = load.requests > 0
            figures[f"{key} {what} req/s"] = load.requests_per_second if answered else None
            figures[f"{key} {what} p99 ms"] = load.p99_ms if answered else None
        figures[f"{key} rss MiB"] = rss
        differing, not_compared = _compared(sizes, ours)
        figures[f"{key} answers differing"] = len([q for q in differing if q != "describe"])
        figures[f"{key} answers not compared"] = not_compared
    if "Virtuoso" in runs and OURS_ON_STORE in runs:
        theirs, on_store = runs["Virtuoso"][1], runs[OURS_ON_STORE][1]
        for name in QUESTIONS:
            figures[f"x{scale} store p50 ratio shared {name}"] = _p50_ratio(
                theirs[name], on_store[name]
            )
            if name in pinned:
                figures[f"x{scale} store p50 ratio own {name}"] = _p50_ratio(*pinned[name])
    return figures


def _p50_ratio(theirs: Load, ours: Load) -> float | None:
    return ours.p50_ms / theirs.p50_ms if ours.requests and theirs.requests else None


def _on_own_processors(targets: list[Target], seconds: float) -> Pinned:
    """With Virtuoso and ``kg serve --store`` on it: each question again, the store on one
    half of the processors and our web node and wrk on the other, Virtuoso queried directly
    by wrk from that other half too. So the store has the same processors both times, and
    the ratio is what our layer adds when it has processors of its own (separate web nodes,
    as the Production setup has them); on the shared processors, our layer's work is taken
    from the store's. Question -> (Virtuoso's load, ours)."""
    names = {target.name: target for target in targets}
    processors = sorted(os.sched_getaffinity(0))
    if set(names) != {"Virtuoso", OURS_ON_STORE} or len(processors) < 2:
        return {}
    store_side, web_side = (
        set(processors[: len(processors) // 2]),
        set(processors[len(processors) // 2 :]),
    )
    peer, ours = names["Virtuoso"], names[OURS_ON_STORE]
    pin(peer.pid, store_side)
    pin(ours.pid, web_side)
    found: Pinned = {}
    for name, query in QUESTIONS.items():
        loads = []
        for target in (peer, ours):
            _settle(target, (peer.pid, ours.pid))
            path = target.query_path(query)
            loads.append(wrk(target.base, [path], 8, seconds, ACCEPT, True, cpus=web_side))
        found[name] = (loads[0], loads[1])
    return found


def _store_ratios(scale: int, runs: dict[str, Run], pinned: Pinned) -> list[str]:
    """Per question: our p50 on the store over Virtuoso's, and our rate over Virtuoso's; on
    shared processors and on processors of their own."""
    if OURS_ON_STORE not in runs or "Virtuoso" not in runs:
        return []
    ours, theirs = runs[OURS_ON_STORE][1], runs["Virtuoso"][1]
    lines = []
    for name in QUESTIONS:
        shared = _ratio(theirs[name], ours[name], 13)
        own = _ratio(*pinned[name], 21) if name in pinned else f"{'not measured':>30s}"
        lines.append(f"  ×{scale:<4d} {name:48s} {shared} {own}")
    return lines


def _ratio(theirs: Load, ours: Load, width: int) -> str:
    """Our p50 over theirs and our rate over theirs, or why there is none."""
    if not (ours.requests and theirs.requests):
        return f"{'none answered':>{width + 9}s}"
    slower = ours.p50_ms / theirs.p50_ms
    rate = ours.requests_per_second / theirs.requests_per_second
    return f"{slower:{width}.2f} {rate:8.2f}"


def _reference(answers: dict[str, dict[str, int | str]]) -> dict[str, int | str]:
    """The answers the others are compared with: the embedded engine's, else ours on the store."""
    return answers.get(OURS) or answers.get(OURS_ON_STORE, {})


def _compared(sizes: dict[str, int | str], ours: dict[str, int | str]) -> tuple[list[str], int]:
    """The questions whose answer differs from ours in size, of those both answered; and how
    many questions one side did not answer (a status instead of a size)."""
    both = [q for q in QUESTIONS if all(isinstance(x.get(q), int) for x in (sizes, ours))]
    return [q for q in both if sizes[q] != ours[q]], len(QUESTIONS) - len(both)


def _agreement(answers: dict[str, dict[str, int | str]]) -> list[str]:
    ours = _reference(answers)
    lines = []
    for name, sizes in answers.items():
        failed = {q: size for q, size in sizes.items() if isinstance(size, str)}
        if failed:
            lines.append(f"  {name}: no answer to {failed}")
        differing, _ = _compared(sizes, ours)
        if differing:
            lines.append(f"  {name}: answers differ from this project's on: {differing}")
    if not lines:
        lines.append("  every server gave the same number of rows for every question")
    return lines


if __name__ == "__main__":
    main()
