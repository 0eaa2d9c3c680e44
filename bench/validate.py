"""Validation benchmark: median time of ``kg.validation.validate`` on the latest real corpus and
on a synthetic copy ten times its size, and the ratio (linear growth gives about 10).

A CPU reference (a fixed pure-Python loop) is timed in the same run: on a shared or busy machine
every number moves with it.

The shapes and the ontology are read once (as ``kg build`` and the server do); the time is the
call itself: union of data, ontology and derived facts, pySHACL, mapping every result to
file:line, and the report graph. The cold time (shapes read inside the call) is printed too.

The ×10 copy is the graph ten times over, each copy with its own URNs: document codes are
renamed per copy (``org-02`` -> ``xaq-02``; patterns, ids and file names stay consistent, so each
copy breaks exactly the rules the original breaks), slugs get a ``-c<n>`` suffix. Tag values,
audit codes and ontology terms are shared, as they would be in a bigger corpus.

Usage: python bench/validate.py [--content DIR] [--runs N] [--copies N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS
from rdflib.term import Node

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kg.corpus import load_corpus  # noqa: E402
from kg.graph import build_graph  # noqa: E402
from kg.namespace import AK  # noqa: E402
from kg.sourcemap import Location, SourceMap  # noqa: E402
from kg.validation import Shapes, load_shapes, validate  # noqa: E402

DEFAULT_CONTENT = REPO.parent / "shared" / "corpus" / "algoritmekader"
DOCUMENT = re.compile(r"^urn:nl:ak:(ver|mtr|hlp|ond|rol|lcf|pag|begrip):([^#]*)(#.*)?$")
CODED = re.compile(r"^([a-z]{3})-([0-9]{2})(.*)$")
FILE_CODE = re.compile(r"^([0-9]+-)?([a-z]{3})(-[0-9]{2}-.*)$")


def median_ms(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def code_maps(graph: Graph, copies: int) -> list[dict[str, str]]:
    """Per copy, a new three-letter code for every document code, unused anywhere else."""
    codes = sorted({m[1] for s in graph.subjects() if (m := CODED.match(_local(s)))})
    taken = set(codes)
    letters = "abcdefghijklmnopqrstuvwxyz"
    fresh = (a + b + c for a in "xyzw" for b in letters for c in letters)
    maps: list[dict[str, str]] = [{code: code for code in codes}]
    for _ in range(1, copies):
        mapping = {}
        for code in codes:
            new = next(fresh)
            while new in taken:
                new = next(fresh)
            taken.add(new)
            mapping[code] = new
        maps.append(mapping)
    return maps


def _local(node: Node) -> str:
    match = DOCUMENT.match(str(node))
    return match[2] if match else ""


def renamer(copy: int, codes: dict[str, str]) -> Callable[[Node, Node | None], Node]:
    def urn(text: str) -> str:
        match = DOCUMENT.match(text)
        if match is None or copy == 0:
            return text
        kind, local, anchor = match[1], match[2], match[3] or ""
        coded = CODED.match(local)
        if kind in ("ver", "mtr") and coded:
            local = f"{codes[coded[1]]}-{coded[2]}{coded[3]}"
        else:
            local = f"{local}-c{copy}"
        return f"urn:nl:ak:{kind}:{local}{anchor}"

    def rename(term: Node, predicate: Node | None = None) -> Node:
        if isinstance(term, URIRef):
            return URIRef(urn(str(term)))
        if isinstance(term, Literal) and copy and predicate == DCTERMS.identifier:
            renamed = urn(str(term))  # an id that is no URN ('0') is made unique too
            return Literal(renamed if renamed != str(term) else f"{term}-c{copy}")
        if isinstance(term, Literal) and copy and predicate == AK.bronbestand:
            folder, _, name = str(term).rpartition("/")
            match = FILE_CODE.match(name)
            if match and match[2] in codes:
                name = f"{match[1] or ''}{codes[match[2]]}{match[3]}"
            return Literal(f"copy{copy}/{folder}/{name}")
        return term

    return rename


def multiplied(graph: Graph, sourcemap: SourceMap, copies: int) -> tuple[Graph, SourceMap]:
    big = Graph(store="SimpleMemory")
    big_map = SourceMap()
    for copy, codes in enumerate(code_maps(graph, copies)):
        rename = renamer(copy, codes)
        for s, p, o in graph:
            big.add((rename(s), p, rename(o, p)))
        for (s, p, o), location in sourcemap.facts.items():
            where = Location(f"copy{copy}/{location.path}", location.line)
            big_map.add_fact(rename(s), p, rename(o, p), where)
        for subject, location in sourcemap.resources.items():
            where = Location(f"copy{copy}/{location.path}", location.line)
            big_map.add_resource(rename(URIRef(subject)), where)
    return big, big_map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", type=Path, default=DEFAULT_CONTENT)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()

    build = build_graph(load_corpus(args.content))
    shapes: Shapes = load_shapes()
    big, big_map = multiplied(build.graph, build.sourcemap, args.copies)
    small_result = validate(build.graph, build.sourcemap, shapes)
    big_result = validate(big, big_map, shapes)
    # Interleaved, so that both sizes meet the same load on a shared machine.
    times: dict[str, list[float]] = {"reference": [], "cold": [], "small": [], "large": []}
    calls: dict[str, Callable[[], object]] = {
        "reference": lambda: sum(range(10_000_000)),
        "cold": lambda: validate(build.graph, build.sourcemap),
        "small": lambda: validate(build.graph, build.sourcemap, shapes),
        "large": lambda: validate(big, big_map, shapes),
    }
    for _ in range(args.runs):
        for name, call in calls.items():
            times[name].append(median_ms(call, 1))
    reference, cold, small, large = (statistics.median(times[name]) for name in calls)
    print(f"content: {args.content}; median of {args.runs} runs; shapes read once")
    print(f"CPU reference (sum(range(10**7)), to compare machines and loads): {reference:.0f} ms")
    print(
        f"latest corpus: {len(build.graph)} triples, {len(small_result.findings)} findings: "
        f"{small:.0f} ms (cold, shapes read in the call: {cold:.0f} ms)"
    )
    print(
        f"x{args.copies} copy: {len(big)} triples, {len(big_result.findings)} findings: "
        f"{large:.0f} ms"
    )
    print(f"ratio: {large / small:.1f} (triples x{len(big) / len(build.graph):.1f})")


if __name__ == "__main__":
    main()
