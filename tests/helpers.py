"""Test helpers: HTML read as a tree (the standard library's parser), never with regexes.

``parse_html(text)`` gives the document's root :class:`Element`; find elements by tag, id,
class or any attribute, and read their text and attributes. Void elements (``<br>``,
``<input>``, …) have no children; an end tag closes the innermost open element of its name,
so the slightly loose HTML of real pages still gives the tree a browser would build.
"""

from __future__ import annotations

import io
import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from kg.cli import run_build
from kg.config import Settings

VOID_ELEMENTS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    @property
    def classes(self) -> frozenset[str]:
        return frozenset((self.get("class") or "").split())

    @property
    def elements(self) -> list[Element]:
        return [child for child in self.children if isinstance(child, Element)]

    def iter(self) -> Iterator[Element]:
        """This element and every element inside it, in document order."""
        yield self
        for child in self.elements:
            yield from child.iter()

    def find_all(
        self, tag: str | None = None, class_: str | None = None, **attrs: str
    ) -> list[Element]:
        """Elements inside (and including) this one with that tag, class and attributes
        (``id="x"``; ``data_x`` means ``data-x``)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            element
            for element in self.iter()
            if (tag is None or element.tag == tag)
            and (class_ is None or class_ in element.classes)
            and all(element.get(name) == value for name, value in wanted.items())
        ]

    def find(self, tag: str | None = None, class_: str | None = None, **attrs: str) -> Element:
        """The first such element; AssertionError when there is none."""
        found = self.find_all(tag, class_, **attrs)
        assert found, f"no <{tag or '*'}> with class={class_!r} {attrs} in <{self.tag}>"
        return found[0]

    def by_id(self, identifier: str) -> Element:
        return self.find(id=identifier)

    def text(self) -> str:
        """All the text inside, as written."""
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def words(self) -> str:
        """The text with runs of white space made one space, trimmed."""
        return " ".join(self.text().split())

    def links(self) -> list[str]:
        """The ``href`` of every ``<a>`` inside, in order."""
        return [href for a in self.find_all("a") if (href := a.get("href")) is not None]

    def ancestors_of(self, target: Element) -> list[Element]:
        """The elements from this one down to ``target``'s parent; empty if it is not inside."""
        for child in self.elements:
            if child is target:
                return [self]
            path = child.ancestors_of(target)
            if path:
                return [self, *path]
        return []


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self.open: list[Element] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.open[-1].children.append(element)
        if tag not in VOID_ELEMENTS:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def parse_html(text: str) -> Element:
    """The element tree of an HTML document or fragment (root tag ``#document``)."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def require_tool(name: str, *folders: str) -> str:
    """The path of the program ``name`` (on PATH or in ``folders``). Missing: the test fails
    in CI (``CI`` set: ``.ci/run`` installs it) and is skipped, with the reason, elsewhere."""
    import os
    import shutil

    import pytest

    found = shutil.which(name) or next(
        (path for folder in folders if os.access(path := f"{folder}/{name}", os.X_OK)), None
    )
    if found is None:
        message = f"{name} is not installed (.ci/run installs it from Debian's packages)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


CHROMIUM_OPTIONS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium(profile: Path, width: int = 1280, height: int = 1600) -> Any:
    """Headless Chromium from Debian's packages (``chromium``, ``chromium-driver``: ``.ci/run``
    installs them), driven by Selenium with the driver's path given, so Selenium Manager never
    downloads anything; its console log is kept (``get_log("browser")``). Missing: see
    :func:`require_tool`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = require_tool("chromium")
    for option in CHROMIUM_OPTIONS:
        options.add_argument(option)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=require_tool("chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver


# -- Triple stores on loopback (tests/test_store.py, tests/test_serve_store.py) ----------------


@dataclass(frozen=True)
class Store:
    """A SPARQL store started by a test: its query, graph-store and update endpoints."""

    name: str
    query: str
    gsp: str
    update: str
    #: Flags that sign in for writing.
    credentials: tuple[str, ...] = ()
    #: Flags of a push by SPARQL Update (Oxigraph's MOVE copies triple by triple, seconds for
    #: this graph: one request there; Virtuoso parses at most ~5,000 triples a request: its
    #: push goes through a staging graph and MOVE).
    update_flags: tuple[str, ...] = ()


def wait_for(url: str, process: Any, log: Path) -> None:
    """Until ``url`` answers (60 s at most); the log's end when ``process`` exits first."""
    import time
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up: {log.read_text()[-2000:]}")


def stop(process: Any) -> None:
    """Terminate a started server and wait for it (killed after 30 s)."""
    import subprocess

    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_oxigraph(folder: Path, port: int) -> tuple[Store, Any]:
    """Oxigraph server (PyPI ``oxigraph``, in the virtualenv) on a fresh database in
    ``folder``, listening on 127.0.0.1:``port``: its endpoints and its process (:func:`stop`)."""
    import subprocess
    import sys

    program = require_tool("oxigraph", str(Path(sys.executable).parent))
    url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    command = [program, "serve", "--location", str(folder / "data"), "--bind", url[7:]]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(f"{url}/query?query=ASK%7B%7D", process, log)
    except BaseException:
        stop(process)
        raise
    store = Store(
        "oxigraph",
        f"{url}/query",
        f"{url}/store",
        f"{url}/update",
        update_flags=("--chunk-bytes", str(8 * 1024 * 1024)),
    )
    return store, process


#: A throw-away Virtuoso on loopback. HTTP threads as many as a deployment would have (Debian's
#: sample has 10): with 4, two heavy loops' queries and the ones they had just given up (Virtuoso
#: stops a query at its timeout only roughly) took every thread, and a lookup waited for one
#: past the grace (seen once in CI).
VIRTUOSO_INI = """\
[Database]
DatabaseFile = {folder}/virtuoso.db
ErrorLogFile = {folder}/virtuoso.log
LockFile = {folder}/virtuoso.lck
TransactionFile = {folder}/virtuoso.trx
xa_persistent_file = {folder}/virtuoso.pxa
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {folder}/virtuoso-temp.db
TransactionFile = {folder}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
DirsAllowed = .
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {folder}
ServerThreads = 16
MaxClientConnections = 16
Charset = UTF-8
[SPARQL]
ResultSetMaxRows = 100000
MaxQueryExecutionTime = 60
"""


def start_virtuoso(
    folder: Path, http_port: int, sql_port: int, password_variable: str
) -> tuple[Store, Any]:
    """Virtuoso (Debian's ``virtuoso-opensource``) on a fresh database in ``folder``, on
    loopback: its endpoints (writes as ``dba``, digest, the password in the environment
    variable named) and its process (:func:`stop`)."""
    import subprocess

    program = require_tool("virtuoso-t", "/usr/bin", "/usr/sbin")
    ini = folder / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(folder=folder, sql_port=sql_port, http_port=http_port))
    log = folder / "console.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [program, "+foreground", "+configfile", str(ini)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    url = f"http://127.0.0.1:{http_port}"
    credentials = ("--user", "dba", "--password-env", password_variable, "--auth", "digest")
    try:
        wait_for(f"{url}/sparql?query=ASK%7B%7D", process, log)
    except BaseException:
        stop(process)
        raise
    store = Store(
        "virtuoso",
        f"{url}/sparql",
        f"{url}/sparql-graph-crud-auth",
        f"{url}/sparql-auth",
        credentials,
    )
    return store, process


