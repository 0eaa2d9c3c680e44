"""Query lane benchmark: the SPARQL lookup over HTTP, alone and beside heavy queries.

Builds the real corpus, starts ``kg serve`` on it (gunicorn, two workers, as in production)
and drives it with wrk (:mod:`bench.harness`). Prints, from one run on this machine:

  * req/s, p50 and p99 of the lookup ``SELECT ?p ?o {<urn:nl:ak:mtr:org-02> ?p ?o}`` at 1 and 8
    connections;
  * the same while two other clients (their own loopback addresses, ``127.0.0.2`` and
    ``127.0.0.3``) each loop a heavy query (a cross join that runs into the timeout): the
    fairness figures, with what the heavy clients got (``503`` at the timeout, ``429``/``503``
    when refused a slot);
  * resident memory of each worker and of each query process.

Usage: python bench/query_lane.py [--content DIR] [--seconds N]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import REAL_CONTENT, Load, Target, build_real, our_server, rss_mib, wrk  # noqa: E402

LOOKUP = "SELECT ?p ?o {<urn:nl:ak:mtr:org-02> ?p ?o}"
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


class HeavyClient(threading.Thread):
    """One client looping the heavy query from its own address; counts the statuses."""

    def __init__(self, target: Target, source: str) -> None:
        super().__init__(daemon=True)
        self.target, self.source = target, source
        self.statuses: collections.Counter[int] = collections.Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        split = urllib.parse.urlsplit(self.target.base)
        path = self.target.query_path(HEAVY)
        while not self.stopping.is_set():
            connection = http.client.HTTPConnection(
                split.hostname or "127.0.0.1",
                split.port,
                timeout=60,
                source_address=(self.source, 0),
            )
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                self.statuses[response.status] += 1
            except OSError:
                self.statuses[0] += 1
            finally:
                connection.close()


def lookups(target: Target, connections: int, seconds: float) -> Load:
    return wrk(target.base, [target.query_path(LOOKUP)], connections, seconds)


def children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (a worker's threads start its query
    processes)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def rss(pids: list[int]) -> str:
    return ", ".join(f"{rss_mib(pid, children=False)[0]:.0f}" for pid in pids)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--content", type=Path, default=REAL_CONTENT)
    parser.add_argument("--seconds", type=float, default=5, help="per measurement")
    args = parser.parse_args()
    if not args.content.is_dir():
        print(f"no content folder at {args.content}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        dist = build_real(Path(folder) / "dist", args.content)
        with our_server(dist, 2) as target:
            for _ in range(2):  # every worker's query processes started
                lookups(target, 8, 3)
            rows = [
                (f"lookup, {n} connection(s)", lookups(target, n, args.seconds)) for n in (1, 8)
            ]
            heavy = [HeavyClient(target, f"127.0.0.{n}") for n in (2, 3)]
            for client in heavy:
                client.start()
            time.sleep(1)
            for n in (1, 8):
                rows.append((f"lookup, {n} conn., 2 heavy loops", lookups(target, n, args.seconds)))
            for client in heavy:
                client.stopping.set()
            workers = children(target.pid)
            memory = (rss(workers), rss([pid for worker in workers for pid in children(worker)]))
            for client in heavy:
                client.join(60)
    print(f"{'':38} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9}")
    for name, load in rows:
        print(f"{name:38} {load.row()}")
    for client in heavy:
        print(f"heavy client {client.source}: {dict(sorted(client.statuses.items()))}")
    print("load average (1, 5, 15 min) after the run:", os.getloadavg())
    print("RSS per worker (MiB):", memory[0])
    print("RSS per query process (MiB):", memory[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
