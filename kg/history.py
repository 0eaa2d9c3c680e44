"""Every release of the content as its own named graph: ``kg build --git REPO``.

Researchers ask how the framework evolved and cite the release they used; consumers pin one.
So the repository is mirrored into the build cache (``<out>.cache/history/repo.git``, fetched
again on each build), and every tag matching ``--refs`` (default ``v*``, case ignored) and the
branch head is built by the one pipeline (:func:`kg.pipeline.run_pipeline`) from its tree
(checked out by git: :func:`check_out`). A commit's build is kept in the cache under the commit
and the code's fingerprint, so a release built before is reused (its graph is not read: only
its record and the names of its chunks, :mod:`kg.chunks`), and the parse cache shares the
documents releases have in common. Releases are built side by side in forked children
(:func:`kg.bounded.map_bounded`), each commit once however many tags name it. A new commit
waits for the newest release's build alone: its tree is written over the last one's, its files
are rendered while its chunk is written (read back from its N-Triples dump, already in line
order), ``git log`` reads the files' dates meanwhile, the Markdown extensions are imported
while the cache is read (once, for every child), and the ontology file is kept in the store.

The publication is the newest release's, as ``kg build`` writes it (``graph.ttl`` …), plus
``releases.trig`` / ``releases.nq``: each release in its named graph
(``urn:nl:ak:release:<tag>``), their DCAT/PROV description, lineage and presence per resource
(:mod:`kg.lineage`), and the newest release again as the default graph.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import shutil
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import RDF

from kg import __version__
from kg.bounded import Failed, forked, map_bounded
from kg.built import Build, Triple
from kg.chunks import Chunks, keep_bytes
from kg.config import Settings, build_cache
from kg.corpus import Corpus
from kg.diagnostic import Diagnostic
from kg.gitrepo import HistoryError, check_out, file_dates, git_started, list_releases, mirror
from kg.lineage import DocumentRecord, Release
from kg.manifest import Manifest
from kg.parsecache import add_files, code_fingerprint
from kg.pipeline import run_pipeline, run_pipeline_with
from kg.publication import corpus_files, describe, exclusive, render_files, render_ontology
from kg.render import heading_engine, markdown_engine
from kg.resources import ontology_files

#: Seconds one release may take to build (the real content takes 2-3 s).
RELEASE_SECONDS = 600.0
#: The name of a child's checked-out tree in the release store (the child's pid follows).
_TREES = ".tree-"
#: The checked-out tree of the newest release, kept from one build to the next (a new commit
#: is written over the last one's: its changed files only).
_NEWEST_TREE = "newest-tree"


@dataclass(frozen=True)
class ReleaseBuild:
    """What the history keeps of one commit's build (its graph is kept serialised, per tag:
    :class:`Chunks`)."""

    commit: str
    triples: int
    documents: tuple[DocumentRecord, ...]
    #: Documents per kind.
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Newest:
    """The newest release, built in full and rendered for the publication in its child (so a
    rebuild with nothing new renders nothing, and no graph comes back to the parent)."""

    #: Every file of its publication (:func:`kg.publication.render_files`, the validation
    #: report's files with them) but the manifest, the checksums and the dataset files.
    files: Mapping[str, bytes]
    #: Its manifest, but the files (:func:`kg.publication.describe`).
    described: Manifest
    #: SHACL findings per severity (None: not validated).
    validation: Mapping[str, int] | None
    #: The content problems of the loader and the builder.
    problems: tuple[Diagnostic, ...]
    #: The vereisten and maatregelen its documents refer to but no document has, sorted.
    dangling: tuple[str, ...]


@dataclass(frozen=True)
class History:
    repository: str
    git_dir: Path
    #: Every release, oldest first, the branch head last.
    releases: tuple[Release, ...]
    builds: Mapping[str, ReleaseBuild]
    newest: Newest
    #: Commits built by this run (the others came from the cache).
    built: tuple[str, ...]
    chunks: Chunks
    #: Path -> the dates of the commits that changed it (newest first), from ``git log`` of
    #: the newest release.
    file_dates: Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class _Job:
    commit: str
    #: The graphs (release URNs) this commit's triples go into.
    graphs: tuple[str, ...]
    full: bool


def history_cache(settings: Settings) -> Path:
    """Where the mirror and the release builds are kept: ``<out>.cache/history``."""
    folder = build_cache(replace(settings, use_cache=True))
    assert folder is not None
    return folder / "history"


def cache_key() -> str:
    """Release builds are reused only by the same code (version and source fingerprint)."""
    return f"{__version__}-{code_fingerprint()[:16]}"


def build_history(settings: Settings, repository: str, pattern: str) -> History:
    """Fetch ``repository`` and build each release, reusing the cached builds."""
    cache = history_cache(settings)
    with exclusive(cache / "lock"):  # two builds into one folder take turns
        return _build_history(settings, repository, pattern, cache)


def _build_history(settings: Settings, repository: str, pattern: str, cache: Path) -> History:
    git_dir = mirror(repository, cache)
    releases = list_releases(git_dir, pattern)
    store = cache / "builds" / cache_key()
    store.mkdir(parents=True, exist_ok=True)
    chunks = Chunks(store / "chunks")
    graphs: dict[str, list[str]] = {}
    for release in releases:
        graphs.setdefault(release.commit, []).append(str(release.urn))
    newest = releases[-1].commit
    # A newest release not built before is parsed: the renderers are imported meanwhile.
    with _renderers_imported(not _newest_file(store, newest, settings).is_file()):
        builds, todo = _planned(settings, store, chunks, graphs, newest)
        ontology = kept_ontology(store) if any(job.full for job in todo) else None
        work = _Worker(settings, git_dir, store, chunks, ontology)
        _remove_trees(store)  # a killed build's
        # The files' dates, read by git while the releases build.
        log = git_started(git_dir, "log", "--format=%x00%cI", "--name-only", newest, "--", "docs")
    results = map_bounded(work, todo, RELEASE_SECONDS)
    _remove_trees(store)
    dates = file_dates(log())
    for job, result in zip(todo, results, strict=True):
        if isinstance(result, Failed):
            raise HistoryError(f"commit {job.commit[:12]} could not be built: {result.reason}")
        builds[job.commit] = result
    last = _load(_newest_file(store, newest, settings))
    if not isinstance(last, Newest):
        raise HistoryError(f"the build of {newest[:12]} was not kept in {store}")
    built = tuple(job.commit for job in todo)
    return History(repository, git_dir, releases, builds, last, built, chunks, dates)


def _planned(
    settings: Settings, store: Path, chunks: Chunks, graphs: Mapping[str, list[str]], newest: str
) -> tuple[dict[str, ReleaseBuild], list[_Job]]:
    """The commits' builds the cache has, and the jobs of the others: each child works
    through a run of consecutive releases, so that a release finds the files it shares with
    the one before parsed (the parse cache); the newest, built in full, goes first, with the
    oldest (smallest) releases."""
    builds: dict[str, ReleaseBuild] = {}
    todo = []
    for commit, names in graphs.items():
        full = _newest_file(store, commit, settings) if commit == newest else None
        found = _cached(store, chunks, commit, names, full)
        if found is None:
            todo.append(_Job(commit, tuple(names), commit == newest))
        else:
            builds[commit] = found
    return builds, sorted(todo, key=lambda job: not job.full)


def _newest_file(store: Path, commit: str, settings: Settings) -> Path:
    """Where the commit's build as the newest release is kept: validated or not, apart."""
    return store / f"{commit}.newest{'.validated' if settings.validate else ''}.pickle"


