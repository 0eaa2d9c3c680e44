"""Publications: the dumps and their metadata, published as immutable snapshots, swapped in at once.

``kg build --out dist`` writes every file into a fresh folder ``dist.snapshots/<snapshot>/``
(the id: the content's commit, else a digest of the checksums; ``-2``, ``-3``… if taken) and
only then points ``dist`` at it: a temporary symlink renamed over ``dist`` (``os.replace``, one
atomic step). A server that loaded a snapshot keeps reading that folder while a new one is
published; a build that fails, or is killed at any step, leaves ``dist`` pointing at the last
complete snapshot. Builds into the same ``dist`` take turns (an exclusive ``flock`` on
``dist.lock``), clean up what a killed build left, and prune old snapshots, keeping the
current one and :data:`KEEP_PREVIOUS` before it (requests in flight on them finish).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox

from kg import __version__
from kg.built import Build
from kg.corpus import Corpus
from kg.diagnostic import Severity, count_by_severity
from kg.manifest import (
    CHECKSUMS,
    CONTEXT,
    DIAGNOSTICS,
    GRAPH_JSONLD,
    GRAPH_NT,
    GRAPH_TTL,
    MANIFEST,
    ONTOLOGY,
    PAGES,
    SEARCH,
    SOURCEMAP,
    FileRecord,
    Manifest,
)
from kg.resources import ontology_files
from kg.search import search_index
from kg.serialization import (
    jsonld_context,
    oxigraph_triples,
    rdflib_triples,
    sorted_triples,
    write_rdf,
)


@dataclass(frozen=True)
class Publication:
    """What a build wrote: its folder and its manifest."""

    path: Path
    manifest: Manifest


#: Snapshots kept besides the one ``dist`` points at: requests in flight may still read them.
KEEP_PREVIOUS = 2
#: Name prefixes of what a build writes before it is complete (removed by the next build).
_STAGING = ".new-"
_LINK = ".link-"
_LEGACY = "legacy-"


#: Extra files a later stage adds to a publication (the validation report): name -> bytes.
ExtraFiles = dict[str, bytes]


def render_dumps(build: Build) -> dict[str, bytes]:
    turtle, ntriples, jsonld = build.dumps
    return {GRAPH_TTL.name: turtle, GRAPH_NT.name: ntriples, GRAPH_JSONLD.name: jsonld}


def render_ontology() -> bytes:
    """The ontology and the labels of the terms it uses, as one sorted Turtle file. Its blank
    nodes (``owl:unionOf`` lists) are named canonically (RDFC, by Oxigraph), so the same files
    give the same bytes."""
    dataset = ox.Dataset()
    for path in ontology_files():
        for triple in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE):
            dataset.add(ox.Quad(triple.subject, triple.predicate, triple.object))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    triples = sorted_triples(rdflib_triples(quad.triple for quad in dataset))
    return write_rdf(oxigraph_triples(triples), "turtle")


def write_publication(
    out: Path,
    corpus: Corpus,
    build: Build,
    extra: ExtraFiles | None = None,
    validation: Mapping[str, int] | None = None,
) -> Publication:
    """Write every file of the publication, then swap it in for ``out``."""
    files = render_files(corpus, build)
    files.update(extra or {})
    return publish_files(out, describe(corpus, build), files, validation)


def corpus_files(corpus: Corpus, ontology: bytes | None = None) -> dict[str, bytes]:
    """The files made from the corpus alone (the search index) and from the package (the
    ontology, unless made already: ``ontology``): ``kg build`` makes them beside the pages,
    in a child (:mod:`kg.pipeline`)."""
    made = render_ontology() if ontology is None else ontology
    return {ONTOLOGY.name: made, SEARCH.name: search_index(corpus)}


def render_files(
    corpus: Corpus, build: Build, made: Mapping[str, bytes] | None = None
) -> dict[str, bytes]:
    """Every file of the publication of ``build`` but the manifest and the checksums
    (``made``: :func:`corpus_files`, when they are made already)."""
    files: dict[str, bytes] = render_dumps(build)
    # render_dumps names them in the order of Build.dumps (and so of Build.gzipped)
    files.update({f"{name}.gz": data for name, data in zip(files, build.gzipped, strict=True)})
    files[CONTEXT.name] = json.dumps(jsonld_context(), indent=1).encode("utf-8")
    files[SOURCEMAP.name] = build.sourcemap_json
    diagnostics = sorted((*corpus.diagnostics, *build.diagnostics))
    files[DIAGNOSTICS.name] = _json([d.to_json() for d in diagnostics])
    files[PAGES.name] = _json(dict(sorted((str(urn), html) for urn, html in build.pages.items())))
    files.update(corpus_files(corpus) if made is None else made)
    return files


def describe(corpus: Corpus, build: Build) -> Manifest:
    """The manifest of a publication of ``build``, but its files and time (added on publishing)."""
    counts = count_by_severity((*corpus.diagnostics, *build.diagnostics))
    return Manifest(
        generator=f"algoritmekader-kg {__version__}",
        built_at="",
        content=str(corpus.root),
        commit=corpus.commit,
        triples=len(build),
        documents=dict(sorted(Counter(d.kind_name for d in corpus.documents).items())),
        glossary_terms=len(corpus.terms),
        rejected=corpus.rejected,
        diagnostics={severity.label: counts[severity] for severity in Severity},
    )


def publish_files(
    out: Path,
    described: Manifest,
    rendered: Mapping[str, bytes | Assembled],
    validation: Mapping[str, int] | None = None,
) -> Publication:
    """``rendered`` with its checksums and manifest (``described``, dated now), swapped in
    for ``out``."""
    files = dict(rendered)
    checksums = _checksums(files)
    files[CHECKSUMS.name] = "".join(
        f"{digest}  {name}\n" for name, digest in checksums.items()
    ).encode()
    manifest = replace(
        described,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        files={name: FileRecord(checksums[name], _size(files[name])) for name in checksums},
        validation=validation,
    )
    with exclusive(lock_path(out)):
        _clean_leftovers(out)
        base = _snapshot_base(manifest.commit, checksums)
        snapshot = _free_snapshot_id(snapshots_path(out), base)
        manifest = replace(manifest, snapshot=snapshot)
        files[MANIFEST.name] = manifest.dumps()
        _swap_in(out, snapshot, files)
        _prune(snapshots_path(out), snapshot)
    return Publication(out, manifest)


class Assembled(Protocol):
    """A file too large to be held in memory, written from its parts (the release history's
    dataset: :class:`kg.chunks.Joined`)."""

    def size(self) -> int: ...

    def sha256(self) -> str: ...

    def write(self, path: Path) -> None: ...


def _checksums(files: Mapping[str, bytes | Assembled]) -> dict[str, str]:
    """Every file's SHA-256 (hex), by name; side by side (hashlib lets go of the GIL)."""
    names = sorted(files)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(names, pool.map(lambda name: _sha256(files[name]), names), strict=True))


