"""Page speed on the real corpus: in-process renders, and ``/id/…`` over HTTP, page cache off/on.

Builds the latest real corpus with the AI-Act decision aid (``kg build --beslishulp``, so
``/beslishulp`` has its tree), then

1. in-process (Flask test client, no network): each page of :data:`PAGES` requested
   ``--repeat`` times after one warm-up request, with the page cache off
   (``page_cache_bytes=0``) and on; prints the median and p90 in ms of each and whether the
   median is within the budget of issue 8 (20 ms). With the cache off every request renders
   the page; with it on, a ``/id/…`` answer is rendered once and then sent from the cache
   (the other pages are not cached yet and show the same figures);
2. over HTTP (``kg serve``: gunicorn, 2 threaded workers, as in production), driven by wrk at
   8 connections, right after the server started: every resource page in turn as HTML (the
   cache fills as it goes), ``/id/urn:nl:ak:mtr:org-02`` as HTML and as Turtle, and every
   resource page again; page cache off, on, and on with warming (``KG_PAGE_CACHE_WARM=
   html,turtle``: each worker renders every page ahead in a background thread when it takes
   the snapshot up): req/s, p50, p99 and the server's processor time per request (user +
   system of all its processes: on a machine shared with other work, req/s moves with the
   load, processor time per request much less; warming's own work counts against it).

Usage: python bench/pages.py [--repeat N] [--seconds S] [--connections N] [--skip-http]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import (
    REAL_CONTENT,
    REPO,
    SHARED,
    Load,
    _tree_cpu,
    free_port,
    popen,
    record,
    rss_mib,
    stop,
    wait_for,
    wrk,
)

BESLISHULP = SHARED / "corpus" / "ai-verordening-beslishulp"
BUDGET_MS = 20.0
RESOURCE = "/id/urn:nl:ak:mtr:org-02"
#: (label, path, Accept)
PAGES: tuple[tuple[str, str, str], ...] = (
    ("org-02 HTML", RESOURCE, "text/html"),
    ("org-02 Turtle", RESOURCE, "text/turtle"),
    ("org-02 JSON-LD", RESOURCE, "application/ld+json"),
    ("/vereisten", "/vereisten", "text/html"),
    (
        "/maatregelen?rollen=jurist&levenscyclus=ontwerp",
        "/maatregelen?rollen=jurist&levenscyclus=ontwerp",
        "text/html",
    ),
    ("/zoeken?q=bias", "/zoeken?q=bias", "text/html"),
    ("/statistieken", "/statistieken", "text/html"),
    ("/beslishulp", "/beslishulp", "text/html"),
)


def publication(out: Path) -> Path:
    """The real corpus with the decision aid, built into ``out``."""
    from kg.cli import run_build
    from kg.config import Settings

    settings = Settings(content=REAL_CONTENT, out=out, beslishulp=BESLISHULP)
    status = run_build(settings, io.StringIO(), io.StringIO())
    if status not in (0, 1):
        raise SystemExit("kg build of the real corpus failed")
    return out


def timings_ms(dist: Path, cache_bytes: int, repeat: int) -> dict[str, list[list[float]]]:
    """Per page, the time of each of ``repeat`` requests (after one warm-up), in ms, with the
    cache off and on: the two applications take turns, request by request, so that other
    load on the machine weighs on both alike."""
    from kg.config import Settings
    from server import create_app

    clients = [
        create_app(Settings(out=dist, page_cache_bytes=bound)).test_client()
        for bound in (0, cache_bytes)
    ]
    found: dict[str, list[list[float]]] = {}
    for label, path, accept in PAGES:
        headers = {"Accept": accept}
        for client in clients:
            status = client.get(path, headers=headers).status_code
            if status != 200:
                raise SystemExit(f"{path} ({accept}) answered {status}")
        found[label] = [[], []]
        for _ in range(repeat):
            for times, client in zip(found[label], clients, strict=True):
                started = time.perf_counter()
                client.get(path, headers=headers).get_data()
                times.append((time.perf_counter() - started) * 1000)
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def in_process(dist: Path, repeat: int, cache_bytes: int) -> None:
    found = timings_ms(dist, cache_bytes, repeat)
    print(f"in-process, real corpus, {repeat} requests each after a warm-up (ms)")
    header = f"{'page':<50} {'off p50':>8} {'off p90':>8} {'on p50':>8} {'on p90':>8}"
    print(f"{header}  render <= {BUDGET_MS:g} ms")
    for label, _, _ in PAGES:
        cold, warm = found[label]
        median = statistics.median(cold)
        verdict = "yes" if median <= BUDGET_MS else "NO"
        print(
            f"{label:<50} {median:8.2f} {percentile(cold, 0.9):8.2f} "
            f"{statistics.median(warm):8.2f} {percentile(warm, 0.9):8.2f}  {verdict}"
        )


@contextmanager
def serving(dist: Path, cache_bytes: int, warm: str = "") -> Iterator[tuple[str, int]]:
    """``kg serve --dist`` (defaults: 2 workers, 4 threads) with the page cache bound given,
    warming the formats ``warm``."""
    port = free_port()
    command = [sys.executable, "-m", "kg.cli", "serve", "--dist", str(dist)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env["KG_PAGE_CACHE_BYTES"] = str(cache_bytes)
    env["KG_PAGE_CACHE_WARM"] = warm
    process = popen(command, dist.parent / f"serve-{port}.log", cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/health", process)
        yield base, process.pid
    finally:
        stop(process)


def resource_paths(dist: Path) -> list[str]:
    data = json.loads((dist / "sourcemap.json").read_text(encoding="utf-8"))
    return [f"/id/{urn}" for urn in sorted(data["resources"]) if "#" not in urn]


def over_http(dist: Path, seconds: float, connections: int, cache_bytes: int) -> None:
    every = resource_paths(dist)
    cases = (
        (f"all {len(every)} resources HTML", every, "text/html"),
        ("org-02 HTML", [RESOURCE], "text/html"),
        ("org-02 Turtle", [RESOURCE], "text/turtle"),
        (f"all {len(every)} resources HTML, again", every, "text/html"),
    )
    rows: list[tuple[str, str, Load, float]] = []
    memory: list[tuple[str, list[float]]] = []
    settings = (("off", 0, ""), ("on", cache_bytes, ""), ("warm", cache_bytes, "html,turtle"))
    for setting, bound, warm in settings:
        with serving(dist, bound, warm) as (base, pid):
            for label, paths, accept in cases:
                wrk(base, paths[:1], 1, 1, accept)  # warm-up (and the first render)
                before = _tree_cpu(pid)
                load = wrk(base, paths, connections, seconds, accept)
                cpu_us = (_tree_cpu(pid) - before) / max(load.requests, 1) * 1e6
                rows.append((label, setting, load, cpu_us))
            memory.append((setting, rss_mib(pid)))
    print()
    print(f"over HTTP (kg serve, 2 workers), wrk, {connections} connections, {seconds:g} s each")
    print(f"{'page':<36} {'cache':>5} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'CPU us/req':>11}")
    for label, setting, load, cpu_us in rows:
        print(f"{label:<36} {setting:>5} {load.row()} {cpu_us:11.0f}")
    for setting, sizes in memory:
        listed = ", ".join(f"{mib:.0f}" for mib in sizes)
        print(f"RSS per worker afterwards, cache {setting}: {listed} MiB")
    record(
        "pages",
        {f"{what} cache {cache} req/s": load.requests_per_second for what, cache, load, _ in rows},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--cache-bytes", type=int, default=32 * 1024**2)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        dist = publication(Path(folder) / "dist")
        in_process(dist, args.repeat, args.cache_bytes)
        if not args.skip_http:
            over_http(dist, args.seconds, args.connections, args.cache_bytes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
