"""The whole real corpus served: every URN of the graph dereferences, in HTML and in Turtle.

The expectations come from the published ``graph.nt`` read with rdflib, not from the server's
own index. A section (``<document>#slug``) cannot be requested (browsers keep the fragment), so
it resolves through its document: the document's page has an element with that id, the
document's Turtle describes the section, and ``/id/<document>%23<slug>`` redirects there.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from flask import Flask
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDFS, SKOS

from tests.helpers import parse_html

pytestmark = pytest.mark.corpus

HTML = {"Accept": "text/html"}
TURTLE = {"Accept": "text/turtle"}


@pytest.fixture(scope="module")
def real_graph(real_dist: Path) -> Graph:
    return Graph().parse(real_dist / "graph.nt", format="nt")


def subjects(graph: Graph) -> tuple[set[str], dict[str, set[str]]]:
    """URNs that are subjects, and for each document the fragments of its inner nodes."""
    documents: set[str] = set()
    fragments: dict[str, set[str]] = defaultdict(set)
    for subject in set(graph.subjects()):
        if not isinstance(subject, URIRef) or not str(subject).startswith("urn:nl:ak:"):
            continue
        urn, hash_sign, fragment = str(subject).partition("#")
        if hash_sign:
            fragments[urn].add(fragment)
        else:
            documents.add(urn)
    return documents, fragments


def titles(graph: Graph, urn: str) -> list[str]:
    found = [
        str(o)
        for p in (DCTERMS.title, SKOS.prefLabel, RDFS.label)
        for o in graph.objects(URIRef(urn), p)
        if isinstance(o, Literal)
    ]
    return found or [urn.rsplit(":", 1)[-1]]


def test_every_urn_dereferences(real_app: Flask, real_graph: Graph) -> None:
    client = real_app.test_client()
    documents, fragments = subjects(real_graph)
    assert len(documents) > 300 and sum(map(len, fragments.values())) > 1000
    assert set(fragments) <= documents
    failures: list[str] = []
    for urn in sorted(documents):
        page = client.get(f"/id/{urn}", headers=HTML)
        tree = parse_html(page.get_data(as_text=True))
        expected_titles = {" ".join(title.split()) for title in titles(real_graph, urn)}
        if page.status_code != 200:
            failures.append(f"{urn}: HTML {page.status_code}")
        elif tree.find("h1").words() not in expected_titles:
            failures.append(f"{urn}: HTML without its title {sorted(expected_titles)!r}")
        ids = {element.get("id") for element in tree.iter()}
        for fragment in sorted(fragments.get(urn, ())):
            if fragment not in ids:
                failures.append(f"{urn}#{fragment}: no element with that id on its page")
        turtle = client.get(f"/id/{urn}", headers=TURTLE)
        if turtle.status_code != 200 or not turtle.content_type.startswith("text/turtle"):
            failures.append(f"{urn}: Turtle {turtle.status_code} {turtle.content_type}")
            continue
        try:
            graph = Graph().parse(data=turtle.data, format="turtle")
        except Exception as error:  # any parse error is a failure to report, not to raise
            failures.append(f"{urn}: Turtle does not parse: {error}")
            continue
        described = [str(urn), *(f"{urn}#{fragment}" for fragment in fragments.get(urn, ()))]
        for iri in described:
            expected = set(real_graph.triples((URIRef(iri), None, None)))
            missing = expected - set(graph.triples((URIRef(iri), None, None)))
            if not expected or missing:
                failures.append(f"{iri}: Turtle lacks {len(missing)} of {len(expected)} triples")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:50])


def test_every_section_urn_redirects_to_its_document(real_app: Flask, real_graph: Graph) -> None:
    client = real_app.test_client()
    _, fragments = subjects(real_graph)
    failures = []
    for urn, found in sorted(fragments.items()):
        for fragment in sorted(found):
            response = client.get(f"/id/{urn}%23{fragment}")
            if (response.status_code, response.headers.get("Location")) != (
                303,
                f"/id/{urn}#{fragment}",
            ):
                failures.append(f"{urn}#{fragment}: {response.status_code}")
    assert not failures, "\n".join(failures[:50])


def test_every_ontology_term_dereferences(real_app: Flask, real_dist: Path) -> None:
    ontology = real_dist / "ontology.ttl"
    if not ontology.is_file():
        pytest.skip("this publication has no ontology")
    terms = {
        str(s)
        for s in Graph().parse(ontology, format="turtle").subjects()
        if isinstance(s, URIRef) and str(s).startswith("urn:nl:ak:")
    }
    client = real_app.test_client()
    failures = [
        urn
        for urn in sorted(terms)
        for headers in (HTML, TURTLE)
        if client.get(f"/id/{urn}", headers=headers).status_code != 200
    ]
    assert not failures, failures
