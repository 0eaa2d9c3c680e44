"""The production setup: Debian's nginx, configured from deploy/nginx.conf.template, in front
of ``kg serve`` on the latest real publication.

nginx must serve every public file of the publication itself (kg/manifest.py FILES with a
``served_as``), byte for byte as the application does and with the headers that matter, and
pass everything else to the application. A new snapshot is served without a reload.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import frontmatter
import pytest

from deploy.render_nginx import render
from kg.manifest import FILES, PublishedFile
from tests.conftest import LiveServer, free_port
from tests.helpers import parse_html, require_tool

pytestmark = pytest.mark.corpus

SERVED = [file for file in FILES if file.served_as]
#: Headers the application sends with a file that nginx must send the same.
SAME_HEADERS = (
    "content-type",
    "content-encoding",
    "vary",
    "cache-control",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(base: str, path: str, method: str = "GET", **headers: str) -> Answer:
    """One request (header names with ``_`` for ``-``), nothing followed or decoded; a header
    the answer gives twice has its values joined (RFC 9110 §5.3)."""
    address = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        connection.request(method, path, headers=named)
        response = connection.getresponse()
        body = response.read()
        found: dict[str, str] = {}
        for name, value in response.getheaders():  # a field given twice: its values joined
            key = name.lower()
            found[key] = f"{found[key]}, {value}" if key in found else value
        return Answer(response.status, found, body)
    finally:
        connection.close()


@dataclass(frozen=True)
class Front:
    nginx: str
    app: str
    #: The ``dist`` link both serve, and the snapshot folder it points at.
    dist: Path
    snapshot: Path


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, real_dist: Path) -> Iterator[Front]:
    """nginx and the application on a private copy of the real publication (so a test may
    swap its ``dist`` link)."""
    program = require_tool("nginx", "/usr/sbin")
    root = tmp_path_factory.mktemp("nginx")
    snapshot = root / "dist.snapshots" / "first"
    shutil.copytree(real_dist.resolve(), snapshot)
    add_release_dumps(snapshot)
    dist = root / "dist"
    dist.symlink_to(Path("dist.snapshots") / "first")
    app = LiveServer(dist)
    state = root / "state"
    state.mkdir()
    port = free_port()
    config = state / "nginx.conf"
    config.write_text(
        render(dist, f"127.0.0.1:{port}", [f"127.0.0.1:{app.port}"], state), encoding="utf-8"
    )
    with (state / "console.log").open("wb") as console:  # the child keeps its own copy
        process = subprocess.Popen(
            [program, "-c", str(config), "-p", str(state), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=console,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, state)
        yield Front(url, app.url, dist, snapshot)
    finally:
        process.terminate()
        process.wait(20)
        app.stop()


def add_release_dumps(snapshot: Path) -> None:
    """The release dumps ``kg build --git`` adds (not built here: one quad each is enough to
    see who serves them), with their .gz and checksums."""
    quad = b"<urn:nl:ak:mtr:org-02> <urn:x:p> <urn:x:o> <urn:nl:ak:release:v1.1> .\n"
    sums = []
    for file in (file for file in SERVED if file.name.startswith("releases.")):
        if (snapshot / file.name).exists():
            return
        (snapshot / file.name).write_bytes(quad)
        (snapshot / f"{file.name}.gz").write_bytes(gzip.compress(quad, mtime=0))
        sums.append(f"{hashlib.sha256(quad).hexdigest()}  {file.name}\n")
    with (snapshot / "SHA256SUMS").open("a", encoding="utf-8") as checksums:
        checksums.writelines(sums)


def _wait(url: str, process: subprocess.Popen[bytes], state: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {(state / 'console.log').read_text()}")
        try:
            if fetch(url, "/health").status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not come up: {(state / 'error.log').read_text()}")


def published(front: Front) -> list[PublishedFile]:
    files = [file for file in SERVED if (front.snapshot / file.name).is_file()]
    assert {file.name for file in files} >= {"graph.ttl", "graph.nt", "releases.nq", "SHA256SUMS"}
    return files


def test_the_template_names_every_public_file(tmp_path: Path) -> None:
    """Every public file of kg/manifest.py has its line in the map of the configuration."""
    text = render(tmp_path / "dist", "127.0.0.1:1", ["127.0.0.1:2"], tmp_path)
    for file in SERVED:
        assert f"/{file.served_as} /{file.name};" in text, file.name


def test_every_public_file_is_served_by_nginx_as_by_the_app(front: Front) -> None:
    """Byte-identical, with the application's headers; nginx's own ETag (size and time) shows
    the answer did not pass through the application (whose ETag is the SHA-256)."""
    for file in published(front):
        path = f"/{file.served_as}"
        ours, app = fetch(front.nginx, path), fetch(front.app, path)
        assert ours.status == app.status == 200, path
        assert ours.body == app.body == (front.snapshot / file.name).read_bytes(), path
        for name in SAME_HEADERS:
            assert ours.headers.get(name) == app.headers.get(name), (path, name)
        assert ours.headers["etag"] != app.headers["etag"], f"{path} went to the application"


def test_checksums_match_what_nginx_sends(front: Front) -> None:
    listed = {}
    for line in fetch(front.nginx, "/SHA256SUMS").body.decode().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name.lstrip("*")] = digest
    for file in published(front):
        if file.name == "SHA256SUMS":
            continue
        body = fetch(front.nginx, f"/{file.served_as}").body
        assert hashlib.sha256(body).hexdigest() == listed[file.name], file.name


def test_gzip_variant_of_each_dump(front: Front) -> None:
    for file in (file for file in published(front) if file.gzipped):
        path = f"/{file.served_as}"
        ours = fetch(front.nginx, path, Accept_Encoding="gzip")
        app = fetch(front.app, path, Accept_Encoding="gzip")
        assert ours.headers["content-encoding"] == app.headers["content-encoding"] == "gzip"
        assert ours.body == app.body == (front.snapshot / f"{file.name}.gz").read_bytes()
        assert gzip.decompress(ours.body) == (front.snapshot / file.name).read_bytes()
        assert ours.headers["vary"] == app.headers["vary"] == "Accept-Encoding"


def test_head_and_conditional_requests(front: Front) -> None:
    size = (front.snapshot / "graph.ttl").stat().st_size
    head = fetch(front.nginx, "/dump.ttl", "HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) == size
    tag = head.headers["etag"]
    assert fetch(front.nginx, "/dump.ttl", If_None_Match=tag).status == 304
    since = head.headers["last-modified"]
    assert fetch(front.nginx, "/dump.ttl", If_Modified_Since=since).status == 304
    assert fetch(front.nginx, "/dump.ttl", If_None_Match='"other"').status == 200
    ranged = fetch(front.nginx, "/dump.ttl", Range="bytes=0-9")
    assert ranged.status == 206 and ranged.body == (front.snapshot / "graph.ttl").read_bytes()[:10]


def test_the_rest_is_proxied_to_the_application(front: Front, real_corpus: Path) -> None:
    query = urllib.parse.urlencode({"query": "SELECT ?o { <urn:nl:ak:mtr:org-02> ?p ?o }"})
    for base in (front.nginx, front.app):
        answer = fetch(base, f"/sparql?{query}", Accept="application/sparql-results+json")
        assert answer.status == 200 and b"bindings" in answer.body
    path = "/id/urn:nl:ak:mtr:org-02"
    ours, app = fetch(front.nginx, path, Accept="text/html"), fetch(front.app, path)
    assert ours.status == 200 and ours.body == app.body
    assert ours.headers["etag"] == app.headers["etag"]
    assert fetch(front.nginx, path, If_None_Match=ours.headers["etag"]).status == 304
    (source,) = (real_corpus / "docs/voldoen-aan-wetten-en-regels/maatregelen").glob("0-org-02-*")
    title = frontmatter.load(source).metadata["title"]
    assert parse_html(ours.body.decode()).find("h1").words() == title
    # Not a public name: the application's 404, not a file of the folder.
    assert fetch(front.nginx, "/graph.ttl").status == 404
    assert fetch(front.nginx, "/manifest.json").status == 404
    # Methods nginx does not serve files for go to the application (a CORS preflight).
    options = fetch(front.nginx, "/dump.ttl", "OPTIONS", Origin="https://example.org")
    assert options.status == 200 and "GET" in options.headers["access-control-allow-methods"]


def test_a_new_snapshot_is_served_without_reload(front: Front) -> None:
    """``dist`` swapped to another snapshot (as ``kg build`` does): nginx's next answer
    comes from it, with no signal sent."""
    second = front.snapshot.with_name("second")
    shutil.copytree(front.snapshot, second)
    changed = (second / "context.jsonld").read_bytes() + b"\n"
    (second / "context.jsonld").write_bytes(changed)
    link = front.dist.with_name(".dist.link-test")
    try:
        link.symlink_to(Path("dist.snapshots") / "second")
        os.replace(link, front.dist)
        assert fetch(front.nginx, "/context.jsonld").body == changed
    finally:
        link.unlink(missing_ok=True)
        link.symlink_to(Path("dist.snapshots") / "first")
        os.replace(link, front.dist)
    assert (
        fetch(front.nginx, "/context.jsonld").body
        == (front.snapshot / "context.jsonld").read_bytes()
    )


def test_proxied_answers_are_gzipped_for_a_client_that_takes_gzip(front: Front) -> None:
    """A page and a SPARQL answer come gzipped through nginx when asked (``Vary``, a weak
    ETag), and as the application sends them when not; the dumps keep their prebuilt .gz."""
    query = urllib.parse.urlencode({"query": "SELECT ?p ?o { <urn:nl:ak:mtr:org-02> ?p ?o }"})
    for path, accept in (
        ("/id/urn:nl:ak:mtr:org-02", "text/html"),
        ("/id/urn:nl:ak:mtr:org-02", "text/turtle"),
        (f"/sparql?{query}", "application/sparql-results+json"),
    ):
        plain = fetch(front.app, path, Accept=accept)
        packed = fetch(front.nginx, path, Accept=accept, Accept_Encoding="gzip")
        assert packed.headers["content-encoding"] == "gzip", path
        assert "Accept-Encoding" in packed.headers["vary"].split(", "), path
        assert gzip.decompress(packed.body) == plain.body, path
        if "etag" in plain.headers:
            weak = packed.headers["etag"]
            assert weak == "W/" + plain.headers["etag"], path
            again = fetch(
                front.nginx, path, Accept=accept, Accept_Encoding="gzip", If_None_Match=weak
            )
            assert again.status == 304, path  # If-None-Match compares weakly
        assert "content-encoding" not in fetch(front.nginx, path, Accept=accept).headers
