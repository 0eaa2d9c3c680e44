"""Snapshots: a rebuild under a live server, a build killed at any moment, builds side by side.

``kg build`` publishes an immutable folder ``dist.snapshots/<id>/`` and swaps the ``dist``
link to it in one step; the server answers every request from one loaded snapshot and takes
up the next when the link moves. These tests hold both sides to that with real processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from kg.manifest import read_manifest
from tests.conftest import REPO, SAMPLE_CONTENT, LiveServer, build_publication

COUNT = "SELECT (COUNT(*) AS ?n) { GRAPH <urn:nl:ak:graph:data> { ?s ?p ?o } }"
PAGE = "/id/urn:nl:ak:mtr:org-01"
EXTRA_ROLE = """---
title: Tester
---

# Tester
Een extra rol, zodat deze inhoud een andere graaf geeft dan de voorbeeldinhoud.
"""


@dataclass(frozen=True)
class Known:
    """What one snapshot's answers must say."""

    snapshot: str
    triples: int
    #: ETags of the dump: plain and gzipped.
    etags: frozenset[str]


@pytest.fixture(scope="module")
def other_content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample content with one more document (and no git commit)."""
    folder = tmp_path_factory.mktemp("other") / "content"
    shutil.copytree(SAMPLE_CONTENT, folder)
    (folder / "docs" / "rollen" / "tester.md").write_text(EXTRA_ROLE, encoding="utf-8")
    return folder


def kg_build(content: Path, out: Path) -> subprocess.Popen[bytes]:
    """``kg build`` in a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "kg.cli", "build", "--content", str(content), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("KG_")},
    )


def finished(build: subprocess.Popen[bytes]) -> int:
    """Wait for a build; its exit code (its errors shown when it failed)."""
    _, stderr = build.communicate(timeout=60)
    if build.returncode:
        print(stderr.decode(errors="replace"), file=sys.stderr)
    return build.returncode


def known(dist: Path) -> dict[str, Known]:
    """Every snapshot next to ``dist``, by id, from its own manifest."""
    out = {}
    for folder in (dist.parent / f"{dist.name}.snapshots").iterdir():
        manifest = read_manifest(folder)
        assert manifest.snapshot == folder.name
        etags = frozenset(manifest.files[name].sha256 for name in ("graph.nt", "graph.nt.gz"))
        out[folder.name] = Known(folder.name, manifest.triples, etags)
    return out


def assert_complete(dist: Path) -> None:
    """``dist`` resolves to a snapshot whose every file is the one its checksums name."""
    folder = dist.resolve()
    assert folder.parent == dist.parent / f"{dist.name}.snapshots", folder
    manifest = read_manifest(folder)
    assert manifest.snapshot == folder.name
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    assert len(lines) >= 10
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
        assert manifest.files[name].sha256 == digest


class Load:
    """Client threads looping over health, the dump, a SPARQL count and a page."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.answers: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def _loop(self) -> None:
        etag: str | None = None
        while not self.stop.is_set():
            try:
                etag = self._round(etag)
            except (OSError, ValueError, AssertionError) as error:
                with self._lock:
                    self.failures.append(repr(error))

    def _round(self, etag: str | None) -> str:
        health = json.loads(self._get("/health")[1])
        self._record("health", (health["snapshot"], health["triples"]))
        headers = {"If-None-Match": f'"{etag}"'} if etag else {}
        status, body, sent = self._get("/dump.nt", headers)
        etag = sent.strip('"')
        if status == 200:
            assert hashlib.sha256(body).hexdigest() == etag, "the ETag is not of the bytes sent"
        self._record("dump", etag)
        query = urllib.parse.urlencode({"query": COUNT})
        rows = json.loads(
            self._get(f"/sparql?{query}", {"Accept": "application/sparql-results+json"})[1]
        )
        self._record("count", int(rows["results"]["bindings"][0]["n"]["value"]))
        self._get(PAGE, {"Accept": "text/html"})
        return etag

    def _get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        request = urllib.request.Request(f"{self.url}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, response.read(), response.headers.get("ETag", "")
        except urllib.error.HTTPError as error:
            if error.code != 304:
                raise
            return 304, b"", error.headers.get("ETag", "")

    def _record(self, kind: str, value: object) -> None:
        with self._lock:
            self.answers.append((kind, value))


def test_a_rebuild_under_load_is_taken_up_whole(tmp_path: Path, other_content: Path) -> None:
    dist = tmp_path / "dist"
    assert build_publication(SAMPLE_CONTENT, dist)[0] == 0
    first = read_manifest(dist).snapshot
    server = LiveServer(dist)
    try:
        load = Load(server.url)
        time.sleep(1.5)
        build = kg_build(other_content, dist)
        assert finished(build) == 0
        time.sleep(3)
        load.finish()
        second = read_manifest(dist).snapshot
        snapshots = known(dist)
        assert {first, second} == set(snapshots) and first != second
        assert snapshots[first].triples != snapshots[second].triples
        assert load.failures == []
        assert_consistent(load.answers, snapshots)
        health = {value for kind, value in load.answers if kind == "health"}
        assert {snapshot for snapshot, _ in health} == {first, second}  # both were served
        for _ in range(10):  # every worker serves the new snapshot now
            with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
                assert json.load(response)["snapshot"] == second
    finally:
        server.stop()


def assert_consistent(answers: list[tuple[str, object]], snapshots: dict[str, Known]) -> None:
    """Each answer is one some snapshot gives: health's count is its own snapshot's, the dump's
    ETag and the SPARQL count one of a snapshot's."""
    kinds = Counter(kind for kind, _ in answers)
    assert min(kinds["health"], kinds["dump"], kinds["count"]) > 10, kinds
    for kind, value in answers:
        if kind == "health":
            snapshot, triples = value  # type: ignore[misc]
            assert snapshots[snapshot].triples == triples
        elif kind == "dump":
            assert any(value in known.etags for known in snapshots.values()), value
        else:
            assert value in {known.triples for known in snapshots.values()}, value


