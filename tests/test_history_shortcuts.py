"""The shortcuts a new commit's history build takes (issue 12) give what the long way gives:
the newest release's chunk read back from its N-Triples dump, the ontology kept in the release
store, the dataset files hashed ahead of their tail."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.built import Build
from kg.chunks import DUMP_EXTENSIONS, Chunks
from kg.history import kept_ontology
from kg.publication import render_ontology
from kg.releases import head_digest

COMMIT = "0" * 40
GRAPHS = ("urn:nl:ak:release:v1.0", "urn:nl:ak:release:main")


@pytest.mark.corpus
def test_the_chunk_read_back_from_the_n_triples_dump_is_the_chunk_of_the_triples(
    build: Build, tmp_path: Path
) -> None:
    """The triples in the dump's line order are the order the chunk sorts them in: the same
    bytes in every format, for every graph of the commit."""
    from_triples, from_dump = Chunks(tmp_path / "triples"), Chunks(tmp_path / "dump")
    from_triples.write(COMMIT, GRAPHS, build.triples)
    ordered = list(ox.parse(build.ntriples, format=ox.RdfFormat.N_TRIPLES))
    from_dump.write_ordered(COMMIT, GRAPHS, ordered)
    for graph in GRAPHS:
        for extension in DUMP_EXTENSIONS:
            expected = from_triples.path(COMMIT, graph, extension).read_bytes()
            assert from_dump.path(COMMIT, graph, extension).read_bytes() == expected, extension
    assert len(ordered) == len(build.triples) > 1000


def test_the_ontology_is_made_once_per_release_store(tmp_path: Path) -> None:
    made = kept_ontology(tmp_path)
    assert made == render_ontology()
    [kept] = tmp_path.glob("ontology-*.ttl")
    kept.write_bytes(b"# kept\n")  # the next build reads it, and makes nothing
    assert kept_ontology(tmp_path) == b"# kept\n"


def test_a_file_hashed_ahead_of_its_tail_has_the_checksum_of_its_bytes(tmp_path: Path) -> None:
    first, empty, last = tmp_path / "first.nq", tmp_path / "empty.nq", tmp_path / "last.nq"
    first.write_bytes(b"<urn:a> <urn:b> <urn:c> <urn:g> .\n" * 5000)
    empty.write_bytes(b"")
    last.write_bytes(b"<urn:d> <urn:e> <urn:f> <urn:h> .\n")
    finished = head_digest((b"<urn:x> <urn:y> <urn:z> .\n", first, empty, last))
    whole = b"<urn:x> <urn:y> <urn:z> .\n" + first.read_bytes() + last.read_bytes() + b"# tail\n"
    assert finished(b"# tail\n") == hashlib.sha256(whole).hexdigest()
    assert finished(b"") == hashlib.sha256(whole[: -len(b"# tail\n")]).hexdigest()
