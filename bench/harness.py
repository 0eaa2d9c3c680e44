"""What the HTTP benchmarks share: servers started on loopback, wrk driven and read, RSS.

The benchmarks compare this project with its peers started in the same run on the same
machine, so each peer is started here, on a free loopback port, and stopped afterwards:

* ``kg serve --dist`` (gunicorn, as in production);
* rdflib-endpoint (PyPI), installed on first use into ``.bench/rdflib-endpoint`` (a virtualenv
  of its own, so its FastAPI stack never enters the project's);
* Virtuoso (Debian ``virtuoso-opensource``), a throw-away database in a temporary folder,
  loaded with the same N-Triples;
* nginx (Debian), serving a publication's files.

Load comes from wrk (Debian), which reports throughput and latency percentiles; the requests
of a mix are cycled by a small Lua script, each made distinct (a trailing SPARQL comment with
a counter) when asked, so no peer answers from a cache of parsed queries.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import process_children

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_CONTENT = SHARED / "corpus" / "algoritmekader"
PEERS = REPO / ".bench"
#: Each script's main figures (``NAME.json``), read by ``bench/goals.py`` into one table of the
#: issue's goals; ``make bench`` clears the folder first, so the table is of that run only.
FIGURES = PEERS / "figures"
SPARQL_JSON = "application/sparql-results+json"


def record(script: str, figures: Mapping[str, float | None]) -> None:
    """Add ``figures`` to what ``script`` recorded in this run (None: not measured)."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{script}.json"
    kept = json.loads(path.read_text()) if path.is_file() else {}
    kept.update(figures)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")
    partial.replace(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, process: subprocess.Popen[bytes] | None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {seconds} s")


@dataclass(frozen=True)
class Target:
    """A SPARQL endpoint under test: its query URL and extra parameters, and its processes."""

    name: str
    endpoint: str
    pid: int
    #: Extra query-string parameters every request carries (e.g. Virtuoso's default graph).
    extra: tuple[tuple[str, str], ...] = ()

    def query_path(self, query: str) -> str:
        """The request target (path and query string) of a GET for ``query``; the query
        parameter comes last, so a counter can be appended to its text."""
        split = urllib.parse.urlsplit(self.endpoint)
        params = urllib.parse.urlencode([*self.extra, ("query", query)])
        return f"{split.path}?{params}"

    @property
    def base(self) -> str:
        split = urllib.parse.urlsplit(self.endpoint)
        return f"{split.scheme}://{split.netloc}"


def popen(command: Sequence[str], log: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            list(command), stdout=out, stderr=subprocess.STDOUT, **kwargs
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def build_real(out: Path, content: Path = REAL_CONTENT) -> Path:
    """``kg build`` of the real corpus into ``out`` (its exit status 1 is the content's own
    errors, still published)."""
    result = subprocess.run(
        [sys.executable, "-m", "kg.cli", "build", "--content", str(content), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise RuntimeError(result.stderr)
    return out


@contextmanager
def our_server(dist: Path, workers: int = 2, *extra: str) -> Iterator[Target]:
    port = free_port()
    command = [sys.executable, "-m", "kg.cli", "serve", "--dist", str(dist), "--port", str(port)]
    command += ["--host", "127.0.0.1", "--workers", str(workers), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    log = dist.parent / f"serve-{port}.log"
    process = popen(command, log, cwd=REPO, env=env)
    try:
        try:
            wait_for(f"http://127.0.0.1:{port}/health", process, 300)
        except RuntimeError as error:  # what the server said last says why
            said = log.read_text(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"{error}: {' '.join(said)}") from None
        yield Target("this project", f"http://127.0.0.1:{port}/sparql", process.pid)
    finally:
        stop(process)


def _rdflib_endpoint() -> Path:
    venv = PEERS / "rdflib-endpoint"
    binary = venv / "bin" / "rdflib-endpoint"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "rdflib-endpoint[cli]==0.6.3"],
            check=True,
        )
    return binary


@contextmanager
def rdflib_endpoint(nt: Path) -> Iterator[Target]:
    binary = _rdflib_endpoint()
    port = free_port()
    command = [str(binary), "serve", str(nt), "--host", "127.0.0.1", "--port", str(port)]
    process = popen(command, nt.parent / f"rdflib-endpoint-{port}.log")
    try:
        wait_for(f"http://127.0.0.1:{port}/", process, 300)
        yield Target("rdflib-endpoint", f"http://127.0.0.1:{port}/", process.pid)
    finally:
        stop(process)


_VIRTUOSO_INI = """[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql}
DisableUnixSocket = 1
DirsAllowed = ., {data}
NumberOfBuffers = 170000
MaxDirtyBuffers = 130000
MaxQueryMem = 1G
ThreadsPerQuery = 2
[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerRoot = {db}
ServerThreads = 32
MaxClientConnections = 32
MaxKeepAlives = 32
KeepAliveTimeout = 10
[SPARQL]
ResultSetMaxRows = 10000000
MaxQueryExecutionTime = 60
DefaultGraph = {graph}
"""
# ResultSetMaxRows: above the largest graph, so that ``kg serve --store`` on this Virtuoso
# reads every quad for its index (a store that cuts that answer is refused at start).

VIRTUOSO_GRAPH = "urn:bench:data"


@contextmanager
def virtuoso(files: Sequence[Path]) -> Iterator[Target]:
    """Virtuoso with the N-Triples/Turtle ``files`` loaded into one graph (its default)."""
    binary = shutil.which("virtuoso-t")
    isql = shutil.which("isql-vt") or shutil.which("isql")
    if binary is None or isql is None:
        raise RuntimeError("no virtuoso-t/isql-vt (apt-get install virtuoso-opensource)")
    with tempfile.TemporaryDirectory(prefix="bench-virtuoso-") as folder:
        db, data = Path(folder) / "db", Path(folder) / "data"
        db.mkdir()
        data.mkdir()
        for number, file in enumerate(files):
            shutil.copy(file, data / f"{number}{''.join(file.suffixes)}")
        sql, http = free_port(), free_port()
        ini = db / "virtuoso.ini"
        text = _VIRTUOSO_INI.format(db=db, data=data, sql=sql, http=http, graph=VIRTUOSO_GRAPH)
        ini.write_text(text)
        process = popen([binary, "+foreground", "+configfile", str(ini)], db / "stdout.log")
        try:
            wait_for(f"http://127.0.0.1:{http}/sparql?query=ASK%7B%7D", process, 120)
            script = f"ld_dir('{data}', '*', '{VIRTUOSO_GRAPH}');\nrdf_loader_run();\ncheckpoint;\n"
            subprocess.run(
                [isql, f"127.0.0.1:{sql}", "dba", "dba"],
                input=script.encode(),
                check=True,
                capture_output=True,
                timeout=600,
            )
            yield Target(
                "Virtuoso",
                f"http://127.0.0.1:{http}/sparql",
                process.pid,
                (("default-graph-uri", VIRTUOSO_GRAPH),),
            )
        finally:
            stop(process)


@dataclass(frozen=True)
class Load:
    """What wrk measured: requests per second, latency percentiles (ms), failures."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def row(self) -> str:
        failed = f" ({self.errors} failed)" if self.errors else ""
        return f"{self.requests_per_second:10.1f} {self.p50_ms:9.2f} {self.p99_ms:9.2f}{failed}"


_LUA = """
local targets = {{
{targets}
}}
local distinct = {distinct}
local counter = 0
wrk.headers["Accept"] = "{accept}"
request = function()
  counter = counter + 1
  local path = targets[(counter % #targets) + 1]
  if distinct then path = path .. "%0A%23" .. counter .. "-" .. math.random(1000000000) end
  return wrk.format("GET", path)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %f %d %d\\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
end
"""


def wrk(
    base: str,
    paths: Sequence[str],
    connections: int,
    seconds: float,
    accept: str = SPARQL_JSON,
    distinct: bool = False,
    threads: int = 1,
    cpus: set[int] | None = None,
) -> Load:
    """wrk against ``base`` cycling through ``paths`` (request targets); on ``cpus`` only,
    when given."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("no wrk (apt-get install wrk)")
    targets = ",\n".join(_lua_string(path) for path in paths)
    script = _LUA.format(targets=targets, distinct=str(distinct).lower(), accept=accept)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        result = subprocess.run(
            [
                binary,
                "-t",
                str(min(threads, connections)),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                handle.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
        )
    finally:
        os.unlink(handle.name)
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))
    rate, p50, p99, requests, errors = line.split()[1:]
    return Load(float(rate), float(p50), float(p99), int(requests), int(errors))


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rss_mib(pid: int, children: bool = True) -> list[float]:
    """Resident memory (MiB) of ``pid``'s children (gunicorn's workers), or of ``pid``."""
    pids = process_children(pid) if children else []
    return [_rss(p) for p in (pids or [pid])]


def own_mib(pid: int, children: bool = True) -> list[float]:
    """Memory (MiB) that only each of ``pid``'s children (or ``pid``) holds: private pages, not
    the ones shared with the master that loaded the snapshot before forking, nor with the other
    workers; what one more worker costs."""
    pids = process_children(pid) if children else []
    return [_private(p) for p in (pids or [pid])]


def _private(pid: int) -> float:
    return _rollup(pid, ("Private_Clean:", "Private_Dirty:"))


def proportional_mib(pid: int) -> tuple[list[float], float]:
    """PSS (MiB) of each of ``pid``'s children (gunicorn's workers: a page shared by n
    processes counts 1/n in each), and of ``pid`` and every process under it together (the
    master, workers, zygotes and query processes: the server's whole memory, nothing counted
    twice, as one process's RSS is)."""
    workers = [pss_mib(p) for p in process_children(pid)]
    return workers, sum(pss_mib(p) for p in tree_of(pid))


def pss_mib(pid: int) -> float:
    """Proportional set size (MiB) of ``pid`` alone."""
    return _rollup(pid, ("Pss:",))


def _rollup(pid: int, names: tuple[str, ...]) -> float:
    try:
        fields = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:  # ended meanwhile
        return 0.0
    kib = [int(line.split()[1]) for line in fields if line.startswith(names)]
    return sum(kib) / 1024


def pin(pid: int, cpus: set[int]) -> None:
    """``pid``, every thread of it and every process under it on ``cpus`` only (processes
    they start later inherit it: a worker's new zygote, a zygote's query processes)."""
    for current in tree_of(pid):
        with contextlib.suppress(OSError, ValueError):  # ended meanwhile
            for task in Path(f"/proc/{current}/task").iterdir():
                os.sched_setaffinity(int(task.name), cpus)


def settle(pid: int, interval: float = 0.5, share: float = 0.05, limit: float = 60.0) -> float:
    """Wait until ``pid`` and every process under it use less than ``share`` of a processor
    over ``interval`` (a server still finishing the queries of the last measurement, which a
    load generator stopped waiting for, would slow the next one); at most ``limit`` seconds.
    The seconds waited."""
    started = time.monotonic()
    before = _tree_cpu(pid)
    while time.monotonic() - started < limit:
        time.sleep(interval)
        now = _tree_cpu(pid)
        if now - before < share * interval:
            break
        before = now
    return time.monotonic() - started


def _tree_cpu(pid: int) -> float:
    """Processor seconds used so far by ``pid`` and its descendants: those alive, and those
    that ended and were waited for (counted in their parent's), so that a query process
    killed at its timeout does not take its time out of the total."""
    total = 0.0
    for current in tree_of(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        own_and_ended = sum(int(field) for field in fields[11:15])  # utime … cstime
        total += own_and_ended / os.sysconf("SC_CLK_TCK")
    return total


def tree_of(pid: int) -> Iterator[int]:
    """``pid`` and every process under it (those alive as the walk reaches them)."""
    todo = [pid]
    while todo:
        current = todo.pop()
        yield current
        todo += process_children(current)


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
