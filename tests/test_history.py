"""``kg build --git``: every release of the upstream bundle a named graph, lineage, ``kg diff``.

The history is built once per session, in three steps on a clone of the bundle: with the
branch head one commit back (every release built), again unchanged (every release reused),
and after the last commit is added back (that one commit built). Expected values come from
git and the files themselves (``git ls-tree``, ``git cat-file``, ``git diff -M``, front matter
read with PyYAML), never from the graph under test.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import re
import subprocess
import unicodedata
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any

import pyoxigraph as ox
import pytest
import yaml
from flask import Flask

from kg.cli import main
from kg.gitrepo import check_out
from kg.history import cache_key
from tests.conftest import Run
from tests.conftest import git as _git

pytestmark = pytest.mark.corpus

AK = "urn:nl:ak:def:"
DCAT = "http://www.w3.org/ns/dcat#"
DCTERMS = "http://purl.org/dc/terms/"
VOID = "http://rdfs.org/ns/void#"
PROV = "http://www.w3.org/ns/prov#"
RELEASES = "urn:nl:ak:graph:releases"
LINEAGE = "urn:nl:ak:graph:lineage"
#: Folders (below docs/) of each kind, as upstream laid them out over the years.
FOLDERS = {
    "vereiste": ("vereisten", "voldoen-aan-wetten-en-regels/vereisten"),
    "maatregel": ("maatregelen", "voldoen-aan-wetten-en-regels/maatregelen"),
    "hulpmiddel": ("instrumenten", "voldoen-aan-wetten-en-regels/hulpmiddelen"),
    "onderwerp": ("onderwerpen", "bouwblokken"),
    "rol": ("rollen",),
    "levenscyclusfase": ("levenscyclus",),
}
CODED = {"vereiste": "ver", "maatregel": "mtr"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FILE_CODE = re.compile(r"^(?:[0-9]+-)?([a-z]{3}-[0-9]{2})(?:-|$)")


@pytest.fixture(scope="session")
def run(history: Run) -> Run:
    """The history publication of the bundle (built once per session: tests/conftest.py)."""
    return history


def _tags(repo: Path) -> list[str]:
    return _git(repo, "tag").split()


def _select(store: ox.Store, query: str) -> list[tuple[str, ...]]:
    return [tuple(term.value for term in row) for row in store.query(query)]  # type: ignore[union-attr]


# -- independent reading of the trees ---------------------------------------------------------


def _kind(path: str) -> str:
    relative = PurePosixPath(path).relative_to("docs")
    for kind, folders in FOLDERS.items():
        if relative.parent.as_posix() in folders and relative.stem != "index":
            return kind
        topic = relative.stem == "index" and relative.parent.parent.as_posix() in folders
        if kind == "onderwerp" and topic:
            return kind
    return "pagina"


def _front_matter(text: str) -> dict[str, object] | None:
    """The front matter as PyYAML reads it ({} without one); None when the build must refuse
    the file (empty, or front matter that is not a YAML mapping)."""
    if not text.strip():
        return None
    lines = text.lstrip("\ufeff").split("\n")
    if lines[0].strip() != "---":
        return {}
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return {}
    try:
        data = yaml.load("\n".join(lines[1:end]), Loader=_LOADER)
    except yaml.YAMLError:
        return None
    return {} if data is None else data if isinstance(data, dict) else None


class Trees:
    """Markdown files of any commit, read once per blob through ``git cat-file --batch``."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.blobs: dict[str, str] = {}
        self.listings: dict[str, dict[str, str]] = {}
        self.parsed: dict[str, dict[str, object] | None] = {}
        self.claims: dict[str, dict[str, str]] = {}

    def listing(self, ref: str) -> dict[str, str]:
        """Path -> blob of every ``docs/**/*.md`` of ``ref``."""
        if ref not in self.listings:
            lines = _git(self.repo, "ls-tree", "-r", "-z", ref, "docs").split("\0")
            entries = [line.split("\t", 1) for line in lines if line]
            found = {path: info.split()[2] for info, path in entries if path.endswith(".md")}
            self._read(sorted({blob for blob in found.values() if blob not in self.blobs}))
            self.listings[ref] = found
        return self.listings[ref]

    def files(self, ref: str) -> dict[str, str]:
        """Path -> text of every ``docs/**/*.md`` of ``ref``."""
        return {path: self.blobs[blob] for path, blob in self.listing(ref).items()}

    def matters(self, ref: str) -> dict[str, dict[str, object] | None]:
        """Path -> front matter (:func:`_front_matter`) of every Markdown file of ``ref``."""
        for blob in self.listing(ref).values():
            if blob not in self.parsed:
                self.parsed[blob] = _front_matter(self.blobs[blob])
        return {path: self.parsed[blob] for path, blob in self.listing(ref).items()}

    def _read(self, blobs: list[str]) -> None:
        if not blobs:
            return
        data = subprocess.run(
            ["git", "-C", str(self.repo), "cat-file", "--batch"],
            input="".join(f"{blob}\n" for blob in blobs).encode(),
            check=True,
            capture_output=True,
        ).stdout
        at = 0
        for blob in blobs:
            header_end = data.index(b"\n", at)
            size = int(data[at:header_end].split()[2])
            self.blobs[blob] = data[header_end + 1 : header_end + 1 + size].decode("utf-8")
            at = header_end + 1 + size + 1

    def urns(self, ref: str) -> dict[str, str]:
        """Path -> URN of each vereiste and maatregel the build keeps: ``id`` of the right
        pattern, else the file's code; of two files claiming one URN the first (by path)
        keeps it, the other gets the slug of its whole file name."""
        if ref in self.claims:
            return self.claims[ref]
        claimed: dict[str, str] = {}
        for path, matter in sorted(self.matters(ref).items()):
            kind = _kind(path)
            if kind not in CODED or matter is None:
                continue
            code = CODED[kind]
            given = str(matter.get("id", ""))
            if re.fullmatch(rf"urn:nl:ak:{code}:[a-z]{{3}}-[0-9]{{2}}", given):
                claimed[path] = given
            else:
                match = FILE_CODE.match(PurePosixPath(path).stem.lower())
                local = match.group(1) if match else _slug(PurePosixPath(path).stem)
                claimed[path] = f"urn:nl:ak:{code}:{local}"
        seen: set[str] = set()
        for path in sorted(claimed):
            if claimed[path] in seen:
                prefix = claimed[path].rsplit(":", 1)[0]
                claimed[path] = f"{prefix}:{_slug(PurePosixPath(path).stem)}"
            seen.add(claimed[path])
        self.claims[ref] = claimed
        return claimed


