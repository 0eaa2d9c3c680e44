"""``kg build`` makes the pages and validates in forked children (:mod:`kg.pipeline`): the
publication is the one the stages give in process, a child that fails is redone in process,
and a build that is killed leaves no child behind."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import kg.pipeline
import kg.validation
from kg.cli import run_build
from kg.config import Settings
from kg.corpus import load_corpus
from kg.graph import build_graph
from kg.pipeline import run_pipeline_with
from tests.conftest import SAMPLE_CONTENT

#: Everything a build publishes but the manifest (its time) and the checksums (of that).
COMPARED = (
    "graph.ttl",
    "graph.nt",
    "graph.jsonld",
    "html.json",
    "sourcemap.json",
    "diagnostics.json",
    "validation.ttl",
    "validation.json",
    "search.sqlite",
)


def build(out: Path, **settings: object) -> int:
    chosen = Settings(content=SAMPLE_CONTENT, out=out, **settings)  # type: ignore[arg-type]
    return run_build(chosen, io.StringIO(), io.StringIO())


def published(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in COMPARED}


def only_in_children(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """``module.name`` fails in any process but this one (a child that crashes)."""
    original, parent = getattr(module, name), os.getpid()

    def failing_in_a_child(*args: object, **kwargs: object) -> object:
        if os.getpid() != parent:
            os._exit(3)  # as a crash would: no result, no exception to send
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, failing_in_a_child)


def test_the_children_give_what_the_stages_give_in_process() -> None:
    settings = Settings(content=SAMPLE_CONTENT)
    outcome, pages = run_pipeline_with(settings, lambda corpus, build, made: dict(build.pages))
    corpus = load_corpus(SAMPLE_CONTENT)
    in_process = build_graph(corpus)
    assert outcome.build.triples == in_process.triples
    assert pages == dict(in_process.pages) and len(pages) == len(corpus.documents)
    assert sorted(outcome.build.diagnostics) == sorted(in_process.diagnostics)
    assert outcome.shacl is not None
    assert (
        outcome.shacl.files()
        == kg.validation.validate(in_process.graph, in_process.sourcemap).files()
    )


def test_a_child_that_dies_is_redone_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert build(tmp_path / "reference" / "dist", use_cache=False) == 0
    only_in_children(monkeypatch, kg.pipeline, "render_pages")
    only_in_children(monkeypatch, kg.validation, "validate")
    assert build(tmp_path / "redone" / "dist", use_cache=False) == 0
    assert published(tmp_path / "redone" / "dist") == published(tmp_path / "reference" / "dist")


def gone(pid: int) -> bool:
    """No such process, or only its exit status left (a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_killed_build_leaves_no_child_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "child"

    def forever(*args: object) -> None:  # the pages child: says who it is, then never ends
        marker.write_text(str(os.getpid()))
        time.sleep(3600)

    monkeypatch.setattr(kg.pipeline, "render_pages", forever)
    builder = os.fork()
    if builder == 0:  # a build, waiting for its pages child
        try:
            run_pipeline_with(Settings(content=SAMPLE_CONTENT), lambda *rendered: None)
        finally:
            os._exit(0)
    child = 0
    try:
        assert wait_for(lambda: marker.exists() and marker.read_text() != "", 60)
        child = int(marker.read_text())
        assert not gone(child)
        os.kill(builder, signal.SIGKILL)
        os.waitpid(builder, 0)
        assert wait_for(lambda: gone(child), 10)  # killed with the build, not in an hour
    finally:
        for pid in (builder, child):
            if pid and not gone(pid):
                os.kill(pid, signal.SIGKILL)