def test_a_build_killed_at_any_moment_leaves_a_complete_publication(
    tmp_path: Path, other_content: Path
) -> None:
    dist = tmp_path / "dist"
    assert build_publication(SAMPLE_CONTENT, dist)[0] == 0
    started = time.monotonic()
    assert finished(kg_build(other_content, dist)) == 0
    duration = time.monotonic() - started
    chosen = random.Random(20261127)
    for run in range(20):
        build = kg_build(other_content if run % 2 else SAMPLE_CONTENT, dist)
        time.sleep(chosen.uniform(0.3, 1.05) * duration)
        build.kill()
        build.communicate(timeout=10)
        assert_complete(dist)
    assert finished(kg_build(SAMPLE_CONTENT, dist)) == 0
    assert_complete(dist)
    snapshots = sorted(p.name for p in (tmp_path / "dist.snapshots").iterdir())
    assert not [name for name in snapshots if name.startswith(".")]  # leftovers cleaned
    assert len(snapshots) == 3  # the current one and the two before it
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_concurrent_builds_take_turns(tmp_path: Path, other_content: Path) -> None:
    dist = tmp_path / "dist"
    builds = [kg_build(SAMPLE_CONTENT, dist), kg_build(other_content, dist)]
    assert [finished(build) for build in builds] == [0, 0]
    assert_complete(dist)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dist",
        "dist.cache",
        "dist.lock",
        "dist.snapshots",
    ]
    snapshots = known(dist)
    assert len(snapshots) == 2  # both published, one after the other
    assert read_manifest(dist).snapshot in snapshots


def test_a_publication_from_before_snapshots_is_taken_over(
    tmp_path: Path, other_content: Path
) -> None:
    dist = tmp_path / "dist"
    assert build_publication(SAMPLE_CONTENT, dist)[0] == 0
    real = tmp_path / "real"
    shutil.copytree(dist.resolve(), real)
    dist.unlink()
    shutil.rmtree(tmp_path / "dist.snapshots")
    real.rename(dist)  # a plain folder, as builds wrote it before
    assert build_publication(other_content, dist)[0] == 0
    assert dist.is_symlink()
    assert_complete(dist)
    (legacy,) = (tmp_path / "dist.snapshots").glob("legacy-*")  # kept until pruned
    assert read_manifest(legacy).triples != read_manifest(dist).triples


def test_sighup_workers_serve_the_newest_snapshot(tmp_path: Path, other_content: Path) -> None:
    dist = tmp_path / "dist"
    assert build_publication(SAMPLE_CONTENT, dist)[0] == 0
    server = LiveServer(dist)
    try:
        assert finished(kg_build(other_content, dist)) == 0
        newest = read_manifest(dist).snapshot
        server.process.send_signal(signal.SIGHUP)  # new workers, forked from the preloaded app
        time.sleep(2)
        for _ in range(10):
            with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
                assert json.load(response)["snapshot"] == newest
        assert server.process.poll() is None
    finally:
        server.stop()
