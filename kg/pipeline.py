"""The one pipeline of ``kg build`` and ``kg validate``: load the content, build the graph,
validate it.

Both commands run exactly this, so they cannot disagree about what the content holds or what
the shapes find; they differ only in what they do with the outcome (publish it, or print it).
It sits above validation and below publication and the command line, and takes the settings
read once at start-up. The shapes are read before the content: a broken shapes folder fails
the run at once, before any work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kg.config import Settings
from kg.corpus import Corpus, load_corpus
from kg.diagnostic import Diagnostic
from kg.graph import Build, build_graph

if TYPE_CHECKING:
    from kg.validation import ValidationResult


@dataclass(frozen=True)
class Outcome:
    """What one run found: the corpus, the graph, and the SHACL result (None: not validated)."""

    corpus: Corpus
    build: Build
    shacl: ValidationResult | None

    @property
    def problems(self) -> tuple[Diagnostic, ...]:
        """The content problems the loader and the builder reported."""
        return (*self.corpus.diagnostics, *self.build.diagnostics)

    @property
    def findings(self) -> tuple[Diagnostic, ...]:
        """The SHACL findings (none when not validated)."""
        return self.shacl.findings if self.shacl is not None else ()


def run_pipeline(settings: Settings) -> Outcome:
    """Load ``settings.content``, build its graph and, if ``settings.validate``, validate it
    against ``settings.shapes`` (None: the package's shapes)."""
    if not settings.validate:
        corpus = load_corpus(settings.content)
        return Outcome(corpus, build_graph(corpus), None)
    from kg.validation import load_shapes, validate  # pySHACL is a heavy import: only when used

    shapes = load_shapes(settings.shapes)
    corpus = load_corpus(settings.content)
    build = build_graph(corpus)
    return Outcome(corpus, build, validate(build.graph, build.sourcemap, shapes))