def _slug(text: str) -> str:
    """The README's slug: accents dropped, anything but ASCII letters and digits a hyphen."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


@pytest.fixture(scope="module")
def trees(run: Run) -> Trees:
    return Trees(run.repo)


# -- releases ---------------------------------------------------------------------------------


def test_every_tag_and_the_branch_head_is_a_named_graph(run: Run) -> None:
    tags = _tags(run.repo)
    assert len(tags) == 29
    graphs = {graph.value for graph in run.store.named_graphs()}  # type: ignore[union-attr]
    expected = {f"urn:nl:ak:release:{tag}" for tag in tags} | {"urn:nl:ak:release:main"}
    assert graphs == expected | {RELEASES, LINEAGE}


def test_release_metadata_is_git_s(run: Run) -> None:
    rows = _select(
        run.store,
        f"""SELECT ?version ?issued ?sha WHERE {{ GRAPH <{RELEASES}> {{
            ?release a <{DCAT}Dataset>, <{PROV}Entity> ; <{DCAT}version> ?version ;
              <{DCTERMS}issued> ?issued ; <{PROV}wasDerivedFrom> ?commit .
            ?commit <{DCTERMS}identifier> ?sha }} }}""",
    )
    found = {version: (issued, sha) for version, issued, sha in rows}
    for tag in [*_tags(run.repo), "main"]:
        sha, date = _git(run.repo, "log", "-1", "--format=%H %cI", f"{tag}^{{commit}}").split()
        assert found[tag] == (date, sha), tag


def test_counts_per_kind_equal_the_files_of_each_tree(run: Run, trees: Trees) -> None:
    rows = _select(
        run.store,
        f"""SELECT ?version ?class ?n WHERE {{ GRAPH <{RELEASES}> {{
            ?release <{DCAT}version> ?version ; <{VOID}classPartition> ?part .
            ?part <{VOID}class> ?class ; <{VOID}entities> ?n }} }}""",
    )
    published: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for version, cls, count in rows:
        published[version][cls.removeprefix(AK).lower()] = int(count)
    for tag in [*_tags(run.repo), "main"]:
        counted = collections.Counter(
            _kind(path) for path, matter in trees.matters(tag).items() if matter is not None
        )
        assert published[tag] == dict(counted), tag


def test_the_newest_release_is_the_default_graph_and_the_publication(run: Run) -> None:
    dist = run.added.publication.path
    default = {
        str(quad.triple)
        for quad in run.store.quads_for_pattern(None, None, None, ox.DefaultGraph())
    }
    main_graph = ox.NamedNode("urn:nl:ak:release:main")
    in_main = {
        str(quad.triple) for quad in run.store.quads_for_pattern(None, None, None, main_graph)
    }
    graph_nt = {
        str(triple)
        for triple in ox.parse(path=str(dist / "graph.nt"), format=ox.RdfFormat.N_TRIPLES)
    }
    assert default == in_main == graph_nt
    assert run.added.publication.manifest.commit == run.head


def test_trig_and_gzip_hold_the_same_dataset(run: Run) -> None:
    dist = run.added.publication.path
    nquads = (dist / "releases.nq").read_bytes()
    assert gzip.decompress((dist / "releases.nq.gz").read_bytes()) == nquads
    trig = gzip.decompress((dist / "releases.trig.gz").read_bytes())
    assert trig == (dist / "releases.trig").read_bytes()
    from_trig = ox.Dataset(ox.parse(trig, format=ox.RdfFormat.TRIG))
    assert len(from_trig) == len(run.store)


def test_the_publication_is_reproducible_and_its_checksums_hold(run: Run) -> None:
    """The dataset files are joined from the cached chunks as they are written: the same
    history gives the same bytes, and every checksum is the file's."""
    assert run.unchanged.publication.manifest.files == run.first.publication.manifest.files
    dist = run.added.publication.path
    for name, record in run.added.publication.manifest.files.items():
        data = (dist / name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (record.sha256, record.bytes)


def test_a_checkout_stopped_half_way_is_started_again(
    run: Run, trees: Trees, tmp_path: Path
) -> None:
    """The newest release's tree is kept between builds and only git's changes are written;
    one a killed build left half-written (its mark is there) is checked out anew."""
    before, after = run.first.history.releases[-1].commit, run.head
    tree = check_out(run.repo / ".git", before, tmp_path)
    unchanged = sorted(set(trees.listing(before).items()) & set(trees.listing(after).items()))
    path = unchanged[0][0]
    (tree / path).write_text("half-written", encoding="utf-8")
    (tmp_path / "unfinished").touch()
    tree = check_out(run.repo / ".git", after, tmp_path)
    assert (tree / path).read_text(encoding="utf-8") == trees.files(after)[path]
    assert not (tmp_path / "unfinished").exists()
    found = {p.relative_to(tree).as_posix() for p in (tree / "docs").rglob("*.md")}
    assert found == set(trees.listing(after))


@pytest.mark.parametrize(
    ("path", "name", "media_type"),
    [
        ("/dump.trig", "releases.trig", "application/trig"),
        ("/dump.nq", "releases.nq", "application/n-quads"),
    ],
)
def test_the_dataset_is_served_gzipped(
    run: Run, make_app: Callable[..., Flask], path: str, name: str, media_type: str
) -> None:
    dist = run.added.publication.path
    client = make_app(dist).test_client()
    with client.get(path, headers={"Accept-Encoding": "gzip"}) as answer:
        assert answer.status_code == 200
        assert answer.mimetype == media_type
        assert answer.headers["Content-Encoding"] == "gzip"
        assert answer.data == (dist / f"{name}.gz").read_bytes()
    with client.head(path) as plain:
        assert plain.headers.get("Content-Encoding") is None
        assert plain.content_length == (dist / name).stat().st_size


def test_incremental_rebuilds_build_only_what_is_new(run: Run) -> None:
    commits = {release.commit for release in run.first.history.releases}
    assert set(run.first.history.built) == commits
    assert run.unchanged.history.built == ()
    assert run.added.history.built == (run.head,)
    before = run.first.publication.path.parent
    assert before == run.added.publication.path.parent


# -- lineage ----------------------------------------------------------------------------------


def _git_renames(repo: Path, first: str, second: str) -> list[tuple[str, str]]:
    """(old path, new path) of the files ``git diff -M`` sees renamed."""
    fields = _git(repo, "diff", "-M", "--name-status", "-z", first, second).split("\0")
    found, index = [], 0
    while index < len(fields) - 1:
        if fields[index].startswith(("R", "C")):
            if fields[index].startswith("R"):
                found.append((fields[index + 1], fields[index + 2]))
            index += 3
        else:
            index += 2
    return found


def _file_code(path: str) -> str | None:
    match = FILE_CODE.match(PurePosixPath(path).stem.lower())
    return match.group(1) if match else None


def _renumberings_by_git(run: Run, trees: Trees) -> list[tuple[str, str, str, str, str]]:
    """(release, old path, new path, old URN, new URN) of every vereiste or maatregel file
    git sees renamed between consecutive releases with another code and another URN."""
    found = []
    for before, after in pairwise(run.added.history.releases):
        if before.commit == after.commit:
            continue
        old_urns, new_urns = trees.urns(before.commit), trees.urns(after.commit)
        for old, new in _git_renames(run.repo, before.commit, after.commit):
            if old not in old_urns or new not in new_urns or old_urns[old] == new_urns[new]:
                continue
            codes = _file_code(old), _file_code(new)
            if None not in codes and codes[0] != codes[1]:
                found.append((after.tag, old, new, old_urns[old], new_urns[new]))
    return found


def test_every_renumbering_git_sees_is_recorded_with_its_successor(run: Run, trees: Trees) -> None:
    expected = _renumberings_by_git(run, trees)
    rows = _select(
        run.store,
        f"""SELECT ?release ?old ?new ?oldUrn ?newUrn WHERE {{ GRAPH <{LINEAGE}> {{
            ?event a <{AK}Hernummering> ; <{AK}volgendeRelease> ?r ; <{AK}oudPad> ?old ;
              <{AK}nieuwPad> ?new ; <{AK}oudeUrn> ?oldUrn ; <{AK}nieuweUrn> ?newUrn .
            ?oldUrn <{DCTERMS}isReplacedBy> ?newUrn . ?newUrn <{PROV}wasRevisionOf> ?oldUrn .
            BIND(STRAFTER(STR(?r), "urn:nl:ak:release:") AS ?release) }} }}""",
    )
    published = set(rows)
    # 70 by git's rename detection; the lineage finds more by path and title (stated below).
    assert len(expected) >= 60
    assert sorted(set(expected) - published) == []
    assert len(published) == sum(move.renumbered for move in run.added.lineage.moves)


@pytest.mark.parametrize(
    ("release", "old", "new"),
    [
        # The example: aia-37 "melding ernstige incidenten" became aia-35 in v1.6.
        ("v1.6", "urn:nl:ak:ver:aia-37", "urn:nl:ak:ver:aia-35"),
        # owp-18 became owp-17 when v2.1 renumbered the ontwerp maatregelen.
        ("v2.1", "urn:nl:ak:mtr:owp-18", "urn:nl:ak:mtr:owp-17"),
        # A duplicate owp-11 (published as its file name) got its own number in v2.0.
        ("v2.0", "urn:nl:ak:mtr:2-owp-11-duurzaam-inkopen", "urn:nl:ak:mtr:owp-12"),
    ],
)
def test_known_urn_changes(run: Run, release: str, old: str, new: str) -> None:
    event = f"urn:nl:ak:lineage:{release}:move:{old.removeprefix('urn:nl:ak:')}"
    assert run.store.query(
        f"""ASK {{ GRAPH <{LINEAGE}> {{ <{event}> <{AK}oudeUrn> <{old}> ;
            <{AK}nieuweUrn> <{new}> ; <{AK}volgendeRelease> <urn:nl:ak:release:{release}> }} }}"""
    )


def test_a_reused_urn_says_what_it_named_before(run: Run, trees: Trees) -> None:
    before = trees.files("v1.5.1")
    path = "docs/vereisten/aia-37-melding-ernstige-incidenten.md"
    old_title = str((_front_matter(before[path]) or {})["title"]).strip()
    rows = _select(
        run.store,
        f"""SELECT ?old ?new ?successor WHERE {{ GRAPH <{LINEAGE}> {{
            ?event a <{AK}UrnHergebruik> ; <{AK}hergebruikteUrn> <urn:nl:ak:ver:aia-37> ;
              <{AK}volgendeRelease> <urn:nl:ak:release:v1.6> ; <{AK}oudeTitel> ?old ;
              <{AK}nieuweTitel> ?new ; <{DCTERMS}isReplacedBy> ?successor }} }}""",
    )
    assert rows == [(old_title, rows[0][1], "urn:nl:ak:ver:aia-35")]
    assert "klacht" in rows[0][1].lower()


def test_references_to_names_that_no_longer_exist_are_resolved_through_history(
    run: Run,
) -> None:
    found = {r.urn: (r.became, r.last_seen) for r in run.added.resolutions}
    prefix = "urn:nl:ak:ver:"
    assert found[f"{prefix}aia-37-melding-ernstige-incidenten"] == (f"{prefix}aia-35", "main")
    assert found[f"{prefix}aia-20-verstrekken-van-informatie-op-verzoek"] == (None, "v1.5.1")
    assert found["urn:nl:ak:mtr:2-owp-11-duurzaam-inkopen"][0] == "urn:nl:ak:mtr:owp-12"
    # Typos: no file of that name in any release.
    assert found[f"{prefix}aia-09-menselijke-toezicht"] == (None, None)
    assert run.store.query(
        f"""ASK {{ GRAPH <{LINEAGE}> {{ <{prefix}aia-37-melding-ernstige-incidenten>
            <{DCTERMS}isReplacedBy> <{prefix}aia-35> }} }}"""
    )


def test_presence_and_modification_per_resource(run: Run, trees: Trees) -> None:
    newest = trees.urns("main")
    rows = _select(
        run.store,
        f"""SELECT ?urn ?first ?last ?modified WHERE {{ GRAPH <{LINEAGE}> {{
            ?urn <{AK}eersteRelease> ?first ; <{AK}laatsteRelease> ?last ;
              <{DCTERMS}modified> ?modified }} }}""",
    )
    published = {urn: (first, last, modified) for urn, first, last, modified in rows}
    for path, urn in list(sorted(newest.items()))[::25]:
        date = _git(run.repo, "log", "-1", "--format=%cI", "main", "--", path).strip()
        assert published[urn][1:] == ("urn:nl:ak:release:main", date), urn
    # First and last release of every vereiste and maatregel, from the trees of all releases.
    releases = run.added.history.releases
    seen: dict[str, list[str]] = {}
    for release in releases:
        for urn in set(trees.urns(release.commit).values()):
            seen.setdefault(urn, []).append(str(release.urn))
    firsts = {
        urn: (first, last)
        for urn, first, last in _select(
            run.store,
            f"""SELECT ?urn ?first ?last WHERE {{ GRAPH <{LINEAGE}> {{
                ?urn <{AK}eersteRelease> ?first ; <{AK}laatsteRelease> ?last }} }}""",
        )
    }
    assert len(seen) > 200
    for urn, where in seen.items():
        assert firsts[urn] == (where[0], where[-1]), urn


# -- kg diff ----------------------------------------------------------------------------------


def _diff(out: Path, first: str, second: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["diff", first, second, "--out", str(out), "--json"]) == 0
    answer: dict[str, Any] = json.loads(capsys.readouterr().out)
    return answer


def test_diff_matches_git_s_added_and_removed_maatregelen(
    run: Run, trees: Trees, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _diff(run.added.publication.path, "v1.5", "v2.0", capsys)
    old_urns, new_urns = trees.urns("v1.5"), trees.urns("v2.0")
    status = _git(run.repo, "diff", "-M", "--name-status", "v1.5", "v2.0", "--", "docs")
    added_files = [
        line.split("\t")[-1]
        for line in status.splitlines()
        if line.startswith("A") and _kind(line.split("\t")[-1]) == "maatregel"
    ]
    assert len(added_files) > 10
    renamed_to = {pair["to"] for pair in found["renamed"]}
    renamed_from = {pair["from"] for pair in found["renamed"]}
    before = set(old_urns.values())
    for path in added_files:
        urn = new_urns[path]
        assert urn in found["added"] or urn in renamed_to or urn in before, path
    mtr = "urn:nl:ak:mtr:"
    expected_added = {u for u in new_urns.values() if u.startswith(mtr)} - before - renamed_to
    assert {u for u in found["added"] if u.startswith(mtr)} == expected_added
    expected_removed = before - set(new_urns.values()) - renamed_from
    coded = ("urn:nl:ak:mtr:", "urn:nl:ak:ver:")
    assert {u for u in found["removed"] if u.startswith(coded)} == expected_removed


def test_diff_names_the_changed_properties(
    run: Run, trees: Trees, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _diff(run.added.publication.path, "v2.0.1", "v2.1", capsys)
    old, new = trees.matters("v2.0.1"), trees.matters("v2.1")
    old_urns, new_urns = trees.urns("v2.0.1"), trees.urns("v2.1")
    retitled = {
        new_urns[path]
        for path in set(old) & set(new)
        if path in new_urns
        and old_urns.get(path) == new_urns[path]
        and (old[path] or {}).get("title") != (new[path] or {}).get("title")
    }
    assert len(retitled) > 50  # v2.1 retitled most maatregelen
    titled = {urn for urn, props in found["changed"].items() if f"{DCTERMS}title" in props}
    assert retitled <= titled


def test_diff_of_an_unknown_release_exits_2(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "v1.5", "v9.9", "--out", str(run.added.publication.path)]) == 2
    assert capsys.readouterr().err == "kg: no release 'v9.9' in the publication\n"


def test_builds_are_kept_per_code_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kg.history.code_fingerprint", lambda: "a" * 64)
    before = cache_key()
    monkeypatch.setattr("kg.history.code_fingerprint", lambda: "b" * 64)
    assert cache_key() != before


def test_a_bad_repository_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["build", "--git", str(tmp_path / "nothing"), "--out", str(tmp_path / "dist")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"kg: cannot fetch {tmp_path / 'nothing'}: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "dist").exists()