def _sha256(data: bytes | Assembled) -> str:
    return hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else data.sha256()


def _size(data: bytes | Assembled) -> int:
    return len(data) if isinstance(data, bytes) else data.size()


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def snapshots_path(out: Path) -> Path:
    """The folder of ``out``'s snapshots: ``dist`` -> ``dist.snapshots``."""
    out = _absolute(out)
    return out.with_name(f"{out.name}.snapshots")


def lock_path(out: Path) -> Path:
    out = _absolute(out)
    return out.with_name(f"{out.name}.lock")


def _absolute(out: Path) -> Path:
    """``out`` made absolute without following it (it is a symlink to a snapshot)."""
    return Path(os.path.abspath(out))


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock`` (waiting for it); the kernel drops it if the
    process dies."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _snapshot_base(commit: str | None, checksums: Mapping[str, str]) -> str:
    if commit:
        return commit[:12]
    listing = "".join(f"{digest}  {name}\n" for name, digest in sorted(checksums.items()))
    return "sha256-" + hashlib.sha256(listing.encode()).hexdigest()[:12]


def _free_snapshot_id(snapshots: Path, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``… when a snapshot of that name exists (only one build
    at a time gets here)."""
    candidate, number = base, 1
    while (snapshots / candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _clean_leftovers(out: Path) -> None:
    """Remove what a killed build left: staging folders and temporary links (none is in use:
    the caller holds the lock)."""
    out, snapshots = _absolute(out), snapshots_path(out)
    if snapshots.is_dir():
        for path in snapshots.glob(f"{_STAGING}*"):
            shutil.rmtree(path, ignore_errors=True)
    for path in out.parent.glob(f".{out.name}{_LINK}*"):
        path.unlink(missing_ok=True)
    for path in out.parent.glob(f".{out.name}-*-*"):  # staging of builds before snapshots
        shutil.rmtree(path, ignore_errors=True)


def _swap_in(out: Path, snapshot: str, files: Mapping[str, bytes | Assembled]) -> None:
    """Write ``files`` into ``dist.snapshots/<snapshot>``, then point ``out`` at it."""
    out, snapshots = _absolute(out), snapshots_path(out)
    folder = snapshots / snapshot
    snapshots.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=snapshots))
    try:
        for name, data in files.items():
            if isinstance(data, bytes):
                (staging / name).write_bytes(data)
            else:
                data.write(staging / name)
        os.chmod(staging, 0o755)
        os.rename(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    try:
        _point(out, folder)
    except BaseException:
        if os.path.realpath(out) != os.path.realpath(folder):  # not published: leave nothing
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _point(out: Path, folder: Path) -> None:
    """Make ``out`` a symlink to ``folder`` in one atomic step (a relative link, so the pair
    can be moved together)."""
    link = out.with_name(f".{out.name}{_LINK}{os.getpid()}")
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(folder, out.parent), link)
    if out.is_dir() and not out.is_symlink():
        _migrate(out, link, folder.parent)
    else:
        os.replace(link, out)


def _migrate(out: Path, link: Path, snapshots: Path) -> None:
    """``out`` is a real folder (a publication from before snapshots): exchange it with the
    link atomically (Linux ``renameat2``), then keep it as an old snapshot to be pruned.
    Without ``renameat2`` it takes two renames."""
    legacy = snapshots / f"{_LEGACY}{os.urandom(6).hex()}"
    if _exchange(link, out):
        os.rename(link, legacy)
        return
    os.rename(out, legacy)
    os.rename(link, out)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two names at once (``renameat2(RENAME_EXCHANGE)``); False where the system
    cannot."""
    at_fdcwd, rename_exchange = -100, 2
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange):
        code = ctypes.get_errno()
        if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            return False
        raise OSError(code, os.strerror(code), str(second))
    return True


def _prune(snapshots: Path, current: str) -> None:
    """Remove all but the current snapshot and the :data:`KEEP_PREVIOUS` newest others."""
    others = [
        path
        for path in snapshots.iterdir()
        if path.is_dir() and not path.name.startswith(".") and path.name != current
    ]
    others.sort(key=lambda path: (path.stat().st_mtime_ns, path.name), reverse=True)
    for path in others[KEEP_PREVIOUS:]:
        shutil.rmtree(path, ignore_errors=True)
