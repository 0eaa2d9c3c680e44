"""Shared fixtures: built publications, Flask apps, live servers, the upstream releases."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient

from kg.built import Build
from kg.cli import run_build
from kg.config import Settings
from kg.corpus import Corpus, load_corpus
from kg.graph import build_graph
from kg.releases import Published, run_history_build

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_CORPUS = SHARED / "corpus" / "algoritmekader"
BUNDLE = SHARED / "corpus" / "algoritmekader.bundle"
SEEDS = SHARED / "seeds"
SAMPLE_CONTENT = REPO / "content"
BESLISHULP = SHARED / "corpus" / "ai-verordening-beslishulp"


def build_publication(content: Path, out: Path) -> tuple[int, str, str]:
    """Run ``kg build`` in-process; returns (exit code, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    status = run_build(Settings(content=content, out=out), stdout, stderr)
    return status, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="session")
def real_corpus() -> Path:
    if not REAL_CORPUS.is_dir():
        pytest.skip("../shared/corpus/algoritmekader is not here")
    return REAL_CORPUS


@pytest.fixture(scope="session")
def corpus(real_corpus: Path) -> Corpus:
    """The latest upstream content, loaded (shared by the modules that read it)."""
    return load_corpus(real_corpus)


@pytest.fixture(scope="session")
def build(corpus: Corpus) -> Build:
    """The graph of :func:`corpus` (not published)."""
    return build_graph(corpus)


@pytest.fixture(scope="session")
def sample_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "dist"
    status, _, stderr = build_publication(SAMPLE_CONTENT, out)
    assert status == 0, stderr
    return out


@pytest.fixture(scope="session")
def real_dist(tmp_path_factory: pytest.TempPathFactory, real_corpus: Path) -> Path:
    out = tmp_path_factory.mktemp("real") / "dist"
    status, _, stderr = build_publication(real_corpus, out)
    assert status in (0, 1), stderr
    return out


@pytest.fixture(scope="session")
def make_app() -> Callable[..., Flask]:
    from server import create_app

    def make(dist: Path, **overrides: object) -> Flask:
        app = create_app(Settings(out=dist, **overrides))  # type: ignore[arg-type]
        app.testing = True
        return app

    return make


@pytest.fixture(scope="session")
def app(make_app: Callable[..., Flask], sample_dist: Path) -> Flask:
    return make_app(sample_dist)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def real_app(make_app: Callable[..., Flask], real_dist: Path) -> Flask:
    return make_app(real_dist)


@pytest.fixture(scope="session")
def beslishulp_dist(tmp_path_factory: pytest.TempPathFactory, real_corpus: Path) -> Path:
    """The latest content built with the AI-Act decision aid (``kg build --beslishulp``)."""
    if not BESLISHULP.is_dir():
        pytest.skip("../shared/corpus/ai-verordening-beslishulp is not here")
    out = tmp_path_factory.mktemp("beslishulp") / "dist"
    stdout, stderr = io.StringIO(), io.StringIO()
    settings = Settings(content=real_corpus, out=out, beslishulp=BESLISHULP, validate=False)
    status = run_build(settings, stdout, stderr)
    assert status in (0, 1), stderr.getvalue()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_environment(home: Path | None) -> dict[str, str]:
    """This process's environment without ``KG_`` settings; with ``home``, that as ``HOME``
    and no ``XDG_RUNTIME_DIR`` (to see what a server would write there)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    if home is not None:
        environment["HOME"] = str(home)
        environment.pop("XDG_RUNTIME_DIR", None)
    return environment


class LiveServer:
    """``kg serve --dist`` in a child process on 127.0.0.1 and a free port."""

    def __init__(self, dist: Path, *extra: str, home: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = dist.parent / f"server-{self.port}.log"
        command = [
            sys.executable,
            "-m",
            "kg.cli",
            "serve",
            "--dist",
            str(dist),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *extra,
        ]
        # The child keeps its own copy of the log's descriptor; ours is closed at once.
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=_server_environment(home),
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not come up: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def live_server(sample_dist: Path) -> Iterator[LiveServer]:
    server = LiveServer(sample_dist)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every release tag of the upstream history, checked out: tag -> content folder."""
    if not BUNDLE.is_file():
        pytest.skip("../shared/corpus/algoritmekader.bundle is not here")
    root = tmp_path_factory.mktemp("releases")
    clone = root / "clone"
    subprocess.run(["git", "clone", "-q", str(BUNDLE), str(clone)], check=True)
    tags = subprocess.run(
        ["git", "-C", str(clone), "tag"], check=True, capture_output=True, text=True
    ).stdout.split()
    out: dict[str, Path] = {}
    for tag in tags:
        folder = root / tag
        folder.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(clone), "archive", tag], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        out[tag] = folder
    return out


@pytest.fixture(scope="session")
def built(
    releases: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Corpus, Build]]:
    """Every release loaded and built (not published): tag -> (corpus, build). The releases
    share one parse cache, as ``kg build --git`` does: a file unchanged since an earlier
    release is not parsed again."""
    cache = tmp_path_factory.mktemp("release-parses")
    out = {}
    for tag, root in releases.items():
        corpus = load_corpus(root, cache=cache)
        out[tag] = (corpus, build_graph(corpus))
    return out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (``CI`` set, as ``.ci/run`` does) a skipped test fails: everything a test needs
    (the real corpus, Chromium, Virtuoso, nginx) is installed by the project's own setup, so a
    skip there means a missing piece, never something to pass over in silence."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must have everything: {report.longrepr}"


@dataclass(frozen=True)
class Run:
    repo: Path
    first: Published
    unchanged: Published
    added: Published
    #: The commit added back for the third build.
    head: str
    store: ox.Store


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _build_history(repo: Path, out: Path) -> Published:
    settings = Settings(out=out, validate=False)
    return run_history_build(settings, str(repo), io.StringIO(), io.StringIO())


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """``kg build --git`` of the bundle, in three steps on a clone (shared by
    tests/test_history.py and tests/test_releases_http.py): the branch head one commit back
    (every release built), again unchanged (every release reused), and with the last commit
    added back (that commit built)."""
    if not BUNDLE.is_file():
        pytest.skip("../shared/corpus/algoritmekader.bundle is not here")
    root = tmp_path_factory.mktemp("history")
    repo, out = root / "repo", root / "dist"
    subprocess.run(["git", "clone", "-q", str(BUNDLE), str(repo)], check=True)
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    # Builds are reused by commit and code fingerprint; the fingerprint is pinned so that an
    # edit of the package while this runs (a working tree) cannot make the second build miss.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("kg.history.code_fingerprint", lambda: "pinned-for-this-session")
        first = _build_history(repo, out)
        unchanged = _build_history(repo, out)
        git(repo, "reset", "-q", "--hard", head)
        added = _build_history(repo, out)
    store = ox.Store()
    store.bulk_load(path=str(out / "releases.nq"), format=ox.RdfFormat.N_QUADS)
    return Run(repo, first, unchanged, added, head, store)
