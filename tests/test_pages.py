"""HTML pages: the home page, the lookup box, resource pages with the build's rendered content,
what the sanitiser lets in, and what every answer of the site shares (CORS, errors, layering).

Pages are read as element trees (:mod:`tests.helpers`), never with regexes.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import REPO, build_publication
from tests.helpers import Element, copy_publication, parse_html

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
MAATREGELEN = "docs/voldoen-aan-wetten-en-regels/maatregelen"
VEREISTEN = "docs/voldoen-aan-wetten-en-regels/vereisten"


def page_of(client: FlaskClient, path: str) -> Element:
    response = client.get(path, headers=BROWSER)
    assert response.status_code == 200, path
    assert response.content_type == "text/html; charset=utf-8"
    return parse_html(response.get_data(as_text=True))


def body_of(page: Element) -> Element:
    """The document's rendered text on a resource page."""
    return page.find("div", class_="document")


# -- home page ----------------------------------------------------------------------------


def test_home_page(client: FlaskClient, sample_dist: Path) -> None:
    page = page_of(client, "/")
    manifest = json.loads((sample_dist / "manifest.json").read_text())
    assert page.find("html").get("lang") == "nl"
    counts = {
        summary.words() for summary in page.find("section", class_="counts").find_all("summary")
    }
    assert f"{manifest['documents']['vereiste']} Vereisten" in counts
    assert f"{manifest['documents']['maatregel']} Maatregelen" in counts
    assert f"{manifest['glossary_terms']} Begrippen" in counts
    links = page.links()
    for path in ("/dump.ttl", "/dump.nt", "/dump.jsonld", "/sparql", "/.well-known/void"):
        assert path in links
    # the table of contents links every document
    assert "/id/urn:nl:ak:mtr:org-01" in links
    # a lookup box
    box = page.find("form", action="/lookup")
    assert box.find("input", name="q")


def test_home_page_example_queries_are_sparql_links(client: FlaskClient) -> None:
    links = [link for link in page_of(client, "/").links() if link.startswith("/sparql?query=")]
    assert len(links) >= 3
    for link in links:
        query = parse_qs(urlsplit(link).query)["query"][0]
        assert "SELECT" in query


def test_pages_load_nothing_from_elsewhere(client: FlaskClient) -> None:
    for path in ("/", "/id/urn:nl:ak:mtr:org-01", "/id/urn:nl:ak:ver:aia-01", "/sparql"):
        page = page_of(client, path)
        assert not page.find_all("script")
        for element in page.iter():
            if element.tag in ("link", "img", "iframe", "source", "embed", "object"):
                for name in ("href", "src", "data"):
                    assert "http" not in (element.get(name) or ""), (path, element.attrs)


#: A page of every template, as a browser gets it: (path, status).
EVERY_TEMPLATE = [
    ("/", 200),
    ("/id/urn:nl:ak:mtr:org-01", 200),  # resource.html with rendered content
    ("/id/urn:nl:ak:ver:aia-01", 200),
    ("/sparql", 200),  # the form, the examples
    ("/sparql?query=SELECT%20*%20%7B%20?s%20?p%20?o%20%7D%20LIMIT%203", 200),  # results table
    ("/sparql?query=DESCRIBE%20%3Curn:nl:ak:mtr:org-01%3E", 200),  # Turtle
    ("/id/urn:nl:ak:nergens", 404),  # not_found.html
    ("/nothing-here", 404),  # error.html
]


@pytest.mark.parametrize(("path", "status"), EVERY_TEMPLATE)
def test_pages_need_no_inline_style_or_script(client: FlaskClient, path: str, status: int) -> None:
    """What the Content Security Policy forbids is not on any page: no ``<script>``, no
    ``<style>``, no ``style=`` and no ``on…=`` attributes; stylesheets are this site's."""
    response = client.get(path, headers=BROWSER)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = parse_html(response.get_data(as_text=True))
    assert not page.find_all("script") and not page.find_all("style")
    for element in page.iter():
        for name in element.attrs:
            assert name != "style" and not name.startswith("on"), (path, element.tag, name)
    sheets = [link.get("href") for link in page.find_all("link", rel="stylesheet")]
    assert sheets == ["/static/site.css"]


