"""The AI-Act decision tree as RDF: questions, answers, labels, redirects, conclusions.

``kg build --beslishulp DIR`` adds these triples to the graph, so the decision aid can be asked
with SPARQL as the vereisten can ("which answers give the label hoog-risico AI", "which
conclusions can a distributeur reach"). Resources (terms in ``ontology/algoritmekader.ttl``):

* the tree ``urn:nl:ak:beslishulp:ai-verordening`` (``ak:Beslishulp``) with its ``ak:vraag``s
  and ``ak:conclusie``s;
* a question ``urn:nl:ak:beslishulp:vraag-<id>`` (``ak:Vraag``: ``dcterms:identifier``, title,
  description, ``dcterms:source`` links), its answers ``<question>#antwoord-<n>``
  (``ak:Antwoord``: ``ak:label``, ``ak:volgendeVraag`` / ``ak:conclusie`` or
  ``ak:doorverwijzing``s ``<answer>-doorverwijzing-<n>`` in order (``ak:volgnummer``), each with
  its condition as written (``ak:conditie``) and parsed (``ak:als``: ak:En / ak:Of / ak:Niet
  over labels, as the exceptions of vereisten));
* a label ``urn:nl:ak:beslishulp-label:<slug>`` (``ak:BeslishulpLabel``), ``skos:exactMatch``
  the tag value of the vereisten it stands for (``ontology/beslishulp-labels.yaml``);
* a conclusion ``urn:nl:ak:beslishulp:conclusie-<id>`` (``ak:Conclusie``, ``ak:verplichting``);
* a definition of the tree's glossary ``urn:nl:ak:beslishulp-begrip:<slug>`` (a
  ``skos:Concept``), ``skos:exactMatch`` the Algoritmekader's own glossary term of the same
  name where there is one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, SKOS, XSD
from rdflib.term import Node

from kg.decision_conditions import All, Any, Condition, Has, Not
from kg.decision_tree import Answer, DecisionTree, Question, Source
from kg.decision_walk import LabelMap
from kg.identifier import safe_iri, term_urn
from kg.namespace import AK
from kg.sourcemap import Location

#: A triple whose subject and predicate are IRIs.
Fact = tuple[URIRef, URIRef, Node]

TREE = term_urn("beslishulp", "ai-verordening")
DEFINITIONS = term_urn("beslishulp", "begrippen")


def question_urn(question_id: str) -> URIRef:
    return term_urn("beslishulp", f"vraag-{question_id}")


def conclusion_urn(conclusion_id: str) -> URIRef:
    return term_urn("beslishulp", f"conclusie-{conclusion_id}")


def label_urn(label: str) -> URIRef:
    return term_urn("beslishulp-label", label)


def tree_triples(
    tree: DecisionTree, label_map: LabelMap, glossary: Mapping[str, URIRef]
) -> frozenset[Fact]:
    """The tree's triples; ``glossary``: lower-case term -> the Algoritmekader's Begrip URN."""
    facts: list[Fact] = [
        (TREE, RDF.type, AK.Beslishulp),
        (TREE, DCTERMS.title, Literal(tree.name, lang="nl")),
        (TREE, DCTERMS.hasVersion, Literal(tree.version)),
    ]
    for question in tree.questions:
        facts.append((TREE, AK.vraag, question_urn(question.id)))
        facts.extend(_question(question))
    for conclusion in tree.conclusions:
        node = conclusion_urn(conclusion.id)
        facts += [
            (TREE, AK.conclusie, node),
            (node, RDF.type, AK.Conclusie),
            (node, DCTERMS.identifier, Literal(conclusion.id)),
            (node, DCTERMS.title, Literal(conclusion.text.strip(), lang="nl")),
            (node, AK.verplichting, Literal(conclusion.obligation.strip(), lang="nl")),
        ]
        facts.extend(_sources(node, conclusion.sources))
    facts.extend(_labels(tree.labels(), label_map))
    facts.extend(_definitions(tree, glossary))
    return frozenset(facts)


def tree_sources(tree: DecisionTree, path: str) -> dict[str, Location]:
    """Resource IRI -> its line in the tree's file (``path``), for the source map."""
    found: dict[str, Location] = {}
    for question in tree.questions:
        node = question_urn(question.id)
        found[str(node)] = Location(path, question.line)
        for answer in question.answers:
            found[f"{node}#antwoord-{answer.number}"] = Location(path, answer.line)
            for number, redirect in enumerate(answer.redirects, start=1):
                step = f"{node}#antwoord-{answer.number}-doorverwijzing-{number}"
                found[step] = Location(path, redirect.line)
    for conclusion in tree.conclusions:
        found[str(conclusion_urn(conclusion.id))] = Location(path, conclusion.line)
    return found


