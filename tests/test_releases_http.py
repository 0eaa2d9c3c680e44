"""The release history on the web: ``/releases``, ``/diff/A..B``, old URNs, ``?release=``.

Served by the Flask test client from the history publication that ``tests/test_history.py``
builds once per session from the upstream bundle (its ``run`` fixture: every tag and the branch
head). Expected values come from git and the files (``git ls-tree`` through its ``Trees``,
``git diff --name-status -M``, front matter read with PyYAML), and the cases of old URNs from
the published lineage graph, iterated one by one, plus a few hand-listed ones from issue 12.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import rdflib
import yaml
from flask import Flask
from flask.testing import FlaskClient
from rdflib.compare import isomorphic

from tests import test_history
from tests.helpers import parse_html
from tests.test_history import Run, Trees, _git, _kind, _tags

#: The history publication of the bundle, built by tests/test_history.py's fixture.
run = test_history.run

pytestmark = pytest.mark.corpus

LINEAGE = "urn:nl:ak:graph:lineage"
AK = "urn:nl:ak:def:"
DCAT = "http://www.w3.org/ns/dcat#"
IANA = "http://www.iana.org/assignments/media-types/"
#: A release's dumps: extension, media type, rdflib's name of the format (the main dumps').
DUMPS = [
    ("ttl", "text/turtle", "turtle"),
    ("nt", "application/n-triples", "nt"),
    ("jsonld", "application/ld+json", "json-ld"),
]
HTML = {"Accept": "text/html"}
SPARQL_JSON = {"Accept": "application/sparql-results+json"}


@pytest.fixture(scope="module")
def client(run: Run, make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(run.added.publication.path).test_client()


@pytest.fixture(scope="module")
def trees(run: Run) -> Trees:
    return Trees(run.repo)


@pytest.fixture(scope="module")
def listing(client: FlaskClient) -> list[dict[str, object]]:
    answer = client.get("/releases?format=json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    releases: list[dict[str, object]] = answer.get_json()["releases"]
    return releases


def _select(client: FlaskClient, query: str) -> list[dict[str, str]]:
    answer = client.post("/sparql", data={"query": query}, headers=SPARQL_JSON)
    assert answer.status_code == 200, answer.text
    return [
        {name: cell["value"] for name, cell in row.items()}
        for row in answer.get_json()["results"]["bindings"]
    ]


def _maatregel_files(trees: Trees, tag: str) -> int:
    return sum(
        1
        for path, matter in trees.matters(tag).items()
        if matter is not None and _kind(path) == "maatregel"
    )


# -- SPARQL over releases ---------------------------------------------------------------------


def test_from_named_over_two_releases(client: FlaskClient, trees: Trees) -> None:
    rows = _select(
        client,
        f"""SELECT ?g (COUNT(DISTINCT ?s) AS ?n)
        FROM NAMED <urn:nl:ak:release:v1.5> FROM NAMED <urn:nl:ak:release:v2.0>
        WHERE {{ GRAPH ?g {{ ?s a <{AK}Maatregel> }} }} GROUP BY ?g""",
    )
    found = {row["g"]: int(row["n"]) for row in rows}
    assert found == {
        "urn:nl:ak:release:v1.5": _maatregel_files(trees, "v1.5"),
        "urn:nl:ak:release:v2.0": _maatregel_files(trees, "v2.0"),
    }
    assert found["urn:nl:ak:release:v1.5"] != found["urn:nl:ak:release:v2.0"]


def test_the_default_graph_is_the_newest_release_only(client: FlaskClient, trees: Trees) -> None:
    """Not the union of every release: as many maatregelen as the branch head has files."""
    rows = _select(client, f"SELECT (COUNT(DISTINCT ?s) AS ?n) {{ ?s a <{AK}Maatregel> }}")
    assert int(rows[0]["n"]) == _maatregel_files(trees, "main")
    # the history (lineage) is in the default graph too
    assert _select(client, f"SELECT ?e {{ ?e a <{AK}Hernummering> }} LIMIT 1")


def test_the_service_description_lists_the_release_graphs(client: FlaskClient, run: Run) -> None:
    answer = client.get("/sparql", headers={"Accept": "application/n-triples"})
    names = {
        triple.object.value
        for triple in ox.parse(answer.data, format=ox.RdfFormat.N_TRIPLES)
        if triple.predicate.value == "http://www.w3.org/ns/sparql-service-description#name"
    }
    tags = [*_tags(run.repo), "main"]
    assert {f"urn:nl:ak:release:{quote(tag)}" for tag in tags} <= names
    assert "UnionDefaultGraph" not in answer.text


# -- /releases --------------------------------------------------------------------------------


def test_releases_counts_equal_the_files_of_each_tag(
    listing: list[dict[str, object]], run: Run, trees: Trees
) -> None:
    assert {entry["tag"] for entry in listing} == {*_tags(run.repo), "main"}
    for entry in listing:
        tag = str(entry["tag"])
        counted = collections.Counter(
            _kind(path) for path, matter in trees.matters(tag).items() if matter is not None
        )
        assert entry["counts"] == dict(counted), tag
        sha = _git(run.repo, "rev-parse", f"{tag}^{{commit}}").strip()
        assert entry["commit"] == sha


def test_releases_page_links_dumps_diffs_and_cites(
    client: FlaskClient, listing: list[dict[str, object]]
) -> None:
    page = parse_html(client.get("/releases", headers=HTML).text)
    for entry in listing:
        tag = str(entry["tag"])
        row = page.by_id(tag)
        for extension, media_type, _ in DUMPS:
            assert f"/releases/{tag}/dump.{extension}" in row.links()
            assert row.find("a", href=f"/releases/{tag}/dump.{extension}", type=media_type)
        if entry["previous"]:
            assert f"/diff/{entry['previous']}..{tag}" in row.links()
        assert f"versie {tag}" in str(entry["citation"]) and tag in page.text()
    assert len(page.find_all("cite")) == len(listing)
    assert page.find("nav").find("a", href="/releases")  # in the header


def test_a_release_dump_is_its_graph(client: FlaskClient, run: Run) -> None:
    answer = client.get("/releases/v1.5/dump.ttl")
    assert answer.status_code == 200 and answer.mimetype == "text/turtle"
    served = set(map(str, ox.parse(answer.data, format=ox.RdfFormat.TURTLE)))
    graph = ox.NamedNode("urn:nl:ak:release:v1.5")
    expected = {str(q.triple) for q in run.store.quads_for_pattern(None, None, None, graph)}
    assert served == expected
    assert client.get("/releases/v0.0/dump.ttl").status_code == 404


@pytest.mark.parametrize(("extension", "media_type", "rdflib_format"), DUMPS)
def test_a_release_dump_in_each_format_is_its_graph(
    client: FlaskClient, trees: Trees, extension: str, media_type: str, rdflib_format: str
) -> None:
    """Each format, read by rdflib (a client that is not Oxigraph), holds the Turtle dump's
    triples, and as many maatregelen as the tag has files."""
    answer = client.get(f"/releases/v1.5/dump.{extension}")
    assert answer.status_code == 200 and answer.mimetype == media_type
    served = rdflib.Graph().parse(data=answer.data, format=rdflib_format)
    turtle = client.get("/releases/v1.5/dump.ttl").data
    assert len(served) > 1000
    assert isomorphic(served, rdflib.Graph().parse(data=turtle, format="turtle"))
    maatregel = rdflib.URIRef(f"{AK}Maatregel")
    assert len(set(served.subjects(rdflib.RDF.type, maatregel))) == _maatregel_files(trees, "v1.5")
    assert client.get(f"/releases/v0.0/dump.{extension}").status_code == 404


def test_a_release_dump_by_content_negotiation(client: FlaskClient) -> None:
    for extension, media_type, _ in DUMPS:
        answer = client.get("/releases/v2.0/dump", headers={"Accept": media_type})
        assert answer.status_code == 200 and answer.mimetype == media_type
        assert answer.headers["Content-Location"] == f"/releases/v2.0/dump.{extension}"
        assert "Accept" in answer.vary
        assert answer.data == client.get(f"/releases/v2.0/dump.{extension}").data
        assert client.get(f"/releases/v2.0/dump?format={extension}").mimetype == media_type
    assert client.get("/releases/v2.0/dump").mimetype == "text/turtle"  # any will do: Turtle
    refused = client.get("/releases/v2.0/dump", headers={"Accept": "image/png"})
    assert refused.status_code == 406 and "/releases/v2.0/dump.jsonld" in refused.text


def test_a_release_dump_revalidates(client: FlaskClient) -> None:
    tags = set()
    for extension, _, _ in DUMPS:
        path = f"/releases/v1.5/dump.{extension}"
        first = client.get(path)
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert first.headers["Cache-Control"] == "public, no-cache"
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and not again.data
        assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        tags.add(etag)
    tags.add(client.get("/releases/v1.6/dump.ttl").headers["ETag"])
    assert len(tags) == len(DUMPS) + 1  # one per release and format


def test_void_lists_each_release_s_dumps(
    client: FlaskClient, listing: list[dict[str, object]]
) -> None:
    answer = client.get("/.well-known/void", headers={"Accept": "application/n-triples"})
    graph = rdflib.Graph().parse(data=answer.data, format="nt")
    for entry in listing:
        release = rdflib.URIRef(str(entry["graph"]))
        found = {
            str(graph.value(distribution, rdflib.URIRef(f"{DCAT}mediaType"))): str(
                graph.value(distribution, rdflib.URIRef(f"{DCAT}downloadURL"))
            )
            for distribution in graph.objects(release, rdflib.URIRef(f"{DCAT}distribution"))
        }
        expected = {
            f"{IANA}{media_type}": f"http://localhost/releases/{entry['tag']}/dump.{extension}"
            for extension, media_type, _ in DUMPS
        }
        assert found == expected
        plain = {media_type.removeprefix(IANA): url for media_type, url in expected.items()}
        assert entry["dumps"] == plain  # /releases?format=json lists the same


def test_void_cites_every_release(client: FlaskClient, listing: list[dict[str, object]]) -> None:
    answer = client.get("/.well-known/void", headers={"Accept": "application/n-triples"})
    triples = list(ox.parse(answer.data, format=ox.RdfFormat.N_TRIPLES))
    versions = {t.object.value for t in triples if t.predicate.value.endswith("dcat#hasVersion")}
    assert versions == {str(entry["graph"]) for entry in listing}
    citations = [t for t in triples if t.predicate.value.endswith("bibliographicCitation")]
    assert len(citations) == len(listing)


# -- /diff ------------------------------------------------------------------------------------


def _name_status(repo: Path, first: str, second: str) -> list[tuple[str, str]]:
    fields = _git(repo, "diff", "-M", "--name-status", "-z", first, second, "--", "docs")
    parts, found, index = fields.split("\0"), [], 0
    while index < len(parts) and parts[index]:
        status = parts[index]
        step = 3 if status[0] in "RC" else 2
        found.append((status[0], parts[index + step - 1]))
        if status[0] == "R":
            found.append(("D", parts[index + 1]))  # the old path, for the renamed check
        index += step
    return found


def test_diff_added_maatregelen_are_the_added_files(
    client: FlaskClient, run: Run, trees: Trees
) -> None:
    found = client.get("/diff/v1.5..v2.0?format=json").get_json()
    changes = _name_status(run.repo, "v1.5", "v2.0")
    new_urns, old_urns = trees.urns("v2.0"), trees.urns("v1.5")
    added_files = {
        new_urns[path]
        for status, path in changes
        if status == "A" and _kind(path) == "maatregel" and path in new_urns
    }
    deleted = {old_urns[path] for status, path in changes if status == "D" and path in old_urns}
    added = {urn for urn in found["added"] if ":mtr:" in urn}
    assert added and added <= added_files
    # an added file whose document history follows from a v1.5 document is a rename, and that
    # document's file is gone from v1.5's place (git: deleted or renamed)
    renamed = {entry["to"]: entry["from"] for entry in found["renamed"]}
    assert added_files - added == {urn for urn in renamed if urn in added_files}
    assert all(renamed[urn] in deleted for urn in added_files - added)
    assert not set(found["removed"]) & set(found["added"])


def test_diff_formats(client: FlaskClient) -> None:
    page = parse_html(client.get("/diff/v1.5..v2.0", headers=HTML).text)
    as_json = client.get("/diff/v1.5..v2.0", headers={"Accept": "application/json"}).get_json()
    assert len(page.by_id("toegevoegd").find_all("li")) == len(as_json["added"])
    assert len(page.by_id("gewijzigd").find_all("tr")) == len(as_json["changed"]) + 1
    turtle = client.get("/diff/v1.5..v2.0?format=ttl")
    assert turtle.mimetype == "text/turtle"
    store = ox.Store()
    store.load(turtle.data, format=ox.RdfFormat.TURTLE)
    changesets = store.query(
        "PREFIX cs: <http://purl.org/vocab/changeset/schema#> "
        "SELECT ?c ?s { ?c a cs:ChangeSet ; cs:subjectOfChange ?s }"
    )
    total = sum(len(as_json[key]) for key in ("added", "removed", "renamed", "changed"))
    assert len(list(changesets)) == total  # type: ignore[arg-type]  # one per resource and change
    assert client.get("/diff/v1.5..v99").status_code == 404
    assert client.get("/diff/v1.5").status_code == 400


# -- old URNs ---------------------------------------------------------------------------------


def _moves(run: Run) -> list[tuple[str, str, str]]:
    """(old URN, new URN, release) of every URN change the published lineage records."""
    query = f"""SELECT ?old ?new ?release WHERE {{ GRAPH <{LINEAGE}> {{
        ?e a ?kind ; <{AK}oudeUrn> ?old ; <{AK}nieuweUrn> ?new ; <{AK}volgendeRelease> ?release
        FILTER(?kind IN (<{AK}Hernummering>, <{AK}UrnWijziging>)) }} }}"""
    return [tuple(term.value for term in row) for row in run.store.query(query)]  # type: ignore[union-attr]


def _current(run: Run) -> set[str]:
    graph = ox.NamedNode("urn:nl:ak:release:main")
    kind = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    return {q.subject.value for q in run.store.quads_for_pattern(None, kind, None, graph)}  # type: ignore[union-attr]


def test_every_moved_urn_redirects_or_explains(client: FlaskClient, run: Run) -> None:
    moves = _moves(run)
    current = _current(run)
    outcomes: collections.Counter[str] = collections.Counter()
    for old in sorted({old for old, _, _ in moves}):
        answer = client.get(f"/id/{old}", headers=HTML)
        if answer.status_code == 301:
            target = answer.headers["Location"].removeprefix("/id/")
            assert target in current, old
            outcomes["redirect"] += 1
        elif answer.status_code in (300, 410):
            assert old in answer.text and "/releases" in answer.text, old
            outcomes["explained"] += 1
        else:
            assert answer.status_code == 200 and old in current, old
            # another document has the URN now: the page says what it named before
            assert parse_html(answer.text).find_all("p", class_="reused-urn"), old
            outcomes["reused"] += 1
    assert sum(outcomes.values()) == len({old for old, _, _ in moves}) > 100
    assert outcomes["redirect"] > 0 and outcomes["reused"] > 0


def test_hand_listed_old_urns(client: FlaskClient) -> None:
    # aia-37 was "melding ernstige incidenten" until v1.5.1; since v1.6 that document is aia-35
    page = parse_html(client.get("/id/urn:nl:ak:ver:aia-37", headers=HTML).text)
    notice = page.find("p", class_="reused-urn")
    assert "v1.5.1" in notice.text() and "/id/urn:nl:ak:ver:aia-35" in notice.links()
    # 2-owp-31 links to aia-37-melding-ernstige-incidenten, a name that no longer exists
    moved = client.get("/id/urn:nl:ak:ver:aia-37-melding-ernstige-incidenten")
    assert (moved.status_code, moved.headers["Location"]) == (301, "/id/urn:nl:ak:ver:aia-35")
    # the slug URN of v1.4 became aia-37 in v1.5 and aia-35 in v1.6: followed to the end
    chain = client.get("/id/urn:nl:ak:ver:melding-ernstige-incidenten")
    assert chain.headers["Location"] == "/id/urn:nl:ak:ver:aia-35"
    # owp-18 became owp-17 (issue 12): owp-18 names another document now, and says so
    owp = parse_html(client.get("/id/urn:nl:ak:mtr:owp-18", headers=HTML).text)
    assert any(
        "/id/urn:nl:ak:mtr:owp-17" in p.links() for p in owp.find_all("p", class_="reused-urn")
    )
    # a URN history never knew: 404 as before
    assert client.get("/id/urn:nl:ak:ver:never-was-here").status_code == 404


def test_a_release_qualified_urn_gives_that_release_s_meaning(
    client: FlaskClient, run: Run
) -> None:
    text = _git(run.repo, "show", "v1.5.1:docs/vereisten/aia-37-melding-ernstige-incidenten.md")
    title = yaml.safe_load(text.split("---")[1])["title"]
    old = parse_html(client.get("/id/urn:nl:ak:ver:aia-37?release=v1.5.1", headers=HTML).text)
    assert old.find("h1").text().strip() == title
    assert old.find("p", class_="release-view")
    new = parse_html(client.get("/id/urn:nl:ak:ver:aia-37", headers=HTML).text)
    assert new.find("h1").text().strip() != title
    turtle = client.get("/id/urn:nl:ak:ver:aia-37?release=v1.5.1&format=ttl")
    assert turtle.mimetype == "text/turtle"
    titles = [
        t.object.value
        for t in ox.parse(turtle.data, format=ox.RdfFormat.TURTLE)
        if t.predicate.value == "http://purl.org/dc/terms/title"
        and t.subject.value == "urn:nl:ak:ver:aia-37"
    ]
    assert titles == [title]
    # every triple about it in that release's graph (releases.nq as the fixture read it), and
    # nothing else about it
    graph, subject = ox.NamedNode("urn:nl:ak:release:v1.5.1"), ox.NamedNode("urn:nl:ak:ver:aia-37")
    had = {str(q.triple) for q in run.store.quads_for_pattern(subject, None, None, graph)}
    served = ox.parse(turtle.data, format=ox.RdfFormat.TURTLE)
    assert {str(t) for t in served if t.subject == subject} == had
    assert client.get("/id/urn:nl:ak:ver:aia-37?release=v9.9").status_code == 404
    assert client.get("/id/urn:nl:ak:ver:aia-50?release=v1.1").status_code == 404


def test_a_resource_page_shows_its_history(
    client: FlaskClient, trees: Trees, listing: list[dict[str, object]]
) -> None:
    urn = "urn:nl:ak:ver:aia-37"
    oldest_first = [str(entry["tag"]) for entry in reversed(listing)]
    having = [tag for tag in oldest_first if urn in trees.urns(tag).values()]
    page = parse_html(client.get(f"/id/{urn}", headers=HTML).text)
    history = page.by_id("ak-geschiedenis")
    assert history.find("h2").text() == "Geschiedenis"
    assert f"/releases#{having[0]}" in history.links()
    assert [a.text() for a in history.find("ul", class_="in-releases").find_all("a")] == having
    diffs = [link for link in history.links() if link.startswith("/diff/")]
    assert diffs and all(client.get(link).status_code == 200 for link in diffs)
    # v1.5.1 -> v1.6 is where another document took the URN: a diff the page links
    assert "/diff/v1.5.1..v1.6" in diffs
