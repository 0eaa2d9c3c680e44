"""HTML pages: the home page, the lookup box, resource pages, and what the sanitiser lets in."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.markdown import render_markdown
from tests.conftest import build_publication

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
MAATREGELEN = "docs/voldoen-aan-wetten-en-regels/maatregelen"
VEREISTEN = "docs/voldoen-aan-wetten-en-regels/vereisten"


def html_of(client: FlaskClient, path: str) -> str:
    response = client.get(path, headers=BROWSER)
    assert response.status_code == 200, path
    assert response.content_type == "text/html; charset=utf-8"
    return response.get_data(as_text=True)


# -- home page ----------------------------------------------------------------------------


def test_home_page(client: FlaskClient, sample_dist: Path) -> None:
    html = html_of(client, "/")
    manifest = json.loads((sample_dist / "manifest.json").read_text())
    assert '<html lang="nl">' in html
    for kind, label in (("vereiste", "Vereisten"), ("maatregel", "Maatregelen")):
        assert re.search(rf">{manifest['documents'][kind]}</span> {label}<", html)
    assert f">{manifest['glossary_terms']}</span> Begrippen<" in html
    for path in ("/dump.ttl", "/dump.nt", "/dump.jsonld", "/sparql", "/.well-known/void"):
        assert f'href="{path}"' in html
    # the table of contents links every document
    assert 'href="/id/urn:nl:ak:mtr:org-01"' in html
    # a lookup box
    assert 'action="/lookup"' in html and 'name="urn"' in html


def test_home_page_example_queries_are_sparql_links(client: FlaskClient) -> None:
    html = html_of(client, "/")
    links = re.findall(r'href="(/sparql\?query=[^"]+)"', html)
    assert len(links) >= 3
    for link in links:
        query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)["query"][0]
        assert "SELECT" in query


def test_pages_load_nothing_from_elsewhere(client: FlaskClient) -> None:
    for path in ("/", "/id/urn:nl:ak:mtr:org-01", "/id/urn:nl:ak:ver:aia-01"):
        html = html_of(client, path)
        assert "<script" not in html
        for tag in re.findall(r"<(?:link|img|iframe|source|embed|object)\b[^>]*>", html):
            assert "http" not in tag, tag


# -- lookup ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("urn:nl:ak:mtr:org-01", "/id/urn:nl:ak:mtr:org-01"),
        ("  urn:nl:ak:mtr:org-01 ", "/id/urn:nl:ak:mtr:org-01"),
        ("<urn:nl:ak:mtr:org-01>", "/id/urn:nl:ak:mtr:org-01"),
        ("URN:NL:AK:MTR:ORG-01", "/id/urn:nl:ak:mtr:org-01"),
        ("mtr:org-01", "/id/urn:nl:ak:mtr:org-01"),
        ("http://example.org/id/urn:nl:ak:ver:aia-01", "/id/urn:nl:ak:ver:aia-01"),
        ("urn:nl:ak:mtr:org-01#toelichting", "/id/urn:nl:ak:mtr:org-01#toelichting"),
        ("urn:nl:ak:rol:jurist", "/id/urn:nl:ak:rol:jurist"),
        ("urn:nl:ak:auditnorm:adr:SV.8", "/id/urn:nl:ak:auditnorm:adr:SV.8"),
    ],
)
def test_lookup_redirects_to_the_page(client: FlaskClient, text: str, location: str) -> None:
    response = client.get("/lookup", query_string={"urn": text})
    assert response.status_code == 303
    assert response.headers["Location"] == location


def test_lookup_of_nothing_goes_home(client: FlaskClient) -> None:
    response = client.get("/lookup?urn=")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_lookup_of_an_unknown_urn_suggests(client: FlaskClient) -> None:
    response = client.get("/lookup", query_string={"urn": "urn:nl:ak:ver:aia-1"}, headers=BROWSER)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert 'href="/id/urn:nl:ak:ver:aia-01"' in html
    # the box keeps what was typed
    assert 'value="urn:nl:ak:ver:aia-1"' in html


def test_lookup_of_words_finds_titles(client: FlaskClient) -> None:
    response = client.get("/lookup", query_string={"urn": "verantwoordelijk"}, headers=BROWSER)
    assert response.status_code == 404
    assert 'href="/id/urn:nl:ak:mtr:org-01"' in response.get_data(as_text=True)


# -- resource pages -------------------------------------------------------------------------


def test_maatregel_page(client: FlaskClient) -> None:
    html = html_of(client, "/id/urn:nl:ak:mtr:org-01")
    assert "<h1>Leg vast wie verantwoordelijk is voor algoritmes (voorbeeld)</h1>" in html
    assert "Voorbeeldmaatregel. Wijs voor elk algoritme een eigenaar aan" in html  # toelichting
    # properties by their label, English label and IRI in the title
    assert re.search(r'<abbr title="requirement – urn:nl:ak:def:vereiste">vereiste</abbr>', html)
    # links out by title
    assert re.search(
        r'<a href="/id/urn:nl:ak:ver:aia-01"[^>]*>Medewerkers die met AI werken hebben', html
    )
    # sections, with their anchors, rendered from Markdown
    assert '<section class="markdown" id="toelichting">' in html
    assert '<aside class="admonition example">' in html
    # relative .md links go to the URN's page
    assert '<a href="/id/urn:nl:ak:hlp:iama" rel="noopener noreferrer">IAMA</a>' in html
    # the source file
    assert "docs/voldoen-aan-wetten-en-regels/maatregelen/0-org-01-verantwoordelijkheden" in html
    # the other formats
    assert 'href="/id/urn:nl:ak:mtr:org-01?format=turtle"' in html


def test_vereiste_page_links_in(client: FlaskClient) -> None:
    html = html_of(client, "/id/urn:nl:ak:ver:aia-01")
    links_in = html.split('id="ak-links-in"', 1)[1].split("</section>", 1)[0]
    assert "Maatregelen die deze vereiste ondersteunen" in links_in
    assert 'href="/id/urn:nl:ak:mtr:org-01"' in links_in
    assert "Hulpmiddelen bij deze vereiste" in links_in


def test_topic_page_lists_its_documents(client: FlaskClient) -> None:
    html = html_of(client, "/id/urn:nl:ak:ond:governance")
    assert "Maatregelen over dit onderwerp" in html
    assert 'href="/id/urn:nl:ak:mtr:org-01"' in html


# -- escaping and sanitising ----------------------------------------------------------------

PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
EVIL_MAATREGEL = """---
title: "Kwaad <script>alert(1)</script> en <img src=x onerror=alert(1)>"
id: urn:nl:ak:mtr:xss-01
toelichting: "Ook hier <script>alert(1)</script><img src=x onerror=alert(1)>"
vereiste:
- xss-01-vereiste
---

