"""The per-snapshot page cache (server/services/page_cache.py): a kept answer is the answer.

Every expectation is an answer of the same application with the cache off
(``page_cache_bytes=0``), or read from the content files; nothing is timed here (bench/pages.py
measures the speed).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import frontmatter
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import server.services.dataset as dataset_module
from kg.config import SettingsError, load_settings
from server.services.page_cache import Entry, PageCache, page_cache
from server.services.representation import FORMATS
from tests.conftest import SAMPLE_CONTENT, build_publication
from tests.helpers import parse_html

FORMAT_KEYS = tuple(fmt.key for fmt in FORMATS)
#: Accept headers that negotiate each format, a browser's, none, and one that negotiates
#: nothing (406).
ACCEPTS = (
    *(fmt.media_type for fmt in FORMATS),
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "",
    "image/png",
)
MAATREGEL = SAMPLE_CONTENT / "docs/voldoen-aan-wetten-en-regels/maatregelen"
ORG_01 = MAATREGEL / "0-org-01-verantwoordelijkheden-vastleggen.md"


def documents(dist: Path) -> list[str]:
    """The document URNs of a publication, from its source map (every file's resource)."""
    data = json.loads((dist / "sourcemap.json").read_text(encoding="utf-8"))
    return sorted(urn for urn in data["resources"] if "#" not in urn)


def answer(response: TestResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, sorted(response.headers.items()), response.get_data()


@pytest.fixture(scope="module")
def uncached(make_app: Callable[..., Flask], sample_dist: Path) -> Flask:
    return make_app(sample_dist, page_cache_bytes=0)


@pytest.fixture()
def cached(make_app: Callable[..., Flask], sample_dist: Path) -> Flask:
    return make_app(sample_dist)


def test_the_cache_is_off_at_zero_and_on_by_default(uncached: Flask, cached: Flask) -> None:
    assert page_cache(uncached) is None
    cache = page_cache(cached)
    assert cache is not None and cache.max_bytes == load_settings({}, {}).page_cache_bytes > 0


def test_every_format_from_the_cache_is_the_uncached_answer(
    cached: Flask, uncached: Flask, sample_dist: Path
) -> None:
    urns = documents(sample_dist)
    assert len(urns) >= 20
    fresh, kept = uncached.test_client(), cached.test_client()
    cache = page_cache(cached)
    assert cache is not None
    for urn in urns:
        for path in (f"/id/{urn}", f"/{urn}"):
            for key in (*FORMAT_KEYS, "ttl", "nt"):  # the keys, and other spellings
                expected = answer(fresh.get(path, query_string={"format": key}))
                assert expected[0] == 200, (path, key)
                stored = len(cache)
                first = answer(kept.get(path, query_string={"format": key}))
                assert len(cache) == stored + 1  # the answer was kept ...
                assert answer(kept.get(path, query_string={"format": key})) == first == expected
                assert len(cache) == stored + 1  # ... and the second one came from it
            assert answer(kept.get(path)) == answer(fresh.get(path))  # no Accept at all
            for accept in ACCEPTS:
                headers = {"Accept": accept}
                expected = answer(fresh.get(path, headers=headers))
                assert answer(kept.get(path, headers=headers)) == expected, (path, accept)
                assert answer(kept.get(path, headers=headers)) == expected, (path, accept)


#: Pages other than ``/id/`` that depend only on the snapshot, the address and the format.
LISTED_PAGES = (
    "/maatregelen?rollen=jurist&levenscyclus=ontwerp",
    "/vereisten",
    "/hulpmiddelen?sort=-titel",
    "/onderwerpen",
    "/begrippen",
    "/statistieken",
    "/statistieken?format=csv",
    "/zoeken?q=algoritme",
    "/zoeken?q=algoritme&soort=maatregel",
)


@pytest.mark.parametrize("path", LISTED_PAGES)
@pytest.mark.parametrize("accept", ["", "application/json", "text/csv"])
def test_lists_and_search_from_the_cache_are_the_uncached_answer(
    cached: Flask, uncached: Flask, path: str, accept: str
) -> None:
    fresh, kept = uncached.test_client(), cached.test_client()
    cache = page_cache(cached)
    assert cache is not None
    headers = {"Accept": accept} if accept else {}
    expected = answer(fresh.get(path, headers=headers))
    first = answer(kept.get(path, headers=headers))
    stored = len(cache)
    assert first == expected
    assert (stored == 1) == (expected[0] == 200)  # kept only when it succeeded
    assert answer(kept.get(path, headers=headers)) == expected  # the second from the cache
    assert len(cache) == stored


def test_head_and_conditional_requests(cached: Flask, uncached: Flask) -> None:
    path = "/id/urn:nl:ak:mtr:org-01"
    fresh, kept = uncached.test_client(), cached.test_client()
    full = kept.get(path)
    assert full.status_code == 200 and full.get_data()
    head = kept.head(path)  # from the cache
    assert head.status_code == 200 and head.get_data() == b""
    assert sorted(head.headers.items()) == sorted(full.headers.items())
    assert answer(head) == answer(fresh.head(path))
    etag = full.headers["ETag"]
    for client in (kept, fresh):
        not_modified = client.get(path, headers={"If-None-Match": etag})
        assert not_modified.status_code == 304 and not_modified.get_data() == b""
        assert not_modified.headers["ETag"] == etag
        # compared weakly (RFC 9110 §13.1.2): the weak form nginx gives a gzipped answer
        weak = client.get(path, headers={"If-None-Match": f"W/{etag}"})
        assert weak.status_code == 304 and weak.headers["ETag"] == etag
        stale = client.get(path, headers={"If-None-Match": '"not-this-one"'})
        assert answer(stale) == answer(full)
    assert answer(kept.get(path, headers={"If-None-Match": etag})) == answer(
        fresh.get(path, headers={"If-None-Match": etag})
    )


def test_the_byte_bound_holds(make_app: Callable[..., Flask], sample_dist: Path) -> None:
    urns = documents(sample_dist)
    probe = make_app(sample_dist).test_client()
    sizes = [len(probe.get(f"/id/{urn}").get_data()) for urn in urns]
    bound = 4 * max(sizes) + 4096  # a few pages, far fewer than all of them
    app = make_app(sample_dist, page_cache_bytes=bound)
    cache = page_cache(app)
    assert cache is not None
    client = app.test_client()
    for urn in urns:
        assert client.get(f"/id/{urn}").status_code == 200
        assert 0 < cache.bytes <= bound
    assert 0 < len(cache) < len(urns)
    assert cache.bytes >= sum(len(entry.body) for entry in _entries(cache))


def _entries(cache: PageCache) -> list[Entry]:
    return [entry for key in cache.kept_keys() if (entry := cache.get(key)) is not None]


def test_a_kept_answer_is_what_is_sent(cached: Flask) -> None:
    client = cached.test_client()
    cache = page_cache(cached)
    assert cache is not None
    path = "/id/urn:nl:ak:mtr:org-01"
    sent = client.get(path, query_string={"format": "turtle"})
    (key,) = cache.kept_keys()
    assert key[2:] == (path, b"format=turtle", "turtle")
    kept = cache.get(key)
    assert kept is not None and kept.body == sent.get_data()
    cache.put(key, Entry(200, (("Content-Type", "text/turtle"),), b"# marker\n", None))
    again = client.get(path, query_string={"format": "turtle"})
    assert again.get_data() == b"# marker\n"  # a second request is answered from the cache
    assert again.headers["Access-Control-Allow-Origin"] == "*"  # the site's headers added


def test_least_recently_used_out_first_and_large_answers_not_kept() -> None:
    entry = Entry(200, (("Content-Type", "text/html"),), b"x" * 500, None)
    keys = [("v1", "", f"/id/{n}", b"", "html") for n in range(5)]
    cost = entry.size + sum(len(part) for part in keys[0])
    cache = PageCache(4 * cost + cost // 2)  # room for four
    for key in keys[:4]:
        assert cache.put(key, entry)
    assert cache.get(keys[0]) is entry  # now the most recently used
    assert cache.put(keys[4], entry)  # no room for five: the least recently used goes
    assert cache.get(keys[1]) is None
    assert all(cache.get(key) is entry for key in (keys[0], *keys[2:]))
    assert len(cache) == 4 and cache.bytes == 4 * cost <= cache.max_bytes
    large = Entry(200, (), b"x" * cost, None)  # more than a quarter of the bound
    assert not cache.put(("v1", "", "/big", b"", "html"), large)
    assert cache.put(("v2", "", "/id/0", b"", "html"), entry)  # a new snapshot: the old go
    assert len(cache) == 1 and cache.get(keys[0]) is None


def test_a_new_snapshot_is_never_answered_from_the_old_cache(
    tmp_path: Path, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    content = tmp_path / "content"
    shutil.copytree(SAMPLE_CONTENT, content)
    dist = tmp_path / "dist"
    assert build_publication(content, dist)[0] == 0
    monkeypatch.setattr(dataset_module, "CHECK_INTERVAL", 0.0)  # look at ``dist`` every time
    app = make_app(dist)
    client = app.test_client()
    path = "/id/urn:nl:ak:mtr:org-01"
    before = {key: client.get(path, query_string={"format": key}) for key in FORMAT_KEYS}
    assert all(response.status_code == 200 for response in before.values())

    edited = _retitle(content / ORG_01.relative_to(SAMPLE_CONTENT), "Een nieuwe titel")
    assert build_publication(content, dist)[0] == 0
    reference = make_app(dist, page_cache_bytes=0).test_client()
    for key in FORMAT_KEYS:
        after = client.get(path, query_string={"format": key})
        assert after.headers["ETag"] != before[key].headers["ETag"]
        assert after.get_data() != before[key].get_data()
        assert answer(after) == answer(reference.get(path, query_string={"format": key}))
        old = client.get(path, query_string={"format": key}, headers=_if(before[key]))
        assert old.status_code == 200  # the old ETag names nothing any more
    page = parse_html(client.get(path).get_data(as_text=True))
    assert page.find("h1").words() == edited


def _if(response: TestResponse) -> dict[str, str]:
    return {"If-None-Match": response.headers["ETag"]}


def _retitle(path: Path, title: str) -> str:
    post = frontmatter.load(path)
    post["title"] = title
    path.write_text(frontmatter.dumps(post) + "\n", encoding="utf-8")
    written = frontmatter.load(path)["title"]
    assert isinstance(written, str)
    return written


def test_the_size_comes_from_the_environment() -> None:
    assert load_settings({}, {"KG_PAGE_CACHE_BYTES": "0"}).page_cache_bytes == 0
    assert load_settings({}, {"KG_PAGE_CACHE_BYTES": "1000"}).page_cache_bytes == 1000
    with pytest.raises(SettingsError):
        load_settings({}, {"KG_PAGE_CACHE_BYTES": "-1"})


def test_only_successful_answers_are_kept(cached: Flask) -> None:
    client: FlaskClient = cached.test_client()
    assert client.get("/id/urn:nl:ak:nothing:here").status_code == 404
    cache = page_cache(cached)
    assert cache is not None and len(cache) == 0  # only 200 answers are kept


def test_warming_renders_every_resource_page_ahead(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    app = make_app(sample_dist, page_cache_warm="html, turtle")
    cache = page_cache(app)
    assert cache is not None and cache.warm == ("html", "turtle")
    client = app.test_client()
    assert client.get("/id/urn:nl:ak:mtr:org-01").status_code == 200  # takes the snapshot up
    warmer = cache.warmer
    assert warmer is not None
    warmer.join(120)
    assert not warmer.is_alive()
    kept = {(path, variant) for _, _, path, query, variant in cache.kept_keys() if not query}
    for urn in documents(sample_dist):
        assert {(f"/id/{urn}", "html"), (f"/id/{urn}", "turtle")} <= kept, urn
    stored = len(cache)
    for urn in documents(sample_dist):
        assert client.get(f"/id/{urn}", headers={"Accept": "text/turtle"}).status_code == 200
    assert len(cache) == stored  # all answered from the cache
    client.get("/id/urn:nl:ak:mtr:org-01", query_string={"format": "jsonld"})
    assert cache.warmer is warmer  # once per snapshot


def test_warming_an_unknown_format_is_refused(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    with pytest.raises(ValueError, match="no format gif"):
        make_app(sample_dist, page_cache_warm="html,gif")
