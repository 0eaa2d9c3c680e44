"""From documents to one RDF graph keyed on URNs, with a source map of every fact (handed on as
a :class:`kg.built.Build`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from kg.applicability import ExpressionError, exception_triples
from kg.applicability import parse as parse_expression
from kg.built import Build, Triple, with_pages
from kg.corpus import Corpus
from kg.diagnostic import Diagnostic, Severity
from kg.document import Document, Link
from kg.glossary import GLOSSARY_PATH
from kg.identifier import safe_iri, slugify, term_urn
from kg.links import LinkKind, Target, link_target
from kg.metadata import Entry, Located
from kg.namespace import AK
from kg.pages import render_pages
from kg.references import DocumentIndex, document_index, value_node
from kg.sourcemap import Location, SourceMap
from kg.vocabulary import (
    AUDIT_SCHEME_LABELS,
    RULES,
    SKIPPED_KEYS,
    YES_NO,
    KeyRule,
    Shape,
)
from kg.website import website_page

GLOSSARY_SCHEME = URIRef("urn:nl:ak:begrip")
_SOURCE_SECTIONS = frozenset({"bronnen", "bron"})
#: Lexical forms checked before a typed literal is made (rdflib warns on ill-typed ones).
_LEXICAL_FORMS: dict[URIRef, re.Pattern[str]] = {
    XSD.boolean: re.compile(r"true|false|1|0"),
    XSD.integer: re.compile(r"[+-]?[0-9]+"),
    XSD.date: re.compile(
        r"-?[0-9]{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(Z|[+-][0-9]{2}:[0-9]{2})?"
    ),
}


#: The terms added for every document, section and link, looked up once: an rdflib namespace
#: makes a new (checked) URIRef on every attribute it is asked for (a fifth of a build).
_TYPE, _BRONBESTAND, _PAGE, _TITLE = RDF.type, AK.bronbestand, FOAF.page, DCTERMS.title
_IN_SCHEME, _PREF_LABEL, _NOTATION = SKOS.inScheme, SKOS.prefLabel, SKOS.notation
_SECTIE, _SECTIE_CLASS, _KOP, _POSITIE = AK.sectie, AK.Sectie, AK.kop, AK.positie
_MARKDOWN, _INLEIDING = AK.markdown, AK.inleiding
_SOURCE, _SEE_ALSO, _REFERENCES = DCTERMS.source, RDFS.seeAlso, DCTERMS.references


def build_graph(corpus: Corpus, pages: bool = True) -> Build:
    """The graph of ``corpus``; without ``pages``, its triples alone (no HTML pages: they
    add no triples, and the older releases of a history need none)."""
    triples: set[Triple] = set()
    sourcemap = SourceMap()
    diagnostics: list[Diagnostic] = []
    builder = _Builder(triples, sourcemap, diagnostics, document_index(corpus))
    for document in corpus.documents:
        builder.add_document(document)
    for term in corpus.terms:
        location = Location(GLOSSARY_PATH, term.line)
        sourcemap.add_resource(term.urn, location)
        builder.add(term.urn, RDF.type, AK.Begrip, location)
        builder.add(term.urn, RDF.type, SKOS.Concept, location)
        builder.add(term.urn, SKOS.inScheme, GLOSSARY_SCHEME, location)
        builder.add(term.urn, SKOS.prefLabel, Literal(term.term, lang="nl"), location)
        if term.definition:
            builder.add(term.urn, SKOS.definition, Literal(term.definition, lang="nl"), location)
        builder.add(term.urn, AK.bronbestand, Literal(GLOSSARY_PATH), location)
    build = Build(frozenset(triples), sourcemap, tuple(diagnostics))
    return with_pages(build, render_pages(corpus)) if pages else build


@dataclass
class _Builder:
    triples: set[Triple]
    sourcemap: SourceMap
    diagnostics: list[Diagnostic]
    index: DocumentIndex

    def add(self, s: Node, p: URIRef, o: Node, location: Location) -> None:
        self.triples.add((s, p, o))
        self.sourcemap.add_fact(s, p, o, location)

    def warn(self, path: str, line: int, message: str, code: str) -> None:
        self.diagnostics.append(Diagnostic(path, line, Severity.WARNING, message, code))

    def add_document(self, document: Document) -> None:
        s = document.urn
        kind = document.placement.kind
        here = Location(document.path, 1)
        self.sourcemap.add_resource(s, here)
        for cls in kind.classes:
            self.add(s, _TYPE, cls, here)
        self.add(s, _BRONBESTAND, Literal(document.path), here)
        self.add(s, _PAGE, website_page(document.path), here)
        title = document.matter.get("title")
        title_at = Location(document.path, title.line if title else document.matter.body_line)
        label = Literal(document.title(), lang="nl")
        if title is None or not isinstance(title.value.value, str) or not title.value.value.strip():
            self.add(s, _TITLE, label, title_at)  # a page titled by its '#' heading
        if kind.scheme is not None:
            self.add(s, _IN_SCHEME, kind.scheme, here)
            self.add(s, _PREF_LABEL, label, title_at)
            self.add(s, _NOTATION, Literal(document.placement.name), here)
        for entry in document.matter.entries:
            if entry.key in SKIPPED_KEYS:
                continue
            rule = RULES.get(entry.key)
            if rule is None:
                self.add_unknown(document, entry)
            else:
                self.add_entry(document, entry, rule)
        self.add_body(document)

    # -- front matter -------------------------------------------------------------------

    def add_entry(self, document: Document, entry: Entry, rule: KeyRule) -> None:
        handlers = {
            Shape.TEXT: self.add_texts,
            Shape.LITERAL: self.add_literals,
            Shape.AUDIT: self.add_audit,
            Shape.APPLICABILITY: self.add_applicability,
            Shape.EXCEPTION: self.add_exceptions,
        }
        handlers.get(rule.shape, self.add_tags)(document, entry, rule)

    def add_texts(self, document: Document, entry: Entry, rule: KeyRule) -> None:
        for item in _items(entry.value):
            if isinstance(item.value, str) and item.value.strip():
                self.add(
                    document.urn,
                    rule.predicate,
                    Literal(item.value.strip(), lang="nl"),
                    Location(document.path, item.line),
                )

    def add_literals(self, document: Document, entry: Entry, rule: KeyRule) -> None:
        for item in _items(entry.value):
            self.add_literal(document, rule, item)

    def add_tags(self, document: Document, entry: Entry, rule: KeyRule) -> None:
        for item in _items(entry.value):
            self.add_tag(document, entry, rule, item)

    def add_exceptions(self, document: Document, entry: Entry, rule: KeyRule) -> None:
        """Each ``uitzondering`` as written, and parsed (:mod:`kg.applicability`)."""
        for number, item in enumerate(_items(entry.value), start=1):
            self.add_literal(document, rule, item)
            if not isinstance(item.value, str) or not item.value.strip():
                continue
            try:
                expression = parse_expression(item.value)
            except ExpressionError as error:
                message = f"{entry.key}: malformed expression: {error}"
                self.diagnostics.append(
                    Diagnostic(document.path, item.line, Severity.ERROR, message, "uitzondering")
                )
                continue
            location = Location(document.path, item.line)
            triples = exception_triples(document.urn, number, item.value.strip(), expression)
            self.sourcemap.add_resource(triples[0][2], location)
            for s, p, o in triples:
                self.add(s, p, o, location)

    def add_literal(self, document: Document, rule: KeyRule, item: Located) -> None:
        value = item.value
        if value is None or isinstance(value, (list, dict)):
            return
        location = Location(document.path, item.line)
        if rule.datatype is None:
            self.add(document.urn, rule.predicate, Literal(str(value)), location)
            return
        lexical = str(value).lower() if isinstance(value, bool) else str(value).strip()
        pattern = _LEXICAL_FORMS.get(rule.datatype)
        if pattern is None or pattern.fullmatch(lexical):
            literal = Literal(lexical, datatype=rule.datatype)
        else:
            self.warn(
                document.path,
                item.line,
                f"{rule.key}: {value!r} is not a valid {rule.datatype.n3()}",
                "datatype",
            )
            literal = Literal(lexical)
        self.add(document.urn, rule.predicate, literal, location)

    def add_tag(self, document: Document, entry: Entry, rule: KeyRule, item: Located) -> None:
        if not isinstance(item.value, str) or not item.value.strip():
            self.warn(document.path, item.line, f"{entry.key}: empty value", "empty-value")
            return
        value = item.value.strip()
        location = Location(document.path, item.line)
        target_kind = rule.target_kind
        target = self.node(rule, value)
        if (
            rule.shape is Shape.REFERENCE
            and target_kind is not None
            and self.index.resolve(target_kind, value) is None
        ):
            self.warn(
                document.path,
                item.line,
                f"{entry.key}: no {target_kind.name} named {value!r} (reference kept as {target})",
                "unresolved-reference",
            )
        self.add(document.urn, rule.predicate, target, location)

    def node(self, rule: KeyRule, value: str) -> URIRef:
        """The node a tag or reference value stands for (:func:`kg.references.value_node`)."""
        return value_node(self.index, rule, value)

    def add_audit(self, document: Document, entry: Entry, rule: KeyRule) -> None:
        mapping = entry.value.value
        if mapping is None:
            return
        if not isinstance(mapping, dict):
            self.warn(
                document.path,
                entry.line,
                f"{entry.key}: expected a mapping such as 'ADR: SV.8'",
                "audit-code",
            )
            return
        for framework, codes in mapping.items():
            scheme_code = slugify(framework)
            scheme = URIRef(f"urn:nl:ak:auditnorm:{scheme_code}")
            for item in _items(codes):
                if item.value is None or isinstance(item.value, (list, dict)):
                    continue
                code = str(item.value).strip()
                if not code:
                    continue
                location = Location(document.path, item.line)
                concept = safe_iri(f"urn:nl:ak:auditnorm:{scheme_code}:{code}")
                self.add(document.urn, AK.auditnorm, concept, location)
                self.add(concept, RDF.type, SKOS.Concept, location)
                self.add(concept, SKOS.inScheme, scheme, location)
                self.add(concept, SKOS.notation, Literal(code), location)
                self.add(
                    concept, SKOS.prefLabel, Literal(f"{framework} {code}", lang="nl"), location
                )
                self.sourcemap.add_resource(concept, location)
                if scheme_code in AUDIT_SCHEME_LABELS:
                    continue
                self.warn(
                    document.path,
                    item.line,
                    f"{entry.key}: unknown audit framework {framework!r}",
                    "audit-code",
                )

    def add_applicability(self, document: Document, entry: Entry, rule: KeyRule) -> None:
        """``rekenregels: [{impactvol: Ja}]``: for this kind of algorithm and impact class,
        the vereiste applies (Ja) or not (Nee)."""
        for item in _items(entry.value):
            if not isinstance(item.value, dict):
                self.warn(
                    document.path,
                    item.line,
                    f"{entry.key}: expected 'impactklasse: Ja|Nee'",
                    "applicability",
                )
                continue
            for impact, answer in item.value.items():
                location = Location(document.path, answer.line)
                flag = YES_NO.get(str(answer.value).strip().lower())
                node = URIRef(f"{document.urn}#toepasbaarheid-{rule.vocabulary}-{slugify(impact)}")
                self.add(document.urn, rule.predicate, node, location)
                self.add(node, RDF.type, AK.Toepasbaarheid, location)
                self.add(
                    node, AK.algoritmesoort, term_urn("algoritmesoort", rule.vocabulary), location
                )
                self.add(node, AK.impactklasse, term_urn("impactklasse", impact), location)
                if flag is None:
                    self.warn(
                        document.path,
                        answer.line,
                        f"{entry.key}: {impact}: expected Ja or Nee, got {answer.value!r}",
                        "applicability",
                    )
                    self.add(node, RDFS.comment, Literal(str(answer.value)), location)
                else:
                    self.add(node, AK.vanToepassing, Literal(flag), location)

    def add_unknown(self, document: Document, entry: Entry) -> None:
        predicate = AK[_camel(entry.key)]
        self.warn(
            document.path,
            entry.line,
            f"unknown front-matter key {entry.key!r} (kept as {predicate.n3()})",
            "unknown-key",
        )
        for item in _items(entry.value):
            if item.value is not None:
                value = item.plain()
                self.add(
                    document.urn, predicate, Literal(str(value)), Location(document.path, item.line)
                )

    # -- body -----------------------------------------------------------------------------

    def add_body(self, document: Document) -> None:
        s = document.urn
        if document.introduction:
            self.add(
                s,
                _INLEIDING,
                Literal(document.introduction, lang="nl"),
                Location(document.path, document.matter.body_line),
            )
        self.add_links(document, document.introduction_links, sources=False)
        for position, section in enumerate(document.sections, start=1):
            node = URIRef(f"{s}#{section.anchor}")
            location = Location(document.path, section.line)
            self.sourcemap.add_resource(node, location)
            self.add(s, _SECTIE, node, location)
            self.add(node, _TYPE, _SECTIE_CLASS, location)
            self.add(node, _KOP, Literal(section.heading, lang="nl"), location)
            self.add(node, _POSITIE, Literal(position), location)
            self.add(node, _MARKDOWN, Literal(section.markdown, lang="nl"), location)
            is_sources = section.heading.strip().lower() in _SOURCE_SECTIONS
            self.add_links(document, section.links, sources=is_sources)

    def add_links(self, document: Document, links: tuple[Link, ...], sources: bool) -> None:
        for link in links:
            target = link_target(document.path, link.target)
            node = self.link_node(document, link, target)
            if node is None or node == document.urn:
                continue  # within the page, or nowhere (reported)
            if target.kind is LinkKind.EXTERNAL:
                predicate = _SOURCE if sources else _SEE_ALSO
            else:
                predicate = _REFERENCES
            self.add(document.urn, predicate, node, Location(document.path, link.line))

    def link_node(self, document: Document, link: Link, target: Target) -> URIRef | None:
        """What a link is a fact about; links that point nowhere are reported here."""
        node, problem = self.index.links.resolve(target, link.target)
        if problem is not None:
            severity, message, code = problem
            self.diagnostics.append(
                Diagnostic(document.path, link.line, severity, f"{message}: {link.target}", code)
            )
        return node


def _items(located: Located) -> list[Located]:
    return located.value if isinstance(located.value, list) else [located]


def _camel(key: str) -> str:
    head, *rest = re.split(r"[-_\s]+", key.strip())
    return head.lower() + "".join(part.capitalize() for part in rest)
