"""The release history's dataset in pieces: each release's graph serialised once, per commit.

``releases.nq`` / ``releases.trig`` (and gzipped) hold every release of the history, 130 MB
for upstream's; serialising them whole on each build would cost seconds. So each commit's
graph is kept serialised in each format (a *chunk*, in the release cache beside its build)
and the dataset files are the chunks joined (:mod:`kg.releases`): gzip members may be
concatenated and TriG allows a prefix to be declared again, so a new release costs its own
chunk only. Joining is left to the publication (:class:`Joined`): the chunks' bytes are copied
file to file by the kernel (``copy_file_range``) and hashed from a memory map, never gathered
in memory (130 MB joined in memory, hashed and written cost three times as long).
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import mmap
import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox

from kg.built import Triple
from kg.manifest import GRAPH_NT, GRAPH_TTL
from kg.serialization import in_line_order, prefix_map


@dataclass(frozen=True)
class Chunks:
    """Each release's graph serialised once, in every dump format (N-Quads, TriG, and each
    gzipped): the dataset's dumps are these chunks joined (gzip members may be concatenated;
    TriG allows a prefix to be declared again), so a new release costs its own chunk only.
    The default graph (the newest release) is the publication's ``graph.nt`` / ``graph.ttl``
    (the same triples, by the same serialiser: :data:`DEFAULT_FILES`)."""

    folder: Path

    def path(self, commit: str, graph: str, extension: str) -> Path:
        return self.folder / commit / f"{quote(graph, safe='')}.{extension}"

    def complete(self, commit: str, graphs: Sequence[str]) -> bool:
        return all(self.path(commit, g, e).is_file() for g in graphs for e in DUMP_EXTENSIONS)

    def write(self, commit: str, graphs: Sequence[str], triples: frozenset[Triple]) -> None:
        """The triples in each of ``graphs``, sorted (once), each format."""
        self.write_ordered(commit, graphs, in_line_order(triples))

    def write_ordered(
        self, commit: str, graphs: Sequence[str], ordered: Sequence[ox.Triple | ox.Quad]
    ) -> None:
        """:meth:`write` of triples (or quads, their graph ignored) already in line order."""
        (self.folder / commit).mkdir(parents=True, exist_ok=True)
        for graph in graphs:
            name = ox.NamedNode(graph)
            quads = [ox.Quad(t.subject, t.predicate, t.object, name) for t in ordered]
            for extension, data in serialise_quads(quads).items():
                keep_bytes(self.path(commit, graph, extension), data)


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
    """``quads`` as N-Quads and TriG, and each gzipped (no time stamp: reproducible; the two
    side by side: zlib lets go of the GIL)."""
    nquads = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    trig = ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=prefix_map())
    assert isinstance(nquads, bytes) and isinstance(trig, bytes)
    with ThreadPoolExecutor(max_workers=2) as pool:
        packed = list(pool.map(lambda data: gzip.compress(data, 6, mtime=0), (nquads, trig)))
    return {"nq": nquads, "nq.gz": packed[0], "trig": trig, "trig.gz": packed[1]}


@dataclass(frozen=True)
class Joined:
    """A published file that is ``parts`` one after the other: bytes, or files (chunks) whose
    bytes are copied by the kernel and hashed from a memory map, never read into a Python
    object (:class:`kg.publication.Assembled`)."""

    parts: tuple[bytes | Path, ...]

    def size(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else p.stat().st_size for p in self.parts)

    def sha256(self) -> str:
        return sha256_of(self.parts).hexdigest()

    def write(self, path: Path) -> None:
        with path.open("xb", buffering=0) as out:
            for part in self.parts:
                if isinstance(part, bytes):
                    _write_all(out, part)
                    continue
                with part.open("rb", buffering=0) as source:
                    _copy(source, out)


def sha256_of(parts: Sequence[bytes | Path]) -> hashlib._Hash:
    """The SHA-256 of ``parts`` one after the other, files hashed from a memory map (no copy
    of their bytes in memory)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            digest.update(part)
            continue
        with part.open("rb") as source:
            if os.fstat(source.fileno()).st_size:
                with mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    digest.update(mapped)
    return digest


def _write_all(out: io.FileIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[out.write(view) or 0 :]


#: copy_file_range cannot copy between these files (an old kernel, another file system).
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})


def _copy(source: io.FileIO, out: io.FileIO) -> None:
    """The rest of ``source`` appended to ``out``: in the kernel where it can (Linux), else
    read and written in blocks (``shutil``)."""
    size = os.fstat(source.fileno()).st_size
    kernel_copy = getattr(os, "copy_file_range", None)
    try:
        while size > 0 and kernel_copy is not None:
            copied = kernel_copy(source.fileno(), out.fileno(), size)
            if copied == 0:
                break
            size -= copied
    except OSError as error:
        if error.errno not in _NO_KERNEL_COPY:
            raise
    shutil.copyfileobj(source, out)  # what is left: nothing, once the kernel copied it all


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
