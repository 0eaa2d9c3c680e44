"""The publication: dumps that parse back to the built graph, reproducible, written atomically."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

import kg.publication
from kg.cli import EXIT_ERROR, main
from kg.corpus import load_corpus
from kg.graph import build_graph
from tests.conftest import SAMPLE_CONTENT, build_publication

DUMP_FORMATS = {"graph.ttl": "turtle", "graph.nt": "nt", "graph.jsonld": "json-ld"}


@pytest.fixture(scope="module")
def sample_graph() -> Graph:
    return build_graph(load_corpus(SAMPLE_CONTENT)).graph


@pytest.mark.parametrize("name", sorted(DUMP_FORMATS))
def test_each_dump_parses_back_to_the_built_graph(
    sample_dist: Path, sample_graph: Graph, name: str
) -> None:
    for data in (
        (sample_dist / name).read_bytes(),
        gzip.decompress((sample_dist / f"{name}.gz").read_bytes()),
    ):
        parsed = Graph().parse(data=data, format=DUMP_FORMATS[name])
        assert len(parsed) == len(sample_graph) > 500
        assert isomorphic(parsed, sample_graph)


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(DUMP_FORMATS))
def test_real_dumps_parse_back_to_the_built_graph(
    real_dist: Path, real_corpus: Path, name: str
) -> None:
    built = build_graph(load_corpus(real_corpus)).graph
    parsed = Graph().parse(real_dist / name, format=DUMP_FORMATS[name])
    assert isomorphic(parsed, built)


def test_checksums_and_manifest(sample_dist: Path) -> None:
    manifest = json.loads((sample_dist / "manifest.json").read_text())
    sums = (sample_dist / "SHA256SUMS").read_text().splitlines()
    assert sums
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256((sample_dist / name).read_bytes()).hexdigest() == digest
        assert manifest["files"][name]["sha256"] == digest
    assert manifest["triples"] == len(Graph().parse(sample_dist / "graph.nt"))
    assert manifest["documents"]["vereiste"] == 3
    context = json.loads((sample_dist / "context.jsonld").read_text())
    assert context["@context"]["ak"] == "urn:nl:ak:def:"


def test_builds_are_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert build_publication(SAMPLE_CONTENT, first)[0] == 0
    assert build_publication(SAMPLE_CONTENT, second)[0] == 0
    for name in (*DUMP_FORMATS, *(f"{n}.gz" for n in DUMP_FORMATS), "SHA256SUMS"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_a_failed_build_leaves_the_last_publication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    assert build_publication(SAMPLE_CONTENT, out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(kg.publication, "render_dumps", crash)
    with pytest.raises(RuntimeError):
        build_publication(SAMPLE_CONTENT, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert_no_leftovers(tmp_path)


def test_an_interrupted_build_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dist"
    assert build_publication(SAMPLE_CONTENT, out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    original = Path.write_bytes
    written: list[str] = []

    def interrupt_midway(self: Path, data: bytes) -> int:
        written.append(self.name)
        if len(written) == 3:
            raise KeyboardInterrupt
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", interrupt_midway)
    status = main(["build", "--content", str(SAMPLE_CONTENT), "--out", str(out)])
    monkeypatch.undo()
    assert status == EXIT_ERROR
    assert "nothing was published" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert_no_leftovers(tmp_path)


def assert_no_leftovers(folder: Path) -> None:
    """Only ``dist``, its lock and its one snapshot: nothing half-written."""
    assert sorted(p.name for p in folder.iterdir()) == [
        "dist",
        "dist.cache",
        "dist.lock",
        "dist.snapshots",
    ]
    assert [p.name for p in (folder / "dist.snapshots").iterdir()] == [
        (folder / "dist").readlink().name
    ]