def test_security_headers_on_every_answer(client: FlaskClient) -> None:
    page_policy = {
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    }
    pages = [client.get(path, headers=BROWSER) for path, _ in EVERY_TEMPLATE]
    others = [
        client.get(path)
        for path in ("/health", "/dump.nt", "/static/site.css", "/nothing-here", "/sparql")
    ]
    others.append(client.get("/id/urn:nl:ak:mtr:org-01", headers={"Accept": "text/turtle"}))
    others.append(client.get("/lookup", query_string={"urn": "mtr:org-01"}))  # a redirect
    for response in (*pages, *others):
        response.close()  # file answers are streamed
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
        policy = {part.strip() for part in response.headers["Content-Security-Policy"].split(";")}
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        if response.mimetype == "text/html":
            assert policy == page_policy
        else:
            assert policy == {"default-src 'none'", "frame-ancestors 'none'"}, response.mimetype
    assert {response.mimetype for response in others} >= {"application/json", "text/css"}


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


@pytest.mark.parametrize(
    ("text", "character"),
    [
        ("urn:nl:ak:mtr:org-01#a\nb", "U+000A"),
        ("urn:nl:ak:mtr:org-01#a\rb", "U+000D"),
        ("urn:nl:ak:mtr:org\x00-01", "U+0000"),
        ("urn:nl:ak:mtr:org-01#a\x85b", "U+0085"),
    ],
)
def test_lookup_of_a_control_character_is_400(
    client: FlaskClient, text: str, character: str
) -> None:
    response = client.get("/lookup", query_string={"urn": text})
    assert response.status_code == 400
    assert response.text == f"400 Bad Request: the URN holds a control character ({character})\n"


def test_lookup_keeps_a_fragment_percent_encoded(client: FlaskClient) -> None:
    response = client.get("/lookup", query_string={"urn": 'urn:nl:ak:mtr:org-01#a b"<é'})
    assert response.status_code == 303
    assert response.headers["Location"] == "/id/urn:nl:ak:mtr:org-01#a%20b%22%3C%C3%A9"
    pasted = client.get("/lookup", query_string={"urn": "urn:nl:ak:mtr:org-01\r\n"})
    assert pasted.headers["Location"] == "/id/urn:nl:ak:mtr:org-01"


def test_lookup_of_two_urns_is_400(client: FlaskClient) -> None:
    response = client.get("/lookup?urn=mtr:org-01&urn=mtr:org-02")
    assert response.status_code == 400
    assert "urn once" in response.text


def test_lookup_of_nothing_goes_home(client: FlaskClient) -> None:
    response = client.get("/lookup?urn=")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_lookup_of_an_unknown_urn_suggests(client: FlaskClient) -> None:
    response = client.get("/lookup", query_string={"urn": "urn:nl:ak:ver:aia-1"}, headers=BROWSER)
    assert response.status_code == 404
    page = parse_html(response.get_data(as_text=True))
    assert "/id/urn:nl:ak:ver:aia-01" in page.find("ul", class_="matches").links()
    # the box keeps what was typed
    assert page.find("input", id="lookup-urn").get("value") == "urn:nl:ak:ver:aia-1"


def test_lookup_of_words_finds_titles(client: FlaskClient) -> None:
    response = client.get("/lookup", query_string={"urn": "verantwoordelijk"}, headers=BROWSER)
    assert response.status_code == 303  # the one title with that word (tests/test_search.py)
    assert response.headers["Location"] == "/id/urn:nl:ak:mtr:org-01"


# -- resource pages -------------------------------------------------------------------------