def _question(question: Question) -> Iterable[Fact]:
    node = question_urn(question.id)
    yield node, RDF.type, AK.Vraag
    yield node, DCTERMS.identifier, Literal(question.id)
    yield node, DCTERMS.title, Literal(question.text.strip(), lang="nl")
    if question.explanation.strip():
        yield node, DCTERMS.description, Literal(question.explanation.strip(), lang="nl")
    yield from _sources(node, question.sources)
    for answer in question.answers:
        yield from _answer(node, answer)


def _answer(question: URIRef, answer: Answer) -> Iterable[Fact]:
    node = URIRef(f"{question}#antwoord-{answer.number}")
    yield question, AK.antwoord, node
    yield node, RDF.type, AK.Antwoord
    yield node, AK.volgnummer, Literal(answer.number, datatype=XSD.integer)
    yield node, DCTERMS.title, Literal(answer.text.strip(), lang="nl")
    for label in answer.labels:
        yield node, AK.label, label_urn(label)
    if answer.question:
        yield node, AK.volgendeVraag, question_urn(answer.question)
    if answer.conclusion:
        yield node, AK.conclusie, conclusion_urn(answer.conclusion)
    for number, redirect in enumerate(answer.redirects, start=1):
        step = URIRef(f"{node}-doorverwijzing-{number}")
        yield node, AK.doorverwijzing, step
        yield step, RDF.type, AK.Doorverwijzing
        yield step, AK.volgnummer, Literal(number, datatype=XSD.integer)
        yield step, AK.conditie, Literal(redirect.text)
        facts: list[Fact] = []
        yield step, AK.als, _condition(redirect.condition, f"{step}-voorwaarde", facts)
        yield from facts
        if redirect.question:
            yield step, AK.volgendeVraag, question_urn(redirect.question)
        if redirect.conclusion:
            yield step, AK.conclusie, conclusion_urn(redirect.conclusion)


def _condition(condition: Condition, iri: str, facts: list[Fact]) -> URIRef:
    """The condition as nodes (``iri``, ``iri-1``, ``iri-1-2``…), a label as its URN."""
    if isinstance(condition, Has):
        return label_urn(condition.label)
    node = URIRef(iri)
    if isinstance(condition, Not):
        facts.append((node, RDF.type, AK.Niet))
        facts.append((node, AK.operand, _condition(condition.operand, f"{iri}-1", facts)))
        return node
    facts.append((node, RDF.type, AK.En if isinstance(condition, All) else AK.Of))
    assert isinstance(condition, All | Any)
    for index, operand in enumerate(condition.operands, start=1):
        facts.append((node, AK.operand, _condition(operand, f"{iri}-{index}", facts)))
    return node


def _sources(node: URIRef, sources: Iterable[Source]) -> Iterable[Fact]:
    for source in sources:
        if source.href:
            yield node, DCTERMS.source, safe_iri(source.href)


def _labels(labels: Iterable[str], label_map: LabelMap) -> Iterable[Fact]:
    for label in sorted(labels):
        node = label_urn(label)
        yield node, RDF.type, AK.BeslishulpLabel
        yield node, SKOS.prefLabel, Literal(label, lang="nl")
        if label in label_map.mapped:
            group, value = label_map.mapped[label]
            yield node, SKOS.exactMatch, term_urn(group, value)
        elif label in label_map.unmapped:
            yield node, SKOS.scopeNote, Literal(label_map.unmapped[label], lang="nl")


def _definitions(tree: DecisionTree, glossary: Mapping[str, URIRef]) -> Iterable[Fact]:
    if tree.definitions:
        yield DEFINITIONS, RDF.type, SKOS.ConceptScheme
        yield DEFINITIONS, SKOS.prefLabel, Literal("Begrippen van de beslishulp", lang="nl")
    for definition in tree.definitions:
        node = term_urn("beslishulp-begrip", definition.term)
        yield node, RDF.type, SKOS.Concept
        yield node, SKOS.inScheme, DEFINITIONS
        yield node, SKOS.prefLabel, Literal(definition.term, lang="nl")
        yield node, SKOS.definition, Literal(definition.definition.strip(), lang="nl")
        match = glossary.get(definition.term.strip().lower())
        if match is not None:
            yield node, SKOS.exactMatch, match