#: The environment variable holding the password ``kg push`` writes to a test Virtuoso with.
STORE_PASSWORD_VARIABLE = "KG_TEST_STORE_PASSWORD"


@contextmanager
def pushed_store(kind: str, folder: Path, dist: Path) -> Iterator[Store]:
    """A store of ``kind`` (``oxigraph``: :func:`start_oxigraph`; ``virtuoso``:
    :func:`start_virtuoso`, written as ``dba``) on a fresh database in ``folder``, holding the
    publication ``dist`` as ``kg push`` leaves it; stopped afterwards."""
    import pytest

    from kg.cli import main
    from tests.conftest import free_port

    with pytest.MonkeyPatch.context() as patch:
        if kind == "virtuoso":
            patch.setenv(STORE_PASSWORD_VARIABLE, "dba")
            store, process = start_virtuoso(
                folder, free_port(), free_port(), STORE_PASSWORD_VARIABLE
            )
        else:
            store, process = start_oxigraph(folder, free_port())
        try:
            push = ["push", "--endpoint", store.gsp, "--dist", str(dist), *store.credentials]
            assert main(push) == 0
            yield store
        finally:
            stop(process)


def lane_job(**overrides: Any) -> dict[str, Any]:
    """A job as the web worker sends it to a query process (server.services.pool): every
    triple's object as CSV, at most 10 rows; ``overrides`` replace fields."""
    job: dict[str, Any] = {
        "text": "SELECT ?o WHERE { ?s ?p ?o }",
        "base_iri": None,
        "dataset": "union",
        "results": "csv",
        "graph": None,
        "prefixes": None,
        "max_rows": 10,
        "values_per_row": 100,
        "max_bytes": 1000,
        "stack": 1 << 20,
    }
    return {**job, **overrides}


