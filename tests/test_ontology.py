"""The ontology (ontology/algoritmekader.ttl) declares every term the graph builder emits, in
Dutch and English, and its tag vocabularies hold every value the content uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from kg.built import Build
from kg.corpus import Corpus, load_corpus
from kg.graph import GLOSSARY_SCHEME, _camel, build_graph
from kg.identifier import term_urn
from kg.kind import LEVENSCYCLUSFASE, ONDERWERP, ROL
from kg.namespace import AIACT, AK, CCCEV, DPV
from kg.vocabulary import (
    AUDIT_SCHEME_LABELS,
    RULES,
    SKIPPED_KEYS,
    TAG_VOCABULARIES,
    Shape,
    vocabulary_scheme,
)

REPO = Path(__file__).resolve().parents[1]
ONTOLOGY_FILE = REPO / "ontology" / "algoritmekader.ttl"
SAMPLE_CONTENT = REPO / "content"
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
REAL_CONTENT = SHARED_CORPUS / "algoritmekader"
BUNDLE = SHARED_CORPUS / "algoritmekader.bundle"

ONTOLOGY_IRI = URIRef(str(AK))
DECLARATION_TYPES = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)

#: Vocabularies of the applicability tables of early vereisten (``rekenregels: [{impactvol: Ja}]``).
APPLICABILITY_VOCABULARIES = ("algoritmesoort", "impactklasse")
ALL_VOCABULARIES = (*TAG_VOCABULARIES, *APPLICABILITY_VOCABULARIES)
#: Each predicate whose objects are concepts of a tag vocabulary, and that vocabulary.
VOCABULARY_OF: dict[URIRef, str] = {
    **{
        rule.predicate: rule.vocabulary
        for rule in RULES.values()
        if rule.shape is Shape.TAG and rule.target_kind is None
    },
    AK.algoritmesoort: "algoritmesoort",
    AK.impactklasse: "impactklasse",
}

#: Tag values of the latest upstream content that are knowingly not concepts of their scheme,
#: because upstream's own label checker rejects them (known upstream defects): none at present.
KNOWN_UPSTREAM_DEFECTS: dict[URIRef, str] = {}

#: Tag values seen somewhere in the upstream history that are left out of the vocabularies on
#: purpose (ontology/README.md says why). Upstream's script/validation/validate_all_labels.py
#: allows only ai-systeem, ai-systeem-voor-algemene-doeleinden and
#: ai-model-voor-algemene-doeleinden for soort-toepassing; release v2.1 alone also tagged
#: vereisten with these two, which upstream removed again in v2.1.1.
LEFT_OUT_OF_HISTORY: dict[URIRef, str] = {
    term_urn("soort-toepassing", "impactvol-algoritme"): "v2.1 only; rejected upstream",
    term_urn("soort-toepassing", "niet-impactvol-algoritme"): "v2.1 only; rejected upstream",
}

#: Alignments the ontology must keep: (subject, predicate, object).
ALIGNMENTS: tuple[tuple[URIRef, URIRef, URIRef], ...] = (
    (AK.Vereiste, RDFS.subClassOf, CCCEV.Requirement),
    (AK.Maatregel, RDFS.subClassOf, DPV.TechnicalOrganisationalMeasure),
    (AK.Onderwerp, RDFS.subClassOf, SKOS.Concept),
    (AK.Rol, RDFS.subClassOf, SKOS.Concept),
    (AK.Levenscyclusfase, RDFS.subClassOf, SKOS.Concept),
    (AK.Begrip, RDFS.subClassOf, SKOS.Concept),
    (AK.onderwerp, RDFS.subPropertyOf, DCTERMS.subject),
    (AK.toelichting, RDFS.subPropertyOf, DCTERMS.description),
    (AK.sectie, RDFS.subPropertyOf, DCTERMS.hasPart),
    (AK.bronbestand, RDFS.seeAlso, URIRef("http://www.w3.org/ns/prov#hadPrimarySource")),
    (term_urn("soort-toepassing", "ai-systeem"), SKOS.exactMatch, AIACT.AISystem),
    (
        term_urn("soort-toepassing", "ai-systeem-voor-algemene-doeleinden"),
        SKOS.exactMatch,
        AIACT.GPAISystem,
    ),
    (
        term_urn("soort-toepassing", "ai-model-voor-algemene-doeleinden"),
        SKOS.exactMatch,
        AIACT.GPAIModel,
    ),
    (term_urn("risicogroep", "hoog-risico-ai-systeem"), SKOS.exactMatch, AIACT.HighRiskAISystem),
    (term_urn("risicogroep", "verboden-ai"), SKOS.closeMatch, AIACT.ProhibitedAISystem),
    (term_urn("rol-ai-act", "aanbieder"), SKOS.exactMatch, AIACT.AIProvider),
    (term_urn("rol-ai-act", "gebruiksverantwoordelijke"), SKOS.exactMatch, AIACT.AIDeployer),
    (term_urn("rol-ai-act", "importeur"), SKOS.exactMatch, AIACT.AIImporter),
    (term_urn("rol-ai-act", "distributeur"), SKOS.exactMatch, AIACT.AIDistributor),
)


@dataclass(frozen=True)
class Built:
    corpus: Corpus
    graph: Graph


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return Graph().parse(ONTOLOGY_FILE, format="turtle")


def _build(root: Path) -> Built:
    corpus = load_corpus(root)
    return Built(corpus, build_graph(corpus).graph)


@pytest.fixture(scope="module")
def sample() -> Built:
    return _build(SAMPLE_CONTENT)


@pytest.fixture(scope="module")
def latest() -> Built:
    if not (REAL_CONTENT / "docs").is_dir():
        pytest.skip(f"no real corpus at {REAL_CONTENT}")
    return _build(REAL_CONTENT)


@pytest.fixture(params=["sample", pytest.param("latest", marks=pytest.mark.corpus)])
def one_build(request: pytest.FixtureRequest) -> Built:
    result: Built = request.getfixturevalue(request.param)
    return result


def _is_ak(node: Node) -> bool:
    return isinstance(node, URIRef) and str(node).startswith(str(AK)) and node != ONTOLOGY_IRI


def _declared(ontology: Graph) -> dict[URIRef, URIRef]:
    """Each ``ak:`` term the ontology declares, and how (class, object or datatype property)."""
    declared: dict[URIRef, URIRef] = {}
    for kind in DECLARATION_TYPES:
        for term in ontology.subjects(RDF.type, kind):
            if _is_ak(term):
                assert isinstance(term, URIRef)
                assert term not in declared, f"{term} is declared twice"
                declared[term] = kind
    return declared


def _unknown_key_predicates(corpus: Corpus) -> set[URIRef]:
    """Predicates the builder mints for front-matter keys it does not know (reported as
    'unknown-key' warnings): by definition not in the ontology."""
    return {
        AK[_camel(entry.key)]
        for document in corpus.documents
        for entry in document.matter.entries
        if entry.key not in RULES and entry.key not in SKIPPED_KEYS
    }


def _langs(graph: Graph, subject: Node, predicate: URIRef) -> list[str]:
    return sorted(
        (o.language or "" for o in graph.objects(subject, predicate) if isinstance(o, Literal)),
    )


def _concepts_of(ontology: Graph, vocabulary: str) -> set[Node]:
    return set(ontology.subjects(SKOS.inScheme, vocabulary_scheme(vocabulary)))


def _missing_values(ontology: Graph, graph: Graph) -> dict[URIRef, set[Node]]:
    """Per vocabulary predicate, the values the graph uses that are no concept of its scheme."""
    missing: dict[URIRef, set[Node]] = {}
    for predicate, vocabulary in VOCABULARY_OF.items():
        concepts = _concepts_of(ontology, vocabulary)
        unknown = set(graph.objects(None, predicate)) - concepts
        if unknown:
            missing[predicate] = unknown
    return missing


# -- the file ---------------------------------------------------------------------------------


def test_ontology_parses_and_has_a_header(ontology: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in ontology
    assert _langs(ontology, ONTOLOGY_IRI, DCTERMS.title) == ["en", "nl"]
    assert _langs(ontology, ONTOLOGY_IRI, DCTERMS.description) == ["en", "nl"]
    assert (ONTOLOGY_IRI, DCTERMS.license, URIRef("http://spdx.org/licenses/EUPL-1.2")) in ontology
    assert ontology.value(ONTOLOGY_IRI, OWL.versionInfo) is not None


def test_code_uses_only_declared_terms(ontology: Graph) -> None:
    """Every ``AK.name`` in the package and the server is declared, emitted or not."""
    used = {
        AK[name]
        for folder in ("kg", "server")
        for source in sorted((REPO / folder).glob("*.py"))
        for name in re.findall(r"\bAK\.([A-Za-z_]\w*)", source.read_text(encoding="utf-8"))
    }
    assert used, "found no AK terms in the code"
    assert sorted(used - _declared(ontology).keys()) == []


def test_every_term_has_labels_and_definitions(ontology: Graph) -> None:
    declared = _declared(ontology)
    assert len(declared) >= 40
    for term in declared:
        assert _langs(ontology, term, RDFS.label) == ["en", "nl"], term
        assert _langs(ontology, term, SKOS.definition) == ["en", "nl"], term
        assert (term, RDFS.isDefinedBy, ONTOLOGY_IRI) in ontology, term


def test_required_alignments(ontology: Graph) -> None:
    assert [triple for triple in ALIGNMENTS if triple not in ontology] == []


def test_no_concept_is_an_exact_match_of_two_external_iris(ontology: Graph) -> None:
    """skos:exactMatch is transitive and symmetric: in each group of exact matches (our own
    concepts included) there may be at most one IRI outside ``urn:nl:ak:``, or two external
    vocabularies would be declared identical through us."""
    parent: dict[Node, Node] = {}

    def root(node: Node) -> Node:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for subject, match in ontology.subject_objects(SKOS.exactMatch):
        parent[root(subject)] = root(match)
    groups: dict[Node, set[Node]] = {}
    for node in list(parent):
        groups.setdefault(root(node), set()).add(node)
    for members in groups.values():
        external = sorted(str(m) for m in members if not str(m).startswith("urn:nl:ak:"))
        assert len(external) <= 1, f"{sorted(map(str, members))}: exact match of {external}"


# -- the concept schemes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scheme",
    [
        *(vocabulary_scheme(vocabulary) for vocabulary in ALL_VOCABULARIES),
        ONDERWERP.scheme,
        ROL.scheme,
        LEVENSCYCLUSFASE.scheme,
        GLOSSARY_SCHEME,
        *(URIRef(f"urn:nl:ak:auditnorm:{code}") for code in AUDIT_SCHEME_LABELS),
    ],
    ids=str,
)
def test_scheme_is_declared_with_labels(ontology: Graph, scheme: URIRef) -> None:
    assert (scheme, RDF.type, SKOS.ConceptScheme) in ontology
    assert _langs(ontology, scheme, SKOS.prefLabel) == ["en", "nl"]
    assert _langs(ontology, scheme, SKOS.definition) == ["en", "nl"]


def test_audit_scheme_labels_match_the_builder(ontology: Graph) -> None:
    for code, (dutch, english) in AUDIT_SCHEME_LABELS.items():
        scheme = URIRef(f"urn:nl:ak:auditnorm:{code}")
        assert set(ontology.objects(scheme, SKOS.prefLabel)) == {
            Literal(dutch, lang="nl"),
            Literal(english, lang="en"),
        }


def test_content_schemes_list_no_concepts(ontology: Graph) -> None:
    """Topics, roles, phases, glossary terms and audit codes come from the content."""
    for scheme in (ONDERWERP.scheme, ROL.scheme, LEVENSCYCLUSFASE.scheme, GLOSSARY_SCHEME):
        assert list(ontology.subjects(SKOS.inScheme, scheme)) == [], scheme
        assert list(ontology.objects(scheme, SKOS.hasTopConcept)) == [], scheme


@pytest.mark.parametrize("vocabulary", ALL_VOCABULARIES)
def test_vocabulary_concepts_are_well_formed(ontology: Graph, vocabulary: str) -> None:
    scheme = vocabulary_scheme(vocabulary)
    concepts = _concepts_of(ontology, vocabulary)
    assert concepts, f"{scheme} has no concepts"
    assert set(ontology.objects(scheme, SKOS.hasTopConcept)) == concepts
    for concept in concepts:
        assert (concept, RDF.type, SKOS.Concept) in ontology, concept
        assert (concept, SKOS.topConceptOf, scheme) in ontology, concept
        assert _langs(ontology, concept, SKOS.prefLabel) == ["en", "nl"], concept
        assert _langs(ontology, concept, SKOS.definition) == ["en", "nl"], concept
        notation = ontology.value(concept, SKOS.notation)
        assert notation is not None, concept
        assert term_urn(vocabulary, str(notation)) == concept, concept


# -- the graphs ---------------------------------------------------------------------------------


def test_graph_uses_only_declared_terms(ontology: Graph, one_build: Built) -> None:
    declared = _declared(ontology)
    unknown_keys = _unknown_key_predicates(one_build.corpus)
    undeclared: set[Node] = set()
    wrongly_declared: set[tuple[Node, str]] = set()
    for s, p, o in one_build.graph:
        for node in (s, o):
            if _is_ak(node) and node not in declared:
                undeclared.add(node)
        if p in unknown_keys:
            continue
        if p == RDF.type and isinstance(o, URIRef) and declared.get(o, OWL.Class) != OWL.Class:
            wrongly_declared.add((o, "used as a class"))
        if not _is_ak(p):
            continue
        if p not in declared:
            undeclared.add(p)
            continue
        expected = OWL.DatatypeProperty if isinstance(o, Literal) else OWL.ObjectProperty
        if declared[p] != expected:
            wrongly_declared.add((p, f"has a {type(o).__name__} object"))
    assert sorted(map(str, undeclared)) == []
    assert sorted(wrongly_declared) == []


def test_sample_tag_values_are_concepts(ontology: Graph, sample: Built) -> None:
    assert _missing_values(ontology, sample.graph) == {}


@pytest.mark.corpus
def test_latest_tag_values_are_concepts(ontology: Graph, latest: Built) -> None:
    missing = {
        predicate: values - KNOWN_UPSTREAM_DEFECTS.keys()
        for predicate, values in _missing_values(ontology, latest.graph).items()
    }
    assert {p: v for p, v in missing.items() if v} == {}
    # The tag properties the latest content uses at all, so that the check above is not empty.
    assert {p for p in VOCABULARY_OF if (None, p, None) in latest.graph} >= {
        AK.categorie,
        AK.soortToepassing,
        AK.risicogroep,
        AK.rolAiAct,
        AK.statusVereiste,
    }


@pytest.mark.corpus
@pytest.mark.slow
def test_every_release_uses_only_known_values(
    ontology: Graph, built: dict[str, tuple[Corpus, Build]]
) -> None:
    """Across all releases, the only tag values outside the vocabularies are the ones left out
    on purpose, and each of those really occurs (so the README's list stays true)."""
    assert len(built) >= 29
    seen_outside: dict[Node, set[str]] = {}
    for tag, (_, build) in built.items():
        for values in _missing_values(ontology, build.graph).values():
            for value in values:
                seen_outside.setdefault(value, set()).add(tag)
    assert sorted(map(str, seen_outside)) == sorted(map(str, LEFT_OUT_OF_HISTORY))