def test_maatregel_page(client: FlaskClient) -> None:
    page = page_of(client, "/id/urn:nl:ak:mtr:org-01")
    assert page.find("h1").words() == "Leg vast wie verantwoordelijk is voor algoritmes (voorbeeld)"
    summary = page.find("p", class_="summary").words()
    assert summary.startswith("Voorbeeldmaatregel. Wijs voor elk algoritme een eigenaar aan")
    # properties by their label, English label and IRI in the title
    facts = page.by_id("ak-eigenschappen")
    labels = {abbr.words(): abbr.get("title") for abbr in facts.find_all("abbr")}
    assert labels["vereiste"] == "requirement – urn:nl:ak:def:vereiste"
    # links out by title
    out = {a.get("href"): a.words() for a in facts.find_all("a")}
    assert out["/id/urn:nl:ak:ver:aia-01"].startswith("Medewerkers die met AI werken hebben")
    # the body as the build rendered it: sections are headings with their anchors
    body = body_of(page)
    assert body.find("h2", id="toelichting").words() == "Toelichting"
    assert not body.find_all("h1")  # the title is the page's own
    example = body.find("div", class_="admonition")
    assert "example" in example.classes
    assert example.find("p", class_="admonition-title").words().startswith("Voorbeeldgemeente")
    # links between documents go to the URN's page
    iama = body.find("a", href="/id/urn:nl:ak:hlp:iama")
    assert iama.words() == "IAMA"
    # the table of contents: every section, in order, pointing at a heading of the body
    toc = page.find("nav", class_="toc")
    anchors = [href.removeprefix("#") for href in toc.links()]
    assert anchors[:2] == ["maatregel", "toelichting"]
    assert all(body.find_all("h2", id=anchor) for anchor in anchors)
    # the source file, and the other formats
    assert "docs/voldoen-aan-wetten-en-regels/maatregelen/0-org-01-verantwoordelijkheden" in (
        page.find("footer", class_="meta").words()
    )
    assert "/id/urn:nl:ak:mtr:org-01?format=turtle" in page.links()


def test_glossary_abbreviation_has_its_definition(client: FlaskClient) -> None:
    body = body_of(page_of(client, "/id/urn:nl:ak:mtr:org-01"))
    abbreviations = {abbr.words(): abbr.get("title") for abbr in body.find_all("abbr")}
    definition = abbreviations["algoritme"]
    assert definition is not None
    assert definition.startswith("Een reeks instructies waarmee een computer")


def test_footnote_links_to_its_note(client: FlaskClient) -> None:
    body = body_of(page_of(client, "/id/urn:nl:ak:ver:aia-01"))
    reference = body.find("sup").find("a", class_="footnote-ref")
    target = (reference.get("href") or "").removeprefix("#")
    note = body.find("li", id=target)
    assert note in body.find("div", class_="footnote").find_all("li")
    assert "AI-geletterdheid" in note.words()
    assert f"#{body.find('sup').get('id')}" in note.links()  # and back


def test_raw_html_link_becomes_a_page_link(client: FlaskClient) -> None:
    # content/docs/levenscyclus/probleemanalyse.md: <a href="../ontwerp">ontwerpfase</a>
    body = body_of(page_of(client, "/id/urn:nl:ak:lcf:probleemanalyse"))
    link = next(a for a in body.find_all("a") if a.words() == "ontwerpfase")
    assert link.get("href") == "/id/urn:nl:ak:lcf:ontwerp"


def test_code_block_is_verbatim(client: FlaskClient) -> None:
    body = body_of(page_of(client, "/id/urn:nl:ak:mtr:owp-01"))
    code = next(pre for pre in body.find_all("pre") if "!!! note" in pre.text())
    assert '!!! note "Gegevensveld: geboortejaar"\n    Niet nodig' in code.text()
    assert "{.x}" in code.text()
    # written inside a code block, neither is an admonition nor an attribute
    assert not any(
        "Gegevensveld" in div.words() for div in body.find_all("div", class_="admonition")
    )


def test_vereiste_page_links_in(client: FlaskClient) -> None:
    links_in = page_of(client, "/id/urn:nl:ak:ver:aia-01").by_id("ak-links-in")
    headings = [h3.words() for h3 in links_in.find_all("h3")]
    assert any(h.startswith("Maatregelen die deze vereiste ondersteunen") for h in headings)
    assert any(h.startswith("Hulpmiddelen bij deze vereiste") for h in headings)
    assert "/id/urn:nl:ak:mtr:org-01" in links_in.links()