def _cached(
    store: Path, chunks: Chunks, commit: str, graphs: Sequence[str], full: Path | None
) -> ReleaseBuild | None:
    """The commit's build from the cache, when everything a publication needs of it is there
    (``full``: its build as the newest release too)."""
    found = _load(store / f"{commit}.pickle")
    if not isinstance(found, ReleaseBuild):
        return None
    if not chunks.complete(commit, graphs):
        return None
    if full is not None and not full.is_file():
        return None
    return found


@dataclass(frozen=True)
class _Worker:
    """Builds one commit in a forked child, keeping the result in the cache."""

    settings: Settings
    git_dir: Path
    store: Path
    chunks: Chunks
    #: The publication's ontology file (:func:`kept_ontology`; None: made in the build).
    ontology: bytes | None = None

    def __call__(self, job: _Job) -> ReleaseBuild:
        # The newest release is built first in its child, once, and what it makes lives until
        # it is sent: no collector passes over it (kg.cli's collector_paused; they cost a
        # tenth of its build). Older releases follow one another in a child: with the
        # collector, so that what one leaves is freed.
        if job.full:
            gc.disable()
        else:
            gc.enable()
        # One folder per child (a forked process works through its run of releases).
        folder = _NEWEST_TREE if job.full else f"{_TREES}{os.getpid()}"
        root = check_out(self.git_dir, job.commit, self.store / folder)
        chosen = replace(
            self.settings,
            content=root,
            validate=self.settings.validate and job.full,
            cache=build_cache(replace(self.settings, use_cache=True)),
        )
        # Older releases are published as graphs alone: no pages, no glossary marks. The
        # newest is built as ``kg build`` builds (its pages beside its triples, kg.pipeline),
        # and its files rendered while its chunk is written (:meth:`_render`).
        files: dict[str, bytes] = {}
        if job.full:
            early = partial(corpus_files, ontology=self.ontology)
            outcome, files = run_pipeline_with(chosen, partial(self._render, job), early)
        else:
            outcome = run_pipeline(chosen, pages=False)
        corpus = replace(outcome.corpus, root=self.git_dir, commit=job.commit)
        triples = outcome.build.triples
        record = ReleaseBuild(
            job.commit,
            len(triples),
            tuple(
                DocumentRecord(d.path, str(d.urn), d.kind_name, d.title()) for d in corpus.documents
            ),
            dict(sorted(Counter(d.kind_name for d in corpus.documents).items())),
        )
        if not job.full:
            self.chunks.write(job.commit, job.graphs, triples)
        else:
            shacl = outcome.shacl
            files.update(shacl.files() if shacl is not None else {})
            newest = Newest(
                files,
                describe(corpus, outcome.build),
                shacl.counts() if shacl is not None else None,
                outcome.problems,
                dangling_references(triples, {document.urn for document in record.documents}),
            )
            _keep(_newest_file(self.store, job.commit, self.settings), newest)
        _keep(self.store / f"{job.commit}.pickle", record)
        return record

    def _render(
        self, job: _Job, corpus: Corpus, build: Build, made: Mapping[str, bytes]
    ) -> dict[str, bytes]:
        """The newest release's publication files (``made``: those made from its corpus
        alone), rendered here while its chunk is written in a child: side by side on two
        cores (its build is what a new commit waits for)."""

        def write_chunk() -> bool:
            # The triples in N-Triples line order, read back from the N-Triples dump written
            # in that order (Oxigraph's parser: a tenth of converting and sorting them again).
            ordered = ox.parse(build.ntriples, format=ox.RdfFormat.N_TRIPLES)
            self.chunks.write_ordered(job.commit, job.graphs, list(ordered))
            return True

        with forked(write_chunk) as writing:
            files = render_files(corpus, build, made)
            if writing.result() is None:  # the child failed: here, for the chunk or the error
                write_chunk()
        return files