## Maatregel
Tekst <script>alert(1)</script> en <img src=x onerror=alert(1)> en
<a href="javascript:alert(1)" onclick="alert(1)">klik</a> en [link](javascript:alert(1))
en <iframe src="https://example.org"></iframe><style>body{display:none}</style>.

## <script>alert(1)</script> kop

!!! tip "<img src=x onerror=alert(1)>"
    <script>alert(1)</script>
"""
EVIL_VEREISTE = """---
title: Een vereiste
id: urn:nl:ak:ver:xss-01
---
## Vereiste
Tekst.
"""


@pytest.fixture(scope="module")
def evil_app(tmp_path_factory: pytest.TempPathFactory, make_app: Callable[..., Flask]) -> Flask:
    root = tmp_path_factory.mktemp("evil")
    content = root / "content"
    for folder, name, text in (
        (MAATREGELEN, "0-xss-01-kwaad.md", EVIL_MAATREGEL),
        (VEREISTEN, "xss-01-vereiste.md", EVIL_VEREISTE),
    ):
        (content / folder).mkdir(parents=True, exist_ok=True)
        (content / folder / name).write_text(text, encoding="utf-8")
    status, _, stderr = build_publication(content, root / "dist")
    assert status in (0, 1), stderr
    return make_app(root / "dist")


def assert_clean(html: str) -> None:
    lowered = html.lower()
    for payload in PAYLOADS:
        assert payload not in html
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<iframe" not in lowered
    assert "<style" not in lowered
    assert not re.search(r"=\s*[\"']?\s*javascript:", lowered)  # as text it is harmless
    assert not re.search(r"<[^>]*\son\w+\s*=", lowered)


def test_script_in_content_renders_escaped(evil_app: Flask) -> None:
    client = evil_app.test_client()
    html = html_of(client, "/id/urn:nl:ak:mtr:xss-01")
    assert_clean(html)
    assert (
        "Kwaad &lt;script&gt;alert(1)&lt;/script&gt; en &lt;img src=x onerror=alert(1)&gt;" in html
    )
    assert 'id="script-alert-1-script-kop"' in html
    # the page that links in shows the title escaped too
    assert_clean(html_of(client, "/id/urn:nl:ak:ver:xss-01"))
    assert_clean(html_of(client, "/"))


def test_script_in_a_urn_renders_escaped(client: FlaskClient) -> None:
    for path in (
        "/id/urn:nl:ak:<script>alert(1)</script>",
        "/lookup?urn=<script>alert(1)</script>",
    ):
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert_clean(html)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- Markdown -------------------------------------------------------------------------------


def no_links(href: str) -> str | None:
    return None


def test_markdown_admonitions() -> None:
    html = render_markdown(
        '!!! tip "Let op"\n    Eerst **dit**.\n\n    ??? expander "Meer"\n        Binnen.\n\nNa.',
        no_links,
    )
    assert '<aside class="admonition tip">\n<strong>Let op</strong>' in html
    assert "<p>Eerst <strong>dit</strong>.</p>" in html
    assert '<details class="admonition expander">\n<summary>Meer</summary>' in html
    assert "<p>Binnen.</p>\n</details>\n</aside>" in html
    assert html.endswith("<p>Na.</p>\n")


def test_markdown_links_and_images() -> None:
    def resolve(href: str) -> str | None:
        return "/id/urn:nl:ak:hlp:iama#doel" if href == "../IAMA.md#doel" else None

    html = render_markdown(
        "[a](../IAMA.md#doel) [b](elders.md) [c](https://example.org) [d](#kop) "
        "![Alt](https://example.org/p.png) ![Lokaal](p.png){ .center }",
        resolve,
    )
    assert '<a href="/id/urn:nl:ak:hlp:iama#doel" rel="noopener noreferrer">a</a>' in html
    assert '<a rel="noopener noreferrer">b</a>' in html
    assert '<a href="https://example.org" rel="noopener noreferrer">c</a>' in html
    assert '<a href="#kop" rel="noopener noreferrer">d</a>' in html
    assert (
        '<a href="https://example.org/p.png" rel="noopener noreferrer">[Afbeelding: Alt]</a>'
        in html
    )
    assert "[Afbeelding: Lokaal]" in html
    assert "<img" not in html and "{" not in html


def test_markdown_tables() -> None:
    html = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |", no_links)
    assert "<table>" in html and "<td>2</td>" in html