def test_topic_page_lists_its_documents(client: FlaskClient) -> None:
    links_in = page_of(client, "/id/urn:nl:ak:ond:governance").by_id("ak-links-in")
    headings = [h3.words() for h3 in links_in.find_all("h3")]
    assert any(h.startswith("Maatregelen over dit onderwerp") for h in headings)
    assert "/id/urn:nl:ak:mtr:org-01" in links_in.links()


def test_page_without_rendered_body(
    make_app: Callable[..., Flask], sample_dist: Path, tmp_path: Path
) -> None:
    """A publication without html.json still serves every page, without bodies."""
    bare = copy_publication(sample_dist, tmp_path / "bare", without={"html.json"})
    page = page_of(make_app(bare).test_client(), "/id/urn:nl:ak:mtr:org-01")
    assert page.find("h1").words().startswith("Leg vast wie verantwoordelijk")
    assert not page.find_all("div", class_="document")
    assert not page.find_all("nav", class_="toc")  # no headings to point at


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
    for payload in PAYLOADS:
        assert payload not in html
    for element in parse_html(html).iter():
        assert element.tag not in ("script", "img", "iframe", "style", "object", "embed")
        for name, value in element.attrs.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            if name in ("href", "src", "action"):
                assert not (value or "").strip().lower().startswith("javascript:"), value


def test_script_in_content_renders_escaped(evil_app: Flask) -> None:
    client = evil_app.test_client()
    response = client.get("/id/urn:nl:ak:mtr:xss-01", headers=BROWSER)
    html = response.get_data(as_text=True)
    assert_clean(html)
    page = parse_html(html)
    # the title is text, shown as it was written
    assert page.find("h1").words() == (
        "Kwaad <script>alert(1)</script> en <img src=x onerror=alert(1)>"
    )
    # the heading with a script in it is still a section the contents point at
    body = body_of(page)
    anchors = [href.removeprefix("#") for href in page.find("nav", class_="toc").links()]
    assert len(anchors) == 2
    assert all(body.find_all("h2", id=anchor) for anchor in anchors)
    # the page that links in shows the title escaped too
    assert_clean(client.get("/id/urn:nl:ak:ver:xss-01", headers=BROWSER).get_data(as_text=True))
    assert_clean(client.get("/", headers=BROWSER).get_data(as_text=True))


def test_script_in_a_urn_renders_escaped(client: FlaskClient) -> None:
    for path in (
        "/id/urn:nl:ak:<script>alert(1)</script>",
        "/lookup?urn=<script>alert(1)</script>",
    ):
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert_clean(html)
        assert "<script>alert(1)</script>" in parse_html(html).find("article").words()


def test_a_tampered_page_is_sanitised_again(
    make_app: Callable[..., Flask], sample_dist: Path, tmp_path: Path
) -> None:
    """The server passes html.json through the policy again: a hand-edited file cannot inject."""
    dist = copy_publication(sample_dist, tmp_path / "dist")
    pages = json.loads((dist / "html.json").read_text(encoding="utf-8"))
    pages["urn:nl:ak:mtr:org-01"] = (
        '<h2 id="toelichting">Toelichting</h2><script>alert(1)</script>'
        '<p onclick="alert(1)"><a href="javascript:alert(1)">a</a> <a href="file:///etc/passwd">b'
        '</a> <a href="urn:nl:ak:ver:aia-01#toelichting">c</a> <a href="#risico">d</a>'
        ' <a href="https://example.org/">e</a></p>'
    )
    (dist / "html.json").write_text(json.dumps(pages), encoding="utf-8")
    response = make_app(dist).test_client().get("/id/urn:nl:ak:mtr:org-01", headers=BROWSER)
    html = response.get_data(as_text=True)
    assert_clean(html)
    body = body_of(parse_html(html))
    hrefs = {a.words(): a.get("href") for a in body.find_all("a")}
    assert hrefs == {
        "a": None,
        "b": None,
        "c": "/id/urn:nl:ak:ver:aia-01#toelichting",
        "d": "#risico",
        "e": "https://example.org/",
    }


