"""The one pipeline of ``kg build`` and ``kg validate``: load the content, build the graph,
validate it.

Both commands run exactly this, so they cannot disagree about what the content holds or what
the shapes find; they differ only in what they do with the outcome (publish it, or print it).
It sits above validation and below publication and the command line, and takes the settings
read once at start-up. :func:`run_pipeline` reads the shapes before the content: a broken
shapes folder fails the run at once, before any work (``kg build``: before anything is
published).

``kg build`` uses :func:`run_pipeline_with`, the same stages spread over the machine's cores
(two, measured): the pages (list macros, sanitising) and the files made from the corpus alone
(search index) are made in a forked child while this process builds the triples and writes the
dumps; validation (pySHACL, imported only there, the shapes read there too) runs in another
child while this process renders the publication (from the dumps on when the content is new, or
there is no cache: a result kept from before is then unlikely). A child's result is the record
the stage gives in process; a child that fails is redone here (same result, or the error with
its traceback). With the parse cache, a validation result is kept beside it, keyed by the
graph's N-Triples, the source map, the shapes, the ontology and the code: a rebuild of an
unchanged graph does not validate again. And what the build writes from the corpus alone (the
dumps and their gzipped copies, the source map, the pages, and ``early``'s files: the search
index, the ontology) is kept beside it too (:class:`Kept`), keyed by the corpus's digest
(:attr:`kg.corpus.Corpus.digest`: every file parsed, by path and text, and the glossary), the
ontology and the code: a rebuild of unchanged content builds the triples (the summary and the
validation key need them) but writes none of that again, and forks no child. Only the newest
is kept (it is about 16 MB for upstream's content).
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from kg.bounded import Forked, forked
from kg.built import Build, with_pages, with_written
from kg.config import Settings
from kg.corpus import Corpus, load_corpus
from kg.decision_graph import tree_sources, tree_triples
from kg.decision_tree import TREE_FILE, Loaded, load_tree
from kg.decision_walk import load_label_map
from kg.diagnostic import Diagnostic
from kg.graph import build_graph
from kg.pages import Pages, render_pages
from kg.parsecache import ParseCache, add_files, add_versions
from kg.resources import ontology_files, shape_files
from kg.sourcemap import SourceMap

if TYPE_CHECKING:
    from kg.validation import ValidationResult

R = TypeVar("R")
#: Files of the publication by name (made beside the pages: :func:`run_pipeline_with`).
Files = dict[str, bytes]
#: Libraries whose behaviour decides a validation's result (besides this package's source).
_VALIDATORS = ("pyshacl", "rdflib", "owlrl", "pyoxigraph")
#: Libraries whose behaviour decides the dumps and pages (besides the parse cache's).
_WRITERS = ("rdflib", "pyoxigraph")


@dataclass(frozen=True)
class Kept:
    """What a build wrote from its corpus alone, kept for the next build of the same corpus:
    the :class:`kg.graph.Build`'s written properties (by name), the pages, and the files
    ``early`` made (None: not kept, ``early`` is not a named function)."""

    dumps: tuple[bytes, bytes, bytes]
    gzipped: tuple[bytes, bytes, bytes]
    sourcemap_json: bytes
    fingerprint: tuple[str, str]
    pages: Pages
    made: Files | None


@dataclass(frozen=True)
class Outcome:
    """What one run found: the corpus, the graph, and the SHACL result (None: not validated)."""

    corpus: Corpus
    build: Build
    shacl: ValidationResult | None
    #: The AI-Act decision tree (``--beslishulp``), in the graph too; None: not asked for.
    beslishulp: Loaded | None = None

    @property
    def problems(self) -> tuple[Diagnostic, ...]:
        """The content problems the loader and the builder reported."""
        return (*self.corpus.diagnostics, *self.build.diagnostics)

    @property
    def findings(self) -> tuple[Diagnostic, ...]:
        """The SHACL findings (none when not validated)."""
        return self.shacl.findings if self.shacl is not None else ()


def run_pipeline(settings: Settings, pages: bool = True) -> Outcome:
    """Load ``settings.content``, build its graph and, if ``settings.validate``, validate it
    against ``settings.shapes`` (None: the package's shapes). Without ``pages``, the triples
    alone (no HTML pages, no glossary marks in them: an older release of a history)."""
    if not settings.validate:
        corpus, build, tree = _load(settings, pages)
        return Outcome(corpus, build, None, tree)
    from kg.validation import load_shapes, validate  # pySHACL is a heavy import: only when used

    shapes = load_shapes(settings.shapes)
    corpus, build, tree = _load(settings, pages)
    return Outcome(corpus, build, validate(build.graph, build.sourcemap, shapes), tree)


def run_pipeline_with(
    settings: Settings,
    alongside: Callable[[Corpus, Build, Files], R],
    early: Callable[[Corpus], Files] = lambda corpus: {},
) -> tuple[Outcome, R]:
    """:func:`run_pipeline`, and ``alongside(corpus, build, early(corpus))`` (rendering the
    publication): the pages and ``early`` (files made from the corpus alone) are made in a
    forked child while this process builds the triples and writes the dumps, and the graph
    is validated (if ``settings.validate``) in another while ``alongside`` runs; with
    ``settings.cache``, a validation of the same graph, source map, shapes and code is taken
    from there, and what was written from an unchanged corpus (:class:`Kept`) too."""
    corpus = load_corpus(settings.content, cache=settings.cache)
    named = _name(early)
    keeping, kept_key = _kept_cache(settings, corpus, named or "")
    found = keeping.get(kept_key) if keeping is not None else None
    kept = found if isinstance(found, Kept) else None

    def corpus_work() -> tuple[Pages, Files]:
        if kept is None:
            return render_pages(corpus), early(corpus)
        return ({}, ()), early(corpus)  # the pages are kept: the child sends the files alone

    with ExitStack() as children:
        making_pages = None
        if kept is None or kept.made is None:
            making_pages = children.enter_context(forked(corpus_work))
        build, tree = _with_tree(build_graph(corpus, pages=False), corpus, settings)
        if kept is not None:
            build = with_written(build, vars(kept))
        validating, valid, cache, key = _write_and_validate(settings, build, kept, children)
        sent = making_pages.result() if making_pages is not None else None
        pages, made = _kept_work(kept) or sent or corpus_work()
        pages = pages if kept is None else kept.pages
        build = with_pages(build, pages)
        rendered = alongside(corpus, build, made)
        if keeping is not None and (kept is None or (kept.made is None and named)):
            # written while the graph is validated (when it is)
            written = (build.dumps, build.gzipped, build.sourcemap_json, build.fingerprint)
            keeping.put_only(kept_key, Kept(*written, pages, made if named else None))
        shacl = validating.result() if validating is not None else valid
    # the child failed: validate here, for the same result or the error with its traceback
    if settings.validate and shacl is None:
        shacl = _validated(build, settings.shapes)
    if cache is not None and valid is None and shacl is not None:
        cache.put(key, shacl)
    return Outcome(corpus, build, shacl, tree), rendered


def _write_and_validate(
    settings: Settings, build: Build, kept: Kept | None, children: ExitStack
) -> tuple[Forked[ValidationResult] | None, ValidationResult | None, ParseCache | None, str]:
    """The dumps and the source map written here (while the pages are made), and the graph
    validated beside them in a child (of ``children``) unless ``settings`` say not to: the
    child that validates, or the result kept from before, and the cache and key of that."""
    validate = partial(_validated, build, settings.shapes)
    validating = None
    if settings.validate and (settings.cache is None or kept is None):
        # no result to look for, or new content (most likely a new graph): validated at once,
        # beside the dumps (the key of a kept result needs them)
        validating = children.enter_context(forked(validate))
    _ = build.dumps, build.sourcemap_json
    cache, key = _validation_cache(settings, build)
    valid = cast("ValidationResult | None", cache.get(key) if cache is not None else None)
    if valid is not None and validating is not None:  # this graph was validated before
        validating.cancel()
        validating = None
    if settings.validate and valid is None and validating is None:
        validating = children.enter_context(forked(validate))
    return validating, valid, cache, key


def _kept_work(kept: Kept | None) -> tuple[Pages, Files] | None:
    """The pages and ``early``'s files as kept, when both are."""
    return (kept.pages, kept.made) if kept is not None and kept.made is not None else None


def _name(early: Callable[[Corpus], Files]) -> str | None:
    """``early``'s module and name, when it is a function that has one (what it makes is then
    kept under it); None for a lambda, a nested function or a ``partial``."""
    module, name = getattr(early, "__module__", None), getattr(early, "__qualname__", "")
    if not module or not name or "<" in name:
        return None
    return f"{module}.{name}"


def _kept_cache(settings: Settings, corpus: Corpus, early: str) -> tuple[ParseCache | None, str]:
    """The cache of what builds wrote from their corpus (``kept/`` beside the parse cache),
    and this corpus's key in it (with the name of what makes ``early``'s files). None: no
    cache, or a decision tree is added (its files are read apart from the corpus's)."""
    if settings.cache is None or settings.beslishulp is not None or not corpus.digest:
        return None, ""
    digest = hashlib.sha256()
    try:  # the ontology is package data, not code: it is published (``early``'s files)
        add_files(digest, ontology_files())
    except OSError:
        return None, ""
    add_versions(digest, _WRITERS)
    # and what writes the search index, the gzipped dumps and the JSON
    libraries = (sqlite3.sqlite_version, zlib.ZLIB_RUNTIME_VERSION, sys.version)
    digest.update("\0".join(libraries).encode())
    cache = ParseCache.open(settings.cache / "kept", digest.hexdigest())
    return (cache, cache.key("corpus", corpus.digest, early)) if cache is not None else (None, "")


def _validated(build: Build, shapes: Path | None) -> ValidationResult:
    from kg.validation import load_shapes, validate  # pySHACL: a third of a second to import

    return validate(build.graph, build.sourcemap, load_shapes(shapes))


def _validation_cache(settings: Settings, build: Build) -> tuple[ParseCache | None, str]:
    """The cache of validation results beside the parse cache (``validation/``), and the key
    of this build's: its N-Triples and source map (findings are located through it) under
    what else decides the result (:func:`validation_inputs`). None: no cache."""
    wanted = settings.validate and settings.cache is not None
    inputs = validation_inputs(settings.shapes) if wanted else None
    if settings.cache is None or inputs is None:
        return None, ""
    cache = ParseCache.open(settings.cache / "validation", inputs)
    if cache is None:
        return None, ""
    return cache, cache.key("graph", *build.fingerprint)


def validation_inputs(folder: Path | None = None) -> str | None:
    """A digest of what a validation's result depends on besides the graph, its source map
    and this package's source: the shapes of ``folder`` (None: the package's) and the ontology,
    by name and bytes, and the versions of the libraries that validate. None when a file
    cannot be read (validating then says why)."""
    try:
        files = sorted(folder.glob("*.ttl")) if folder is not None else list(shape_files())
        digest = hashlib.sha256()
        add_files(digest, [*files, *ontology_files()])
    except OSError:
        return None
    add_versions(digest, _VALIDATORS)
    return digest.hexdigest()


def _load(settings: Settings, pages: bool) -> tuple[Corpus, Build, Loaded | None]:
    corpus = load_corpus(settings.content, cache=settings.cache, abbreviations=pages)
    build, tree = _with_tree(build_graph(corpus, pages), corpus, settings)
    return corpus, build, tree


def _with_tree(build: Build, corpus: Corpus, settings: Settings) -> tuple[Build, Loaded | None]:
    """The build with the decision tree of ``settings.beslishulp`` added (its problems among
    the build's), or as it is when none is asked for."""
    if settings.beslishulp is None:
        return build, None
    loaded = load_tree(settings.beslishulp)
    diagnostics = (*build.diagnostics, *loaded.diagnostics)
    if loaded.tree is None:
        return replace(build, diagnostics=diagnostics), loaded
    glossary = {term.term.strip().lower(): term.urn for term in corpus.terms}
    triples = build.triples | tree_triples(loaded.tree, load_label_map(), glossary)
    located = tree_sources(loaded.tree, str(settings.beslishulp / TREE_FILE))
    sourcemap = SourceMap({**build.sourcemap.resources, **located}, build.sourcemap.facts)
    return replace(build, triples=triples, diagnostics=diagnostics, sourcemap=sourcemap), loaded
