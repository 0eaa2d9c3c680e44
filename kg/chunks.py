"""The release history's dataset in pieces: each release's graph serialised once, per commit.

``releases.nq`` / ``releases.trig`` (and gzipped) hold every release of the history, 130 MB
for upstream's; serialising them whole on each build would cost seconds. So each commit's
graph is kept serialised in each format (a *chunk*, in the release cache beside its build)
and the dataset files are the chunks joined (:mod:`kg.releases`): gzip members may be
concatenated and TriG allows a prefix to be declared again, so a new release costs its own
chunk only.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox

from kg.graph import Triple
from kg.manifest import GRAPH_NT, GRAPH_TTL
from kg.serialization import oxigraph_triples, prefix_map, sorted_triples


@dataclass(frozen=True)
class Chunks:
    """Each release's graph serialised once, in every dump format (N-Quads, TriG, and each
    gzipped): the dataset's dumps are these chunks joined (gzip members may be concatenated;
    TriG allows a prefix to be declared again), so a new release costs its own chunk only.
    The default graph (the newest release) is the publication's ``graph.nt`` / ``graph.ttl``
    (the same sorted triples, by the same serialiser: :data:`DEFAULT_FILES`)."""

    folder: Path

    def path(self, commit: str, graph: str, extension: str) -> Path:
        return self.folder / commit / f"{quote(graph, safe='')}.{extension}"

    def complete(self, commit: str, graphs: Sequence[str]) -> bool:
        return all(self.path(commit, g, e).is_file() for g in graphs for e in DUMP_EXTENSIONS)

    def write(self, commit: str, graphs: Sequence[str], triples: frozenset[Triple]) -> None:
        """The triples in each of ``graphs``, sorted (once), each format."""
        self._write(commit, graphs, oxigraph_triples(sorted_triples(triples)))

    def write_ntriples(self, commit: str, graphs: Sequence[str], ntriples: bytes) -> None:
        """As :meth:`write`, from the triples serialised sorted already (the publication's
        ``graph.nt``: read back in their order, blank node labels kept)."""
        self._write(commit, graphs, list(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES)))

    def _write(self, commit: str, graphs: Sequence[str], ordered: Sequence[ox.Triple]) -> None:
        (self.folder / commit).mkdir(parents=True, exist_ok=True)
        for graph in graphs:
            name = ox.NamedNode(graph)
            quads = [ox.Quad(t.subject, t.predicate, t.object, name) for t in ordered]
            for extension, data in serialise_quads(quads).items():
                keep_bytes(self.path(commit, graph, extension), data)

    def read(self, commit: str, graph: str, extension: str) -> bytes:
        return self.path(commit, graph, extension).read_bytes()


#: The extensions of a chunk, and of the dataset's dump files.
DUMP_EXTENSIONS = ("nq", "nq.gz", "trig", "trig.gz")
#: The chunk of the newest release as the default graph, per extension: its publication's
#: file (N-Triples is N-Quads in the default graph; Turtle is TriG).
DEFAULT_FILES = {
    "nq": GRAPH_NT.name,
    "nq.gz": f"{GRAPH_NT.name}.gz",
    "trig": GRAPH_TTL.name,
    "trig.gz": f"{GRAPH_TTL.name}.gz",
}


def serialise_quads(quads: Sequence[ox.Quad]) -> dict[str, bytes]:
    """``quads`` as N-Quads and TriG, and each gzipped (no time stamp: reproducible)."""
    nquads = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    trig = ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=prefix_map())
    assert isinstance(nquads, bytes) and isinstance(trig, bytes)
    return {
        "nq": nquads,
        "nq.gz": gzip.compress(nquads, 6, mtime=0),
        "trig": trig,
        "trig.gz": gzip.compress(trig, 6, mtime=0),
    }


def keep_bytes(path: Path, data: bytes) -> None:
    """Written whole or not at all (a temporary file renamed into place)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
