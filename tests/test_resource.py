"""URN dereferencing: content negotiation, headers, RDF bodies, redirects, 404 and 406."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS

from kg.namespace import AK

URN = "urn:nl:ak:mtr:org-01"
VEREISTE = "urn:nl:ak:ver:aia-01"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
MEDIA_TYPES = (
    "text/html",
    "text/turtle",
    "application/ld+json",
    "application/n-triples",
    "application/rdf+xml",
)
RDFLIB_FORMATS = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
}


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),
        ("", "text/html"),
        ("*/*", "text/html"),
        (BROWSER, "text/html"),
        ("text/html", "text/html"),
        ("application/xhtml+xml", "text/html"),
        ("text/turtle", "text/turtle"),
        ("application/x-turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
        ("application/json", "application/ld+json"),
        ("application/n-triples", "application/n-triples"),
        ("application/rdf+xml", "application/rdf+xml"),
        # q-values
        ("text/turtle;q=0.5, application/ld+json", "application/ld+json"),
        ("text/html;q=0.1, text/turtle;q=0.9", "text/turtle"),
        ("application/n-triples;q=1.0, text/turtle;q=0.99", "application/n-triples"),
        ("text/turtle, */*;q=0.1", "text/turtle"),
        ("*/*;q=0.1, application/rdf+xml;q=0.2", "application/rdf+xml"),
        ("text/html;q=0, */*", "text/turtle"),
        # wildcards and combined types: the most specific match of the highest quality wins
        ("text/*", "text/html"),
        ("text/*;q=0.5, text/turtle", "text/turtle"),
        ("application/*", "application/ld+json"),
        ("image/png, application/ld+json;q=0.3", "application/ld+json"),
        ("text/plain", "application/n-triples"),  # N-Triples' old media type
        ("application/xml", "application/rdf+xml"),
        # nothing acceptable
        ("image/png", 406),
        ("text/csv", 406),
        ("text/turtle;q=0", 406),
        ("application/sparql-results+json", 406),
    ],
)
def test_accept(client: FlaskClient, accept: str | None, expected: str | int) -> None:
    headers = {} if accept is None else {"Accept": accept}
    response = client.get(f"/id/{URN}", headers=headers)
    if isinstance(expected, int):
        assert response.status_code == expected
    else:
        assert response.status_code == 200
        assert media_type(response.content_type) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("html", "text/html"),
        ("ttl", "text/turtle"),
        ("turtle", "text/turtle"),
        ("jsonld", "application/ld+json"),
        ("json-ld", "application/ld+json"),
        ("nt", "application/n-triples"),
        ("ntriples", "application/n-triples"),
        ("rdf", "application/rdf+xml"),
        ("rdfxml", "application/rdf+xml"),
        ("text/turtle", "text/turtle"),
    ],
)
def test_format_parameter_overrides_accept(client: FlaskClient, name: str, expected: str) -> None:
    response = client.get(f"/id/{URN}?format={name}", headers={"Accept": "image/png"})
    assert response.status_code == 200
    assert media_type(response.content_type) == expected


def test_unknown_format_parameter_is_406(client: FlaskClient) -> None:
    assert client.get(f"/id/{URN}?format=docx").status_code == 406


@pytest.mark.parametrize("path", [f"/id/{URN}", f"/{URN}"])
def test_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert "Accept" in response.vary
    assert response.headers["Content-Location"] == f"/id/{URN}?format=turtle"
    links = response.headers["Link"]
    for media in MEDIA_TYPES:
        assert f'rel="alternate"; type="{media}"' in links
    assert f"</id/{URN}?format=jsonld>" in links
    assert ('rel="canonical"' in links) == (path == f"/{URN}")


def test_both_url_forms_answer_the_same(client: FlaskClient) -> None:
    for accept in ("text/html", "text/turtle", "application/ld+json"):
        by_id = client.get(f"/id/{URN}", headers={"Accept": accept})
        bare = client.get(f"/{URN}", headers={"Accept": accept})
        assert by_id.status_code == bare.status_code == 200
        assert by_id.data == bare.data
        assert by_id.headers["Content-Location"] == bare.headers["Content-Location"]


def test_head(client: FlaskClient) -> None:
    response = client.head(f"/id/{URN}", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert media_type(response.content_type) == "text/turtle"
    assert response.data == b""


def test_406_lists_the_alternatives(client: FlaskClient) -> None:
    response = client.get(f"/{URN}", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "Accept" in response.vary
    body = response.get_data(as_text=True)
    for media in MEDIA_TYPES:
        assert media in body
        assert media in response.headers["Link"]
    assert f"/id/{URN}?format=turtle" in body
    for key in ("html", "turtle", "jsonld", "ntriples", "rdfxml"):
        assert f"?format={key}\t" in body


def parse(client: FlaskClient, urn: str, media: str) -> Graph:
    response = client.get(f"/id/{urn}", headers={"Accept": media})
    assert response.status_code == 200
    assert media_type(response.content_type) == media
    return Graph().parse(data=response.data, format=RDFLIB_FORMATS[media])


def test_turtle_description(client: FlaskClient) -> None:
    graph = parse(client, URN, "text/turtle")
    s = URIRef(URN)
    assert (s, RDF.type, AK.Maatregel) in graph
    assert (s, DCTERMS.identifier, Literal(URN)) in graph
    assert (s, AK.vereiste, URIRef(VEREISTE)) in graph
    # its sections
    section = URIRef(f"{URN}#toelichting")
    assert (s, AK.sectie, section) in graph
    assert (section, AK.kop, Literal("Toelichting", lang="nl")) in graph
    assert any(graph.triples((section, AK.markdown, None)))
    # links in
    assert (URIRef("urn:nl:ak:hlp:iama"), AK.maatregel, s) in graph
    # labels of what it links to
    assert any(graph.triples((URIRef(VEREISTE), DCTERMS.title, None)))
    # but nothing else about those resources
    assert not any(graph.triples((URIRef(VEREISTE), AK.toelichting, None)))


@pytest.mark.parametrize(
    "media", ["application/ld+json", "application/n-triples", "application/rdf+xml"]
)
def test_every_rdf_format_gives_the_same_graph(client: FlaskClient, media: str) -> None:
    assert isomorphic(parse(client, URN, media), parse(client, URN, "text/turtle"))


def test_description_of_a_tag_value_is_its_links_in(client: FlaskClient) -> None:
    graph = parse(client, "urn:nl:ak:rol:jurist", "text/turtle")
    assert any(graph.triples((None, AK.rol, URIRef("urn:nl:ak:rol:jurist"))))


def test_section_redirects_to_its_document(client: FlaskClient) -> None:
    for path in (f"/id/{URN}%23toelichting", f"/{URN}%23toelichting"):
        response = client.get(path, headers={"Accept": "text/turtle"})
        assert response.status_code == 303
        assert response.headers["Location"] == f"/id/{URN}#toelichting"


def test_wrong_case_redirects_to_the_urn(client: FlaskClient) -> None:
    response = client.get(f"/id/{URN.upper()}?format=ttl")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/id/{URN}?format=ttl"


def test_unknown_urn_is_404_with_close_matches(client: FlaskClient) -> None:
    response = client.get("/id/urn:nl:ak:mtr:org-1", headers={"Accept": BROWSER})
    assert response.status_code == 404
    assert media_type(response.content_type) == "text/html"
    html = response.get_data(as_text=True)
    assert f'href="/id/{URN}"' in html
    assert "Leg vast wie verantwoordelijk is voor algoritmes" in html


def test_unknown_urn_for_machines_is_plain_text(client: FlaskClient) -> None:
    response = client.get("/urn:nl:ak:ver:aia-1", headers={"Accept": "application/ld+json"})
    assert response.status_code == 404
    assert media_type(response.content_type) == "text/plain"
    assert VEREISTE in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/id/foo", 404),
        ("/id/urn:isbn:9789012345678", 404),
        ("/urn:isbn:9789012345678", 404),
        ("/URN:x", 404),
        ("/id/urn:nl:ak:", 404),
        ("/id/", 404),
        ("/id/urn:nl:ak:mtr:org-01/extra", 404),
        ("/id/urn:nl:ak:%3Cscript%3E", 404),
        ("/id/urn:nl:ak:a%20b%22c%3E", 404),
        ("/id/urn:nl:ak:mtr:" + "x" * 5000, 404),
        ("/id/%23", 404),
        ("/id/urn:nl:ak:mtr:org-01%23", 303),  # an empty fragment: the document itself
        ("/id/urn:nl:ak:mtr:org-01%23a%20b", 303),
        # what no route can read: 400, whatever the route (bytes that are not UTF-8 are sent
        # by tests/test_hostile_requests.py: Werkzeug's test client would replace them)
        ("/id/urn:nl:ak:%00", 400),
        ("/id/urn:nl:ak:mtr:org-01%23a%0Db", 400),
        ("/id/urn:nl:ak:mtr:org-01%23a%0Ab", 400),
        ("/urn:nl:ak:mtr:org-01%23a%0Db", 400),
    ],
)
def test_malformed_input_is_a_clear_4xx(client: FlaskClient, path: str, status: int) -> None:
    for accept in (BROWSER, "text/turtle"):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == status, path
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_fragment_is_percent_encoded_in_the_redirect(client: FlaskClient) -> None:
    for path in ("/id/urn:nl:ak:mtr:org-01%23a%20%22b%3C", "/urn:nl:ak:mtr:org-01%23a%20%22b%3C"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"] == "/id/urn:nl:ak:mtr:org-01#a%20%22b%3C"


def test_other_paths_are_not_urns(client: FlaskClient) -> None:
    assert client.get("/nothing-here").status_code == 404
    with client.get("/static/site.css") as response:
        assert response.status_code == 200


def test_ontology_terms_dereference(client: FlaskClient) -> None:
    graph = parse(client, "urn:nl:ak:def:Maatregel", "text/turtle")
    assert (URIRef("urn:nl:ak:def:Maatregel"), RDF.type, None) in graph
    page = client.get("/id/urn:nl:ak:def:vereiste", headers={"Accept": BROWSER})
    assert page.status_code == 200


def test_empty_format_parameter_is_ignored(client: FlaskClient) -> None:
    response = client.get(f"/id/{URN}?format=", headers={"Accept": "text/turtle"})
    assert media_type(response.content_type) == "text/turtle"


def test_cors(client: FlaskClient) -> None:
    response = client.get(f"/id/{URN}", headers={"Accept": "application/ld+json"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Link" in response.headers["Access-Control-Expose-Headers"]


def test_representations_have_etags_and_answer_304(client: FlaskClient) -> None:
    first = client.get("/id/urn:nl:ak:mtr:org-01", headers={"Accept": "text/turtle"})
    tag = first.headers["ETag"]
    assert first.status_code == 200 and tag
    html = client.get("/id/urn:nl:ak:mtr:org-01", headers={"Accept": "text/html"})
    assert html.headers["ETag"] != tag  # one validator per representation
    again = client.get(
        "/id/urn:nl:ak:mtr:org-01", headers={"Accept": "text/turtle", "If-None-Match": tag}
    )
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == tag
    other = client.get(
        "/id/urn:nl:ak:mtr:org-01", headers={"Accept": "text/html", "If-None-Match": tag}
    )
    assert other.status_code == 200  # another representation's validator does not match
