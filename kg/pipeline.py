"""The one pipeline of ``kg build`` and ``kg validate``: load the content, build the graph,
validate it.

Both commands run exactly this, so they cannot disagree about what the content holds or what
the shapes find; they differ only in what they do with the outcome (publish it, or print it).
It sits above validation and below publication and the command line, and takes the settings
read once at start-up. :func:`run_pipeline` reads the shapes before the content: a broken
shapes folder fails the run at once, before any work (``kg build``: before anything is
published).

``kg build`` uses :func:`run_pipeline_with`, the same stages spread over the machine's cores
(two, measured): the pages (list macros, sanitising) and the files made from the corpus
alone (search index) are made in a forked child while this process builds the triples and
writes the dumps; validation (pySHACL, imported only there, the shapes read there too) runs
in another child while this process renders the publication. A child's result is the record
the stage gives in process; a child that fails is redone here (same result, or the error with
its traceback). With the parse cache, a validation result is kept beside it, keyed by the
graph's N-Triples, the source map, the shapes, the ontology and the code: a rebuild of an
unchanged graph does not validate again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from kg.bounded import forked
from kg.config import Settings
from kg.corpus import Corpus, load_corpus
from kg.decision_graph import tree_sources, tree_triples
from kg.decision_tree import TREE_FILE, Loaded, load_tree
from kg.decision_walk import load_label_map
from kg.diagnostic import Diagnostic
from kg.graph import Build, build_graph, with_pages
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
    from there."""
    corpus = load_corpus(settings.content, cache=settings.cache)

    def corpus_work() -> tuple[Pages, Files]:
        return render_pages(corpus), early(corpus)

    with ExitStack() as children:
        making_pages = children.enter_context(forked(corpus_work))
        build, tree = _with_tree(build_graph(corpus, pages=False), corpus, settings)
        _ = build.dumps, build.sourcemap_json  # written here while the pages are made
        cache, key = _validation_cache(settings, build)
        kept = cast("ValidationResult | None", cache.get(key) if cache is not None else None)
        validating = None
        if settings.validate and kept is None:
            validating = children.enter_context(forked(partial(_validated, build, settings.shapes)))
        pages, made = making_pages.result() or corpus_work()
        build = with_pages(build, pages)
        rendered = alongside(corpus, build, made)
        shacl = validating.result() if validating is not None else kept
    # the child failed: validate here, for the same result or the error with its traceback
    if settings.validate and shacl is None:
        shacl = _validated(build, settings.shapes)
    if cache is not None and kept is None and shacl is not None:
        cache.put(key, shacl)
    return Outcome(corpus, build, shacl, tree), rendered


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
    graph = hashlib.sha256(build.ntriples).hexdigest()
    located = hashlib.sha256(build.sourcemap_json).hexdigest()
    return cache, cache.key("graph", graph, located)


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
