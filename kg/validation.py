"""SHACL validation of the graph, reported at the file and line each finding comes from.

One entry point, :func:`validate`: pySHACL checks the graph, united with the ontology (whose
concept schemes the tag shapes test values against), against the shapes (the package's
``shapes/*.ttl``, :mod:`kg.resources`); every result is mapped back through the source map and
returned as a sorted :class:`~kg.diagnostic.Diagnostic` (code: the rule), with the
``sh:ValidationReport`` graph and JSON. :func:`load_shapes` reads the shapes once, for callers
that validate more than once; no shapes, or a shapes or ontology file that cannot be read, is a
:class:`ShapesError`: a validation that checks nothing must never say "conforms".

Speed (``bench/validate.py``): pySHACL is imported by :func:`validate` alone (``kg build``
runs it in a forked child, :mod:`kg.pipeline`); the data graph is never copied (a copy of the
real corpus alone costs more than the whole validation); pySHACL runs in place on a read-only
union of the data, the ontology and one derived fact per identified document (see
``aksh:idAndFileName``).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF
from rdflib.store import Store
from rdflib.term import Node

from kg.diagnostic import Diagnostic, Severity, count_by_severity, format_diagnostics
from kg.namespace import AK, PREFIXES, SH, bind_prefixes
from kg.resources import ontology_files, shape_files
from kg.serialization import oxigraph_triples, read_turtle, sorted_triples, write_rdf
from kg.sourcemap import Location, SourceMap

SHAPE_NAMESPACE = "urn:nl:ak:shape:"
#: Derived during validation: "<id> <file name>" of each identified vereiste and maatregel.
ID_AND_FILE_NAME = URIRef(f"{SHAPE_NAMESPACE}idAndFileName")
#: Annotations of each report result: where the finding is in the content.
SOURCE_FILE = URIRef(f"{SHAPE_NAMESPACE}file")
SOURCE_LINE = URIRef(f"{SHAPE_NAMESPACE}line")
#: Shapes that test values against the ontology's schemes say so; without ontology they rest.
USES_ONTOLOGY = URIRef(f"{SHAPE_NAMESPACE}usesOntology")

# SHACL terms used per result, looked up once (a Namespace makes a new URIRef per access)
_FOCUS, _PATH, _VALUE, _SHAPE = SH.focusNode, SH.resultPath, SH.value, SH.sourceShape
_MESSAGE, _SEVERITY, _COMPONENT = SH.resultMessage, SH.resultSeverity, SH.sourceConstraintComponent
_INVERSE, _TARGET_OBJECTS = SH.inversePath, SH.targetObjectsOf
_SEVERITIES: Mapping[Node, Severity] = MappingProxyType(
    {SH.Violation: Severity.ERROR, SH.Warning: Severity.WARNING, SH.Info: Severity.INFO}
)
#: SHACL's names of the severities, used in ``validation.json`` (printed lines say ``error``).
SHACL_LABELS: Mapping[Severity, str] = MappingProxyType(
    {Severity.ERROR: "violation", Severity.WARNING: "warning", Severity.INFO: "info"}
)
_RESULT_PROPERTIES = frozenset({_FOCUS, _PATH, _VALUE, _SHAPE, _COMPONENT, _SEVERITY, _MESSAGE})
_NOWHERE = Location("<graph>", 0)
_TOO_FEW = frozenset({SH.MinCountConstraintComponent, SH.QualifiedMinCountConstraintComponent})


class ShapesError(Exception):
    """The shapes or the ontology cannot be used: none found, unreadable or malformed."""


@dataclass(frozen=True)
class Shapes:
    """The shapes graph and the ontology (None: validated without one), parsed once."""

    graph: Graph
    ontology: Graph | None


def load_shapes(folder: Path | None = None, ontology: Sequence[Path] | None = None) -> Shapes:
    """The shapes in ``folder`` (None: the package's) and the ``ontology`` files (None: the
    package's; empty: none, and the rules that test values against it rest)."""
    files = sorted(folder.glob("*.ttl")) if folder is not None else list(shape_files())
    graph = Graph()
    for file in files:
        graph += _read(file)
    if not any(graph.subjects(RDF.type, SH.NodeShape)) and not any(
        graph.subjects(RDF.type, SH.PropertyShape)
    ):
        raise ShapesError(f"no SHACL shapes in {folder if folder is not None else 'the package'}")
    paths = ontology_files() if ontology is None else tuple(ontology)
    if paths:
        merged = Graph(store="SimpleMemory")
        for path in paths:
            merged += _read(path)
        return Shapes(graph, merged)
    for shape in list(graph.subjects(USES_ONTOLOGY, Literal(True))):
        graph.add((shape, SH.deactivated, Literal(True)))
    return Shapes(graph, None)


def _read(path: Path) -> Graph:
    try:
        return read_turtle(path)
    except (OSError, SyntaxError) as error:
        raise ShapesError(f"{path}: {' '.join(str(error).split())}") from error


@dataclass(frozen=True)
class ValidationResult:
    #: No violation (warnings and infos do not break conformance).
    conforms: bool
    #: Sorted by file, line, severity; the code of each is its rule.
    findings: tuple[Diagnostic, ...]
    #: The ``sh:ValidationReport``: one result per finding, each with its file and line.
    report: Graph

    def lines(self) -> list[str]:
        return format_diagnostics(self.findings)

    def counts(self) -> dict[str, int]:
        """Findings per SHACL severity: ``violation``, ``warning``, ``info``."""
        counts = count_by_severity(self.findings)
        return {label: counts[severity] for severity, label in SHACL_LABELS.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "conforms": self.conforms,
            "counts": self.counts(),
            "findings": [_finding_json(finding) for finding in self.findings],
        }

    def files(self) -> dict[str, bytes]:
        """``validation.ttl`` (the report, sorted) and ``validation.json``, for the publication."""
        triples = oxigraph_triples(sorted_triples(self.report))
        return {
            "validation.ttl": write_rdf(triples, "turtle"),
            "validation.json": json.dumps(self.to_json(), ensure_ascii=False, indent=1).encode(),
        }


def validate(graph: Graph, sourcemap: SourceMap, shapes: Shapes | None = None) -> ValidationResult:
    """Validate ``graph`` against the shapes; locate every result through ``sourcemap``."""
    import pyshacl  # a third of a second to import (it loads rdflib's SPARQL): only here

    shapes = shapes if shapes is not None else load_shapes()
    parts = [graph, *([shapes.ontology] if shapes.ontology is not None else []), _derived(graph)]
    _, raw, _ = pyshacl.validate(
        _union(parts),
        shacl_graph=shapes.graph,
        inference="none",
        inplace=True,  # nothing is added to the data: no inference, no rules
        allow_warnings=True,
        allow_infos=True,
    )
    assert isinstance(raw, Graph)
    locator = _Locator(sourcemap)
    located = sorted(
        (finding, result)
        for result in raw.objects(None, SH.result)
        for finding in _findings(raw, result, shapes.graph, locator)
    )
    findings = tuple(finding for finding, _ in located)
    conforms = all(finding.severity < Severity.ERROR for finding in findings)
    return ValidationResult(conforms, findings, _report(raw, located, conforms))


def _finding_json(finding: Diagnostic) -> dict[str, Any]:
    """A finding as ``validation.json`` has it, in SHACL's words (severity, shape)."""
    return {
        "path": finding.path,
        "line": finding.line,
        "severity": SHACL_LABELS[finding.severity],
        "message": finding.message,
        "message_nl": finding.message_nl,
        "shape": finding.code,
        "focus": finding.focus,
        "property": finding.property,
        "value": finding.value,
    }


def _derived(graph: Graph) -> Graph:
    """For each vereiste and maatregel with an id: "<id> <file name>" (aksh:FilePrefix)."""
    derived = Graph(store="SimpleMemory")
    for document, identifier in graph.subject_objects(DCTERMS.identifier):
        kinds = set(graph.objects(document, RDF.type))
        if AK.Vereiste not in kinds and AK.Maatregel not in kinds:
            continue
        for file in graph.objects(document, AK.bronbestand):
            name = posixpath.basename(str(file))
            derived.add((document, ID_AND_FILE_NAME, Literal(f"{identifier} {name}")))
    return derived


def _findings(raw: Graph, result: Node, shapes: Graph, locator: _Locator) -> list[Diagnostic]:
    facts: dict[Node, Node] = {}
    messages: dict[str | None, str] = {}
    for p, o in raw.predicate_objects(result):
        if p == _MESSAGE and isinstance(o, Literal):
            messages[o.language] = str(o)
        else:
            facts[p] = o
    focus, path, value, shape = (facts.get(key) for key in (_FOCUS, _PATH, _VALUE, _SHAPE))
    severity = _SEVERITIES.get(facts.get(_SEVERITY, SH.Violation), Severity.ERROR)
    message = messages.get("en") or messages.get(None) or next(iter(messages.values()), "")
    # Shapes that target values (sh:targetObjectsOf) report the value at each use of it.
    uses = [p for p in shapes.objects(shape, _TARGET_OBJECTS) if isinstance(p, URIRef)]
    locations = locator.uses(focus, uses) if uses and focus is not None else []
    shown = focus if uses else value if value is not None and value != focus else None
    if shown is not None:
        detail = _show(shown)
        if facts.get(_COMPONENT) == SH.ClosedConstraintComponent and path is not None:
            detail = f"{_compact(path)} {detail}"  # the property is what is wrong
        message = f"{message.rstrip('.')}: {detail}"
    if not locations:
        inverse = raw.value(path, _INVERSE) if isinstance(path, BNode) else None
        # too few values: no fact to point at, only the document
        has_facts = facts.get(_COMPONENT) not in _TOO_FEW
        locations = [locator.locate(focus, path, value, inverse, has_facts)]
    return [
        Diagnostic(
            path=location.path,
            line=location.line,
            severity=severity,
            message=message,
            code=_local(shape),
            message_nl=messages.get("nl", ""),
            focus=str(focus) if focus is not None else "",
            property=_show_path(raw, path),
            value=_show(value) if value is not None else "",
        )
        for location in locations
    ]


class _Locator:
    """Source-map look-ups, most precise first: the fact; the first fact of the property; the
    resource; the first fact about it; the first fact pointing at it. Each index beyond exact
    facts is built on first need, in one pass over the facts."""

    def __init__(self, sourcemap: SourceMap) -> None:
        self.sourcemap = sourcemap
        self._indexes: dict[str, dict[object, Location]] = {}
        self._uses: dict[object, dict[object, list[Location]]] = {}

    def locate(
        self,
        focus: Node | None,
        path: Node | None,
        value: Node | None,
        inverse: Node | None,
        facts_known: bool = True,
    ) -> Location:
        if focus is None:
            return _NOWHERE
        if path == ID_AND_FILE_NAME:  # derived from the id: report the id
            path, value = DCTERMS.identifier, None
        facts: dict[Any, Location] = self.sourcemap.facts
        found: Location | None = None
        if isinstance(path, URIRef):
            found = facts.get((focus, path, value)) if value is not None else None
            if found is None and facts_known:
                found = self._index("first").get((focus, path))
        elif inverse is not None and value is not None:  # the fact is (value, property, focus)
            found = facts.get((value, inverse, focus))
        found = found or self.sourcemap.resources.get(str(focus))
        found = found or self._index("about").get(focus) or self._index("pointing").get(focus)
        return found or _NOWHERE

    def uses(self, value: Node, predicates: list[URIRef]) -> list[Location]:
        """Where the content uses ``value`` as the object of one of ``predicates``."""
        missing = {p for p in predicates if p not in self._uses}
        for predicate in missing:
            self._uses[predicate] = {}
        if missing:
            for (_, fact_predicate, o), location in self.sourcemap.facts.items():
                if fact_predicate in missing:
                    self._uses[fact_predicate].setdefault(o, []).append(location)
        return sorted({loc for p in predicates for loc in self._uses[p].get(value, [])})

    def _index(self, kind: str) -> dict[object, Location]:
        index = self._indexes.get(kind)
        if index is None:
            index = self._indexes[kind] = {}
            for (s, p, o), location in self.sourcemap.facts.items():
                key = (s, p) if kind == "first" else s if kind == "about" else o
                known = index.get(key)
                if known is None or location < known:
                    index[key] = location
        return index


def _report(raw: Graph, located: list[tuple[Diagnostic, Node]], conforms: bool) -> Graph:
    """The report, one result per finding, numbered in finding order (the same content gives
    the same bytes), each annotated with its file and line."""
    report = bind_prefixes(Graph(store="SimpleMemory"))
    report.bind("aksh", SHAPE_NAMESPACE)
    root = BNode("report")
    report.add((root, RDF.type, SH.ValidationReport))
    report.add((root, SH.conforms, Literal(conforms)))
    for number, (finding, result) in enumerate(located, start=1):
        node = BNode(f"r{number:05d}")
        report.add((root, SH.result, node))
        report.add((node, RDF.type, SH.ValidationResult))
        for p, o in raw.predicate_objects(result):
            if p in _RESULT_PROPERTIES:
                report.add(
                    (node, p, _copy(raw, o, report, f"{node}p") if isinstance(o, BNode) else o)
                )
        report.add((node, SOURCE_FILE, Literal(finding.path)))
        report.add((node, SOURCE_LINE, Literal(finding.line)))
    return report


def _copy(source: Graph, node: BNode, target: Graph, prefix: str) -> Node:
    """A copy of the blank-node structure under ``node`` (a property path), renamed."""
    copies: dict[Node, BNode] = {}

    def copy(original: Node) -> Node:
        if not isinstance(original, BNode):
            return original
        if original not in copies:
            copies[original] = BNode(f"{prefix}{len(copies)}")
            for p, o in sorted(source.predicate_objects(original)):
                target.add((copies[original], p, copy(o)))
        return copies[original]

    return copy(node)


def _local(node: Node | None) -> str:
    return "" if node is None else str(node).removeprefix(SHAPE_NAMESPACE)


def _compact(node: Node) -> str:
    text = str(node)
    for prefix, namespace in PREFIXES.items():
        if text.startswith(namespace):
            return f"{prefix}:{text.removeprefix(namespace)}"
    return text


def _show(node: Node) -> str:
    return repr(str(node)) if isinstance(node, Literal) else str(node)


def _show_path(report: Graph, path: Node | None) -> str:
    if isinstance(path, BNode):
        inverse = report.value(path, SH.inversePath)
        return f"^{inverse}" if inverse is not None else "(path)"
    return "" if path is None else str(path)


class _UnionStore(Store):
    """A read-only store over the stores of several graphs, the data first. Triples of the
    others that the data has too are skipped, so counts (sh:maxCount) see each once."""

    # pySHACL wraps every data graph in a Dataset, which asks for these (nothing else uses them)
    context_aware = True
    graph_aware = True

    def __init__(self, graphs: list[Graph]) -> None:
        super().__init__()
        data, *others = graphs
        self.data = data.store
        self.stores = [graph.store for graph in graphs]
        # the small graphs, with the predicates they hold (most patterns name another one)
        self.others = [(other.store, set(other.predicates(unique=True))) for other in others]
        self.shared = {triple for other in others for triple in other if triple in data}
        self.length: int | None = None

    def triples(
        self, pattern: tuple[Node | None, Node | None, Node | None], context: Graph | None = None
    ) -> Iterator[tuple[tuple[Node, Node, Node], Iterator[Graph | None]]]:
        yield from self.data.triples(pattern, None)
        predicate = pattern[1]
        for store, predicates in self.others:
            if predicate is not None and predicate not in predicates:
                continue
            for triple, contexts in store.triples(pattern, None):
                if triple not in self.shared:
                    yield triple, contexts

    def __len__(self, context: Graph | None = None) -> int:
        # pySHACL asks with every result (for truth); counted once, as no graph changes
        if self.length is None:
            self.length = sum(len(store) for store in self.stores) - len(self.shared)
        return self.length

    def contexts(self, triple: Any = None) -> Iterable[Graph]:  # type: ignore[override]
        return iter(())


def _union(graphs: list[Graph]) -> Graph:
    union = Graph(store=_UnionStore(graphs))
    union.namespace_manager = graphs[0].namespace_manager
    return union