# -- what every answer shares ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/lookup?urn=mtr:org-01", "/lookup?urn=nergens", "/health", "/nothing-here"]
)
def test_every_answer_allows_any_origin(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Origin": "http://x.test"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = response.headers["Access-Control-Expose-Headers"]
    for header in ("ETag", "Link", "Content-Location", "X-Result-Truncated"):
        assert header in exposed


@pytest.mark.parametrize(
    ("path", "method"), [("/", "GET"), ("/health", "GET"), ("/sparql", "POST")]
)
def test_preflight_allows_the_routes_methods(client: FlaskClient, path: str, method: str) -> None:
    response = client.options(
        path, headers={"Origin": "http://x.test", "Access-Control-Request-Method": method}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    allowed = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert method in allowed
    assert ("POST" in allowed) == (path == "/sparql")
    assert "Accept" in response.headers["Access-Control-Allow-Headers"]


def test_errors_are_plain_text_for_programs_and_pages_for_browsers(client: FlaskClient) -> None:
    for accept in (None, "*/*", "application/json", "text/turtle"):
        headers = {"Accept": accept} if accept else {}
        response = client.get("/nothing-here", headers=headers)
        assert response.status_code == 404
        assert response.content_type == "text/plain; charset=utf-8"
        assert response.get_data(as_text=True).startswith("404 Not Found: ")
        assert "Accept" in response.vary
    page = client.get("/nothing-here", headers=BROWSER)
    assert page.status_code == 404 and page.content_type == "text/html; charset=utf-8"
    assert parse_html(page.get_data(as_text=True)).find("h1").words().startswith("Not Found")
    wrong_method = client.post("/dump.ttl")
    assert wrong_method.status_code == 405
    assert wrong_method.content_type == "text/plain; charset=utf-8"
    assert "GET" in wrong_method.headers["Allow"]


ROUTES = REPO / "server" / "routes"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}".replace("..", ".") for alias in node.names)
    return found


def test_blueprints_do_not_import_each_other() -> None:
    blueprints = {path.stem for path in ROUTES.glob("*.py") if path.stem != "__init__"}
    assert {"pages", "resource", "sparql", "dumps", "health"} <= blueprints
    for path in ROUTES.glob("*.py"):
        imports = imported_modules(path)
        for other in blueprints - {path.stem}:
            assert f"server.routes.{other}" not in imports, (path.name, other)
            assert f".{other}" not in imports and f"server.{other}" not in imports
        assert not any(name.startswith("server.routes") for name in imports), path.name


#: What the application may use of ``kg``: settings, tables and the HTML policy, no parsing.
SERVER_USES_OF_KG = frozenset(
    {
        "kg.bounded",
        "kg.config",
        "kg.htmlpolicy",
        "kg.kind",
        "kg.manifest",
        "kg.namespace",
        "kg.profile",  # the /applicable query text (shared with `kg applicable`)
        "kg.vocabulary",  # the table of front-matter keys (browse facets: key -> predicate)
        "kg.search",  # the search index's tables (kg.corpus only for type checking)
        "kg.website",  # the official website's address
        "kg.decision_tree",  # /beslishulp: the published tree (JSON) read back into records
        "kg.decision_walk",  # /beslishulp: walking it, and its label map
        "kg.decision_answer",  # /beslishulp: where answers lead (shared with `kg beslishulp`)
        "kg.serialization",
        "kg.diff",  # /diff: the diff of two release graphs, on triples only (kg diff's)
        "kg.identifier",  # release_urn: a release's graph name, minted in one place
    }
)


def test_the_server_parses_no_content() -> None:
    """Pages show the HTML the build made: no Markdown parser, no link resolution from kg.

    (``server/runner.py`` is ``kg serve``, which may build first; the application is the rest.)
    """
    for path in (REPO / "server").rglob("*.py"):
        if path.name == "runner.py":
            continue
        for name in imported_modules(path):
            parts = name.split(".")
            assert parts[0] not in ("markdown", "markdown_it", "frontmatter", "pymdownx"), path
            if parts[0] == "kg" and len(parts) > 1:
                assert ".".join(parts[:2]) in SERVER_USES_OF_KG, (path, name)
