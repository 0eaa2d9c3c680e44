"""Dumps, checksums, context, ontology, validation report and VoID through the Flask client."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, RDF, VOID, XSD
from werkzeug.test import TestResponse

DUMPS = [
    ("/dump.ttl", "graph.ttl", "text/turtle", "turtle"),
    ("/dump.nt", "graph.nt", "application/n-triples", "nt"),
    ("/dump.jsonld", "graph.jsonld", "application/ld+json", "json-ld"),
]
SPDX = Namespace("http://spdx.org/rdf/terms#")
EUPL = URIRef("http://publications.europa.eu/resource/authority/licence/EUPL_1_2")


@contextmanager
def fetch(
    client: FlaskClient, path: str, method: str = "GET", **headers: str
) -> Iterator[TestResponse]:
    """A response whose file is closed afterwards (streamed files are, else ResourceWarning)."""
    response = client.open(path, method=method, headers=headers)
    try:
        yield response
    finally:
        response.close()


def manifest(dist: Path) -> dict[str, dict[str, object]]:
    files: dict[str, dict[str, object]] = json.loads((dist / "manifest.json").read_text())["files"]
    return files


def sha256_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def repr_digest(data: bytes) -> str:
    return f"sha-256=:{sha256_base64(data)}:"


@pytest.mark.parametrize(("path", "name", "media_type", "rdf_format"), DUMPS)
def test_dump_is_the_published_file(
    client: FlaskClient, sample_dist: Path, path: str, name: str, media_type: str, rdf_format: str
) -> None:
    data = (sample_dist / name).read_bytes()
    with fetch(client, path) as response:
        assert response.status_code == 200
        assert response.mimetype == media_type
        assert response.get_data() == data
        assert response.headers.get("Content-Encoding") is None
        assert response.headers["ETag"] == f'"{manifest(sample_dist)[name]["sha256"]}"'
        assert response.headers["Repr-Digest"] == repr_digest(data)
        assert response.headers["Digest"] == f"sha-256={sha256_base64(data)}"
        assert response.last_modified is not None
        assert "Accept-Encoding" in response.vary
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    parsed = Graph().parse(data=data, format=rdf_format)
    assert isomorphic(parsed, Graph().parse(sample_dist / "graph.nt", format="nt"))


@pytest.mark.parametrize(("path", "name", "media_type", "rdf_format"), DUMPS)
def test_dump_is_gzipped_when_the_client_takes_it(
    client: FlaskClient, sample_dist: Path, path: str, name: str, media_type: str, rdf_format: str
) -> None:
    packed = (sample_dist / f"{name}.gz").read_bytes()
    for accept_encoding in ("gzip", "gzip, deflate, br", "*", "br;q=1.0, gzip;q=0.5"):
        with fetch(client, path, **{"Accept-Encoding": accept_encoding}) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert response.mimetype == media_type
            assert response.get_data() == packed
            assert gzip.decompress(packed) == (sample_dist / name).read_bytes()
            assert response.headers["ETag"] == f'"{manifest(sample_dist)[f"{name}.gz"]["sha256"]}"'
            assert response.headers["Repr-Digest"] == repr_digest(packed)
    for accept_encoding in ("identity", "gzip;q=0", "br", "*;q=0"):
        with fetch(client, path, **{"Accept-Encoding": accept_encoding}) as response:
            assert "Content-Encoding" not in response.headers
            assert response.get_data() == (sample_dist / name).read_bytes()


def test_conditional_get(client: FlaskClient) -> None:
    with fetch(client, "/dump.ttl") as first:
        etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    with fetch(client, "/dump.ttl", **{"If-None-Match": etag}) as response:
        assert response.status_code == 304
        assert response.get_data() == b""
        assert response.headers["ETag"] == etag
    with fetch(client, "/dump.ttl", **{"If-None-Match": f'"other", {etag}'}) as response:
        assert response.status_code == 304
    with fetch(client, "/dump.ttl", **{"If-None-Match": '"other"'}) as response:
        assert response.status_code == 200
    with fetch(client, "/dump.ttl", **{"If-Modified-Since": last_modified}) as response:
        assert response.status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    with fetch(client, "/dump.ttl", **{"If-Modified-Since": old}) as response:
        assert response.status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
    headers = {"If-None-Match": '"other"', "If-Modified-Since": last_modified}
    with fetch(client, "/dump.ttl", **headers) as response:
        assert response.status_code == 200
    # the gzipped representation has its own ETag
    with fetch(client, "/dump.ttl", **{"Accept-Encoding": "gzip", "If-None-Match": etag}) as r:
        assert r.status_code == 200
        gz_etag = r.headers["ETag"]
    with fetch(client, "/dump.ttl", **{"Accept-Encoding": "gzip", "If-None-Match": gz_etag}) as r:
        assert r.status_code == 304


def test_head_and_ranges(client: FlaskClient, sample_dist: Path) -> None:
    data = (sample_dist / "graph.nt").read_bytes()
    with fetch(client, "/dump.nt", method="HEAD") as response:
        assert response.status_code == 200
        assert response.get_data() == b""
        assert response.content_length == len(data)
        assert response.headers["ETag"]
    with fetch(client, "/dump.nt", Range="bytes=0-99") as response:
        assert response.status_code == 206
        assert response.get_data() == data[:100]


@pytest.mark.parametrize(
    ("range_", "status"),
    [
        ("bytes=100-199", 206),
        ("bytes=-50", 206),  # the last 50 bytes
        # several ranges: the whole file (RFC 9110 §14.2 lets a server ignore Range)
        ("bytes=0-1,5-9", 200),
        ("bytes=" + ",".join(["0-0"] * 200), 200),
        # a Range that cannot be read is ignored (RFC 9110 §14.2)
        ("bytes=abc", 200),
        ("bytes=9-1", 200),
        ("items=0-1", 200),
        ("", 200),
        # one range past the end cannot be satisfied
        ("bytes=999999999-", 416),
    ],
)
def test_range_requests(client: FlaskClient, sample_dist: Path, range_: str, status: int) -> None:
    data = (sample_dist / "graph.nt").read_bytes()
    with fetch(client, "/dump.nt", Range=range_) as response:
        assert response.status_code == status
        body = response.get_data()
        if status == 200:
            assert body == data and "Content-Range" not in response.headers
        elif status == 206:
            start = 100 if range_ == "bytes=100-199" else len(data) - 50
            end = start + (100 if range_ == "bytes=100-199" else 50)
            assert body == data[start:end]
            assert response.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(data)}"
        else:
            assert response.headers["Content-Range"] == f"bytes */{len(data)}"
            assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_if_range_that_does_not_match_sends_the_whole_file(
    client: FlaskClient, sample_dist: Path
) -> None:
    data = (sample_dist / "graph.nt").read_bytes()
    with fetch(client, "/dump.nt", Range="bytes=0-9", **{"If-Range": '"other"'}) as response:
        assert response.status_code == 200 and response.get_data() == data


def test_checksums_context_and_ontology(client: FlaskClient, sample_dist: Path) -> None:
    with fetch(client, "/SHA256SUMS") as response:
        assert response.mimetype == "text/plain"
        sums = dict(line.split("  ")[::-1] for line in response.get_data(as_text=True).splitlines())
    for name in ("graph.ttl", "graph.nt", "graph.jsonld", "graph.ttl.gz"):
        assert sums[name] == hashlib.sha256((sample_dist / name).read_bytes()).hexdigest()
    with fetch(client, "/context.jsonld") as response:
        assert response.mimetype == "application/ld+json"
        assert "@context" in json.loads(response.get_data())
    with fetch(client, "/ontology.ttl") as response:
        assert response.mimetype == "text/turtle"
        assert len(Graph().parse(data=response.get_data(), format="turtle")) > 0


VALIDATION = [
    ("/validation.ttl", "validation.ttl", "text/turtle"),
    ("/validation.json", "validation.json", "application/json"),
]


def test_validation_report_is_served_when_there_is_one(
    make_app: Callable[..., Flask], sample_dist: Path, tmp_path: Path
) -> None:
    # a publication without a report
    bare = tmp_path / "bare"
    shutil.copytree(sample_dist, bare)
    published = json.loads((bare / "manifest.json").read_text())
    for _, name, _ in VALIDATION:
        (bare / name).unlink(missing_ok=True)
        published["files"].pop(name, None)
    (bare / "manifest.json").write_text(json.dumps(published))
    client = make_app(bare).test_client()
    for path, _, _ in VALIDATION:
        with fetch(client, path) as response:
            assert response.status_code == 404
    # a report added after the build (not in the manifest): digests computed from the file
    added = tmp_path / "added"
    shutil.copytree(bare, added)
    report = (
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "[] a sh:ValidationReport ; sh:conforms true .\n"
    )
    (added / "validation.ttl").write_text(report)
    (added / "validation.json").write_text('{"conforms": true}')
    client = make_app(added).test_client()
    with fetch(client, "/validation.ttl") as response:
        assert response.status_code == 200 and response.mimetype == "text/turtle"
        assert response.get_data(as_text=True) == report
        assert response.headers["Repr-Digest"] == repr_digest(report.encode())
    with fetch(client, "/validation.json") as response:
        assert response.json == {"conforms": True}


@pytest.mark.parametrize(("path", "name", "media_type"), VALIDATION)
def test_published_validation_report(
    client: FlaskClient, sample_dist: Path, path: str, name: str, media_type: str
) -> None:
    if not (sample_dist / name).is_file():
        pytest.skip("this build writes no validation report")
    data = (sample_dist / name).read_bytes()
    with fetch(client, path) as response:
        assert response.status_code == 200 and response.mimetype == media_type
        assert response.get_data() == data
        assert response.headers["ETag"] == f'"{manifest(sample_dist)[name]["sha256"]}"'
        assert response.headers["Repr-Digest"] == repr_digest(data)


def test_cors(client: FlaskClient) -> None:
    with fetch(client, "/dump.nt", Origin="http://x.test") as response:
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    headers = {"Origin": "http://x.test", "Access-Control-Request-Headers": "range"}
    with fetch(client, "/dump.nt", method="OPTIONS", **headers) as response:
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Range" in response.headers["Access-Control-Allow-Headers"]
    with fetch(client, "/.well-known/void") as response:
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_unknown_paths_are_404(client: FlaskClient) -> None:
    for path in ("/dump.xml", "/graph.ttl", "/manifest.jsonx"):
        with fetch(client, path) as response:
            assert response.status_code == 404


def void_graph(client: FlaskClient, accept: str = "text/turtle") -> Graph:
    with fetch(client, "/.well-known/void", Accept=accept) as response:
        assert response.status_code == 200
        assert "Accept" in response.vary
        fmt = {"text/turtle": "turtle", "application/ld+json": "json-ld"}[str(response.mimetype)]
        return Graph().parse(data=response.get_data(), format=fmt)


def test_void_and_dcat(client: FlaskClient, sample_dist: Path) -> None:
    graph = void_graph(client)
    dataset = URIRef("http://localhost/.well-known/void#dataset")
    assert (dataset, RDF.type, VOID.Dataset) in graph
    assert (dataset, RDF.type, DCAT.Dataset) in graph
    published = json.loads((sample_dist / "manifest.json").read_text())
    assert graph.value(dataset, VOID.triples).toPython() == published["triples"]  # type: ignore[union-attr]
    assert graph.value(dataset, VOID.uriSpace) == Literal("urn:nl:ak:")
    assert graph.value(dataset, VOID.sparqlEndpoint) == URIRef("http://localhost/sparql")
    assert graph.value(dataset, DCTERMS.license) == EUPL
    modified = graph.value(dataset, DCTERMS.modified)
    assert isinstance(modified, Literal) and modified.datatype == XSD.dateTime
    dumps = set(graph.objects(dataset, VOID.dataDump))
    assert dumps == {URIRef(f"http://localhost{path}") for path, *_ in DUMPS}
    files = manifest(sample_dist)
    for path, name, media_type, _ in DUMPS:
        distribution = graph.value(None, DCAT.downloadURL, URIRef(f"http://localhost{path}"))
        assert (dataset, DCAT.distribution, distribution) in graph
        assert graph.value(distribution, DCAT.mediaType) == URIRef(
            f"http://www.iana.org/assignments/media-types/{media_type}"
        )
        assert graph.value(distribution, DCAT.byteSize).toPython() == files[name]["bytes"]  # type: ignore[union-attr]
        checksum = graph.value(distribution, SPDX.checksum)
        assert str(graph.value(checksum, SPDX.checksumValue)) == files[name]["sha256"]
    # class partitions: every class of the data graph with its number of instances
    data = Graph().parse(sample_dist / "graph.nt", format="nt")
    expected = {c: len(set(data.subjects(RDF.type, c))) for c in set(data.objects(None, RDF.type))}
    partitions = {
        graph.value(p, VOID["class"]): graph.value(p, VOID.entities).toPython()  # type: ignore[union-attr]
        for p in graph.objects(dataset, VOID.classPartition)
    }
    assert partitions == expected
    assert graph.value(dataset, VOID.entities).toPython() == len(set(data.subjects(RDF.type)))  # type: ignore[union-attr]
    as_jsonld = void_graph(client, "application/ld+json")
    assert isomorphic(graph, as_jsonld)


def test_void_format_given_twice_the_first_counts(client: FlaskClient) -> None:
    with fetch(client, "/.well-known/void?format=jsonld&format=ttl") as response:
        assert response.status_code == 200
        assert response.mimetype == "application/ld+json"


def test_void_negotiation(client: FlaskClient) -> None:
    with fetch(client, "/.well-known/void") as response:
        assert response.mimetype == "text/turtle"
    with fetch(client, "/.well-known/void?format=nt") as response:
        assert response.mimetype == "application/n-triples"
    with fetch(client, "/.well-known/void", Accept="image/png") as response:
        assert response.status_code == 406
        assert response.mimetype == "text/plain"
        body = response.get_data(as_text=True)
        assert "text/turtle\t?format=turtle" in body
        assert "/.well-known/void?format=jsonld" in body
