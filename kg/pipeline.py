"""The one pipeline of ``kg build`` and ``kg validate``: load the content, build the graph,
validate it.

Both commands run exactly this, so they cannot disagree about what the content holds or what
the shapes find; they differ only in what they do with the outcome (publish it, or print it).
It sits above validation and below publication and the command line, and takes the settings
read once at start-up. The shapes are read before the content: a broken shapes folder fails
the run at once, before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kg.config import Settings
from kg.corpus import Corpus, load_corpus
from kg.decision_graph import tree_sources, tree_triples
from kg.decision_tree import TREE_FILE, Loaded, load_tree
from kg.decision_walk import load_label_map
from kg.diagnostic import Diagnostic
from kg.graph import Build, build_graph
from kg.sourcemap import SourceMap

if TYPE_CHECKING:
    from kg.validation import ValidationResult


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
        corpus = load_corpus(settings.content, cache=settings.cache, abbreviations=pages)
        build, tree = _with_tree(build_graph(corpus, pages), corpus, settings)
        return Outcome(corpus, build, None, tree)
    from kg.validation import load_shapes, validate  # pySHACL is a heavy import: only when used

    shapes = load_shapes(settings.shapes)
    corpus = load_corpus(settings.content, cache=settings.cache, abbreviations=pages)
    build, tree = _with_tree(build_graph(corpus, pages), corpus, settings)
    return Outcome(corpus, build, validate(build.graph, build.sourcemap, shapes), tree)


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
