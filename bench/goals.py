"""The goals of the serving issue in one table, from the figures this run's scripts recorded.

Each bench script records its main figures in ``.bench/figures/NAME.json``
(:func:`bench.harness.record`); ``make bench`` clears that folder, runs every script, then
this one, so every row is of the same run, each ratio of two servers measured side by side
in it. A goal whose figures are missing (a script not run, a server that did not start, a
question nobody answered) is listed as not measured, never as met.

Usage: python bench/goals.py
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import FIGURES

SCALES = (1, 10, 100)
#: The scales rdflib-endpoint is measured at (``bench/mix.py --rdflib-max-scale``).
RDFLIB_SCALES = (1, 10)
#: The mix's questions a SPARQL engine finds hard (the goal: ≥ 20× rdflib-endpoint).
HEAVY = ("twee stappen hulpmiddel-maatregel-vereiste", "optional + not exists")
Figures = dict[str, float | None]


@dataclass(frozen=True)
class Row:
    goal: str
    measured: str
    #: Whether it is met; None: not measured.
    met: bool | None


def load(folder: Path) -> Figures:
    """Every script's figures, each name prefixed with its script's (``mix: x1 ours …``)."""
    figures: Figures = {}
    for path in sorted(folder.glob("*.json")):
        for name, value in json.loads(path.read_text()).items():
            figures[f"{path.stem}: {name}"] = value
    return figures


def at_least(goal: str, value: float | None, bound: float, unit: str = "×") -> Row:
    if value is None:
        return Row(goal, "not measured", None)
    return Row(goal, _number(value) + unit, value >= bound)


def at_most(goal: str, value: float | None, bound: float, unit: str) -> Row:
    if value is None:
        return Row(goal, "not measured", None)
    return Row(goal, _number(value) + unit, value <= bound)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def ratio(figures: Figures, ours: str, theirs: str) -> float | None:
    mine, other = figures.get(ours), figures.get(theirs)
    return mine / other if mine is not None and other else None


def throughput(figures: Figures) -> Iterator[Row]:
    """Lookup and mix at 8 connections: ≥ 1.0× Virtuoso, ≥ 3× rdflib-endpoint; the heavy
    questions ≥ 20× rdflib-endpoint; lookup p99 ≤ 20 ms."""
    for scale in SCALES:
        prefix = f"mix: x{scale}"
        for what, label in (("lookup", "lookup"), ("mix 8", "mix")):
            ours = f"{prefix} ours {what} req/s"
            for peer, name, bound in (("virtuoso", "Virtuoso", 1.0), ("rdflib", "rdflib", 3.0)):
                if peer == "rdflib" and scale not in RDFLIB_SCALES:
                    continue
                value = ratio(figures, ours, f"{prefix} {peer} {what} req/s")
                yield at_least(f"×{scale} {label} ≥ {bound:.1f}× {name}", value, bound)
        for question in HEAVY if scale in RDFLIB_SCALES else ():
            yield heavy(figures, scale, question)
        p99 = figures.get(f"{prefix} ours lookup p99 ms")
        yield at_most(f"×{scale} lookup p99 ≤ 20 ms", p99, 20.0, " ms")


def heavy(figures: Figures, scale: int, question: str) -> Row:
    """Ours over rdflib-endpoint's rate; met when rdflib-endpoint answered none in the
    window (recorded, with no rate) and we did."""
    ours, theirs = (f"mix: x{scale} {who} {question} req/s" for who in ("ours", "rdflib"))
    goal = f"×{scale} {question} ≥ 20× rdflib"
    if figures.get(ours) and theirs in figures and figures[theirs] is None:
        return Row(goal, "rdflib answered none", True)
    return at_least(goal, ratio(figures, ours, theirs), 20.0)


def serving(figures: Figures) -> Iterator[Row]:
    """Pages ≥ 2,000 req/s, dumps ≥ 0.8× nginx, RSS ≤ 100 MiB per worker, the abuse."""
    for kind in ("HTML", "Turtle"):
        rate = figures.get(f"pages: org-02 {kind} cache on req/s")
        yield at_least(f"/id/… {kind} ≥ 2,000 req/s", rate, 2000.0, " req/s")
    for path in ("/dump.ttl", "/dump.ttl.gz"):
        yield at_least(f"{path} ≥ 0.8× nginx", figures.get(f"dumps: {path} app / nginx"), 0.8)
    for scale in SCALES:
        rss = figures.get(f"mix: x{scale} ours rss MiB")
        yield at_most(f"×{scale} RSS per worker ≤ 100 MiB", rss, 100.0, " MiB")
    rss = figures.get("history: rss per worker MiB")
    yield at_most("RSS per worker with every release ≤ 100 MiB", rss, 100.0, " MiB")
    kept = figures.get("query_lane: lookup kept under abuse")
    kept = None if kept is None else kept * 100
    yield at_least("lookups kept under abuse ≥ 90 % (median)", kept, 90.0, " %")
    answered, asked = (figures.get(f"query_lane: health {x}") for x in ("answered", "asked"))
    health = 100 * answered / asked if answered is not None and asked else None
    yield at_least("/health answered under abuse = 100 %", health, 100.0, " %")


def store(figures: Figures) -> Iterator[Row]:
    """``kg serve --store``: the same answers; at ×10 every question ≤ 1.5× Virtuoso's p50."""
    for scale in SCALES:
        differing = figures.get(f"mix: x{scale} store answers differing")
        skipped = figures.get(f"mix: x{scale} store answers not compared")
        note = f" ({skipped:.0f} not answered by both)" if skipped else ""
        yield at_most(f"×{scale} --store answers as embedded", differing, 0.0, " differ" + note)
    for where in ("shared", "own"):
        prefix = f"mix: x10 store p50 ratio {where} "
        ratios = {k[len(prefix) :]: v for k, v in figures.items() if k.startswith(prefix)}
        answered = {question: value for question, value in ratios.items() if value is not None}
        goal = f"×10 --store ≤ 1.5× Virtuoso, every question ({where} processors)"
        if not answered:
            yield Row(goal, "not measured", None)
            continue
        worst = max(answered, key=answered.__getitem__)
        yield Row(goal, f"{answered[worst]:.2f}× at most ({worst})", answered[worst] <= 1.5)


def build(figures: Figures) -> Iterator[Row]:
    for what in ("from nothing", "rebuild"):
        seconds = figures.get(f"build: {what} s")
        yield at_most(f"kg build ({what}) ≤ 1.0 s", seconds, 1.0, " s")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--figures", type=Path, default=FIGURES)
    args = parser.parse_args()
    figures = load(args.figures)
    rows = [*throughput(figures), *serving(figures), *store(figures), *build(figures)]
    width = max(len(row.goal) for row in rows)
    print(f"{'goal':{width}s}  {'measured':>30s}  met")
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        print(f"{row.goal:{width}s}  {row.measured:>30s}  {met}")
    measured = [row for row in rows if row.met is not None]
    print(
        f"{sum(row.met is True for row in measured)} of {len(measured)} goals met;"
        f" {len(rows) - len(measured)} not measured (figures from {args.figures})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
