"""Dump throughput: the application (gunicorn) against nginx in front of it, on the same file.

Starts ``kg serve --dist`` and Debian's nginx configured from deploy/nginx.conf.template (both
on loopback, free ports), then loads each with the same requests: ``/dump.ttl`` (1.6 MB on the
real corpus) and the same with ``Accept-Encoding: gzip`` (the prebuilt ``graph.ttl.gz``,
shown as ``/dump.ttl.gz``). Load by wrk (Debian's) when installed, else by a Python threaded
generator (keep-alive connections, one thread each). Prints one table: req/s of each, the
application's share of nginx's, and the processor time each server used per request (user +
system, all its processes; on a machine shared with other work the rates move with the load,
the processor time per request much less).

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = REPO.parent / "shared" / "corpus" / "algoritmekader"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from harness import _tree_cpu, free_port, popen, record, stop, wait_for  # noqa: E402

from deploy.render_nginx import render  # noqa: E402

CASES = (("/dump.ttl", "identity"), ("/dump.ttl.gz", "gzip"))


@contextmanager
def running(command: list[str], health: str, log: Path) -> Iterator[int]:
    """The server started and answering; yields its process id."""
    process = popen(command, log, cwd=REPO)
    try:
        wait_for(health, process)
        yield process.pid
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


def with_wrk(url: str, encoding: str, connections: int, seconds: float) -> tuple[float, int]:
    """Requests per second and requests made."""
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
    lines = output.splitlines()
    rates = [float(line.split(":", 1)[1]) for line in lines if line.startswith("Requests/sec:")]
    made = [int(line.split()[0]) for line in lines if " requests in " in line]
    if not rates or not made:
        raise SystemExit(f"wrk printed no Requests/sec:\n{output}")
    return rates[0], made[0]


def with_threads(url: str, encoding: str, connections: int, seconds: float) -> tuple[float, int]:
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
    return sum(counts) / (time.monotonic() - started), sum(counts)


def measured(
    measure: Callable[[str, str, int, float], tuple[float, int]],
    pid: int,
    url: str,
    encoding: str,
    args: argparse.Namespace,
) -> tuple[float, float]:
    """Requests per second, and processor microseconds per request of ``pid``'s processes."""
    before = _tree_cpu(pid)
    rate, made = measure(url, encoding, args.connections, args.seconds)
    return rate, (_tree_cpu(pid) - before) / max(made, 1) * 1e6


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
            running(serve, f"{app}/health", scratch / "app.log") as app_pid,
            running(
                [nginx, "-c", str(config), "-p", str(scratch), "-g", "daemon off;"],
                f"{front}/health",
                scratch / "nginx.console.log",
            ) as nginx_pid,
        ):
            rows = []
            for path, encoding in CASES:
                served = "/dump.ttl"
                ours = measured(measure, app_pid, f"{app}{served}", encoding, args)
                theirs = measured(measure, nginx_pid, f"{front}{served}", encoding, args)
                rows.append((path, ours, theirs))
    tool = "wrk" if measure is with_wrk else "Python threads"
    print(f"dump throughput, {args.connections} connections, {args.seconds:g} s each ({tool})")
    print(
        f"{'file':<14} {'app req/s':>10} {'nginx req/s':>12} {'app / nginx':>12}"
        f" {'app CPU us/req':>15} {'nginx CPU us/req':>17}"
    )
    for path, (app_rate, app_cpu), (nginx_rate, nginx_cpu) in rows:
        print(
            f"{path:<14} {app_rate:>10.0f} {nginx_rate:>12.0f} {app_rate / nginx_rate:>12.2f}"
            f" {app_cpu:>15.0f} {nginx_cpu:>17.0f}"
        )
    record("dumps", {f"{path} app / nginx": app / nginx for path, (app, _), (nginx, _) in rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