def dangling_references(triples: frozenset[Triple], known: set[str]) -> tuple[str, ...]:
    """The vereisten and maatregelen (no sections) the triples refer to that no document of
    ``known`` is and nothing is typed as."""
    rdf_type = {RDF.type}  # set lookups: a URIRef's == is slow, its hash is not
    typed = {str(s) for s, p, _ in triples if p in rdf_type}
    return tuple(
        sorted(
            {
                str(o)
                for _, p, o in triples
                if isinstance(o, URIRef)
                and str(o).startswith(("urn:nl:ak:ver:", "urn:nl:ak:mtr:"))
                and "#" not in o
                and str(o) not in known
                and str(o) not in typed
                and p not in rdf_type
            }
        )
    )


def kept_ontology(store: Path) -> bytes:
    """The publication's ontology file (:func:`kg.publication.render_ontology`), kept in the
    release store (this code's) under a digest of the ontology's files: it depends on nothing
    else, so a new commit's build does not make it again."""
    digest = hashlib.sha256()
    add_files(digest, ontology_files())
    kept = store / f"ontology-{digest.hexdigest()[:16]}.ttl"
    try:
        return kept.read_bytes()
    except OSError:
        made = render_ontology()
        keep_bytes(kept, made)
        return made


@contextmanager
def _renderers_imported(wanted: bool) -> Iterator[None]:
    """Python-Markdown's extensions (and Pygments), if ``wanted``, imported in a thread
    meanwhile: a fifteenth of a second, paid before the first parse of every process that
    parses, is paid here once, while this process reads the cache and starts git, and
    inherited by the forked children. The thread is joined before anything forks (a fork
    must not copy a lock it holds)."""
    if not wanted:
        yield
        return
    thread = threading.Thread(target=_import_renderers, name="import-renderers")
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _import_renderers() -> None:
    with suppress(Exception):  # a renderer that cannot be made fails the parse, which says why
        markdown_engine()
        heading_engine()


def _remove_trees(store: Path) -> None:
    for folder in store.glob(f"{_TREES}*"):
        shutil.rmtree(folder, ignore_errors=True)


def _load(path: Path) -> object | None:
    """A cached build (pickled by this package into the build's own cache), or None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        value: object = pickle.loads(data)
    except Exception:  # a torn or foreign entry is a miss
        return None
    return value


def _keep(path: Path, value: object) -> None:
    keep_bytes(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
