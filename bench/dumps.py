"""Dump throughput: the application (gunicorn) against nginx in front of it, on the same file.

Starts ``kg serve --dist`` and Debian's nginx configured from deploy/nginx.conf.template (both
on loopback, free ports), then loads each with the same requests: ``/dump.ttl`` (1.6 MB on the
real corpus) and the same with ``Accept-Encoding: gzip`` (the prebuilt ``graph.ttl.gz``,
shown as ``/dump.ttl.gz``). Load by wrk (Debian's) when installed, else by a Python threaded
generator (keep-alive connections, one thread each). Prints one table: req/s of each, and
the application's share of nginx's.

Usage: python bench/dumps.py [--dist DIR | --content DIR] [--connections N] [--seconds S]
"""

from __future__ import annotations

import argparse
import http.client
import io
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = REPO.parent / "shared" / "corpus" / "algoritmekader"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from harness import free_port, popen, stop, wait_for  # noqa: E402

from deploy.render_nginx import render  # noqa: E402

CASES = (("/dump.ttl", "identity"), ("/dump.ttl.gz", "gzip"))


@contextmanager
def running(command: list[str], health: str, log: Path) -> Iterator[None]:
    process = popen(command, log, cwd=REPO)
    try:
        wait_for(health, process)
        yield
    finally:
        stop(process)


def publication(args: argparse.Namespace, scratch: Path) -> Path:
    if args.dist is not None:
        return Path(args.dist).absolute()
    from kg.cli import run_build
    from kg.config import Settings

    out = scratch / "dist"
    status = run_build(Settings(content=args.content, out=out), io.StringIO(), io.StringIO())
    if status not in (0, 1):
        raise SystemExit(f"kg build of {args.content} failed")
    return out


def with_wrk(url: str, encoding: str, connections: int, seconds: float) -> float:
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "-H",
        f"Accept-Encoding: {encoding}",
        url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    for line in output.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split(":", 1)[1])
    raise SystemExit(f"wrk printed no Requests/sec:\n{output}")


def with_threads(url: str, encoding: str, connections: int, seconds: float) -> float:
    """Requests per second of ``connections`` threads, each on its own keep-alive connection
    (a new one when the server closes it), for ``seconds``."""
    host, _, rest = url.removeprefix("http://").partition("/")
    name, _, port = host.partition(":")
    counts = [0] * connections
    stop = time.monotonic() + seconds

    def load(index: int) -> None:
        connection = http.client.HTTPConnection(name, int(port), timeout=30)
        while time.monotonic() < stop:
            try:
                connection.request("GET", f"/{rest}", headers={"Accept-Encoding": encoding})
                response = connection.getresponse()
                response.read()
                counts[index] += 1
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                connection.close()
        connection.close()

    threads = [threading.Thread(target=load, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, help="a built publication (default: build one)")
    parser.add_argument("--content", type=Path, default=DEFAULT_CONTENT)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    measure = with_wrk if shutil.which("wrk") else with_threads
    with tempfile.TemporaryDirectory(prefix="bench-dumps-") as folder:
        scratch = Path(folder)
        dist = publication(args, scratch)
        app_port, nginx_port = free_port(), free_port()
        app, front = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{nginx_port}"
        config = scratch / "nginx.conf"
        config.write_text(
            render(dist, f"127.0.0.1:{nginx_port}", [f"127.0.0.1:{app_port}"], scratch)
        )
        serve = [
            sys.executable,
            "-m",
            "kg.cli",
            "serve",
            "--dist",
            str(dist),
            "--port",
            str(app_port),
        ]
        with (
            running(serve, f"{app}/health", scratch / "app.log"),
            running(
                [nginx, "-c", str(config), "-p", str(scratch), "-g", "daemon off;"],
                f"{front}/health",
                scratch / "nginx.console.log",
            ),
        ):
            rows = []
            for path, encoding in CASES:
                served = "/dump.ttl"
                ours = measure(f"{app}{served}", encoding, args.connections, args.seconds)
                theirs = measure(f"{front}{served}", encoding, args.connections, args.seconds)
                rows.append((path, ours, theirs))
    tool = "wrk" if measure is with_wrk else "Python threads"
    print(f"dump throughput, {args.connections} connections, {args.seconds:g} s each ({tool})")
    print(f"{'file':<14} {'app req/s':>10} {'nginx req/s':>12} {'app / nginx':>12}")
    for path, ours, theirs in rows:
        print(f"{path:<14} {ours:>10.0f} {theirs:>12.0f} {ours / theirs:>12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