def raw_exchange(sock: socket.socket, request: bytes, head: bool) -> tuple[bytes, bytes]:
    """Send ``request``; the answer's header block (without its Date line) and body."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    block, _, body = data.partition(b"\r\n\r\n")
    lines = block.split(b"\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    bodyless = head or lines[0].split()[1] in (b"304", b"204")
    while not bodyless and len(body) < length:
        chunk = sock.recv(1 << 20)
        assert chunk, "the server closed the connection"
        body += chunk
    kept = b"\r\n".join(line for line in lines if not line.lower().startswith(b"date:"))
    return kept, body


def undated(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers, a ``Date``'s value left out (the clock's, not the answer's)."""
    return [(name, "-" if name.lower() == "date" else value) for name, value in headers]


def process_children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (``/proc``); none once it has ended."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except OSError:  # ended meanwhile
        return found
    return found


def connections_held(pid: int, port: int, peer: str | None = None) -> int:
    """How many established TCP connections to ``port`` (IPv4) the process ``pid`` holds (only
    those from the address ``peer``, if given): its socket descriptors (``/proc/PID/fd``) met
    with the kernel's table (``/proc/net/tcp``: local and remote address, state ``01``
    established, inode)."""
    mine = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process has ended: it holds none
        return 0
    for descriptor in descriptors:
        try:
            target = descriptor.readlink().name
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            mine.add(target[len("socket:[") : -1])
    held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote = str(ipaddress.IPv4Address(socket.ntohl(int(fields[2].split(":")[0], 16))))
        held += (
            local_port == port
            and fields[3] == "01"
            and fields[9] in mine
            and peer in (None, remote)
        )
    return held


def lane_processes(worker: int) -> list[int]:
    """A web worker's query processes: its children are its zygotes (one per snapshot in use),
    theirs the query processes."""
    return [process for zygote in process_children(worker) for process in process_children(zygote)]


def query_processes(server: int) -> list[int]:
    """The query processes of every web worker of the server whose master is ``server``."""
    return [process for worker in process_children(server) for process in lane_processes(worker)]


def build_quietly(content: Path, out: Path, **settings: object) -> int:
    """``kg build`` of ``content`` into ``out`` in this process (``settings``: other
    ``Settings`` fields), its messages dropped; the exit status."""
    chosen = Settings(content=content, out=out, **settings)  # type: ignore[arg-type]
    return run_build(chosen, io.StringIO(), io.StringIO())


def cache_entries(out: Path, stage: str) -> list[Path]:
    """The entries of the build cache of the publication ``out`` for ``stage`` (``kept``,
    ``validation``, …), sorted."""
    return sorted((out.parent / f"{out.name}.cache" / stage).glob("*/*.pickle"))


def redefine_dpia(content: Path, prefix: str) -> None:
    """The glossary of ``content`` edited: ``prefix`` before the definition of DPIA."""
    glossary = content / "includes" / "begrippenlijst.md"
    text = glossary.read_text()
    assert "*[DPIA]: " in text
    glossary.write_text(text.replace("*[DPIA]: ", f"*[DPIA]: {prefix}"))


def copy_publication(source: Path, target: Path, without: Iterable[str] = ()) -> Path:
    """The files of the publication ``source`` (not the folder of the store a server built
    beside them) copied into a new folder ``target``, but those named in ``without``."""
    target.mkdir()
    for path in source.iterdir():
        if path.is_file() and path.name not in without:
            (target / path.name).write_bytes(path.read_bytes())
    return target
