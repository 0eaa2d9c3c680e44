"""Hostile content: whatever a file of the content folder is or holds, the build reads only
regular files inside the folder, finishes in bounded time, reports that file at ``path:line``
and publishes every other document.

The bounds are enforced, not just stated (each load is timed):

* fuzzing: a corpus with one hostile file is loaded, built and published (no validation) in
  under :data:`LOAD_SECONDS` (5 s; the parse limit is set to 2 s here, 10 s by default), never
  with an exception;
* billion laughs, 10⁹ references: the front matter is refused in under 0.1 s, the whole load
  in under 1 s;
* a symlink to ``/dev/zero`` and a FIFO: ``kg build`` finishes within 60 s (without the limits
  it reads forever, or blocks forever);
* a page Python-Markdown needs minutes for is stopped at the parse limit.

The limits are those README.md documents (1 MiB per file, 10,000 values and 100 levels of
front matter, 10 s per document); the tests write them out rather than import them.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import secrets
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import RDF, URIRef

from kg.bounded import Failed, map_bounded
from kg.built import Build
from kg.config import Settings
from kg.corpus import Corpus, load_corpus
from kg.diagnostic import Diagnostic, Severity
from kg.graph import build_graph
from kg.metadata import MatterError, split_matter
from kg.namespace import AK
from kg.publication import write_publication
from tests.conftest import REPO
from tests.test_bad_input import GOOD_MAATREGEL, GOOD_VEREISTE, MAATREGELEN, VEREISTEN, write

LOAD_SECONDS = 5.0
PARSE_SECONDS = 2.0
ONE_MIB = 1_048_576
HOSTILE = f"{MAATREGELEN}/0-tst-09-vijandig.md"
GOOD = {
    URIRef("urn:nl:ak:ver:tst-01"): AK.Vereiste,
    URIRef("urn:nl:ak:mtr:tst-01"): AK.Maatregel,
}
#: In the title of the file outside the content folder: it must never be published.
OUTSIDE_TOKEN = "buiten" + secrets.token_hex(8)


def good_content(root: Path) -> None:
    write(root, f"{VEREISTEN}/tst-01-goed.md", GOOD_VEREISTE)
    write(root, f"{MAATREGELEN}/0-tst-01-goed.md", GOOD_MAATREGEL)


def outside_folder(base: Path) -> Path:
    """A folder next to the content, with a valid document whose title is a secret."""
    outside = base / "outside"
    outside.mkdir()
    (outside / "geheim.md").write_text(f"---\ntitle: {OUTSIDE_TOKEN}\n---\n{OUTSIDE_TOKEN}\n")
    (outside / "docs").mkdir()
    return outside


@dataclass(frozen=True)
class Published:
    corpus: Corpus
    build: Build
    seconds: float
    dist: Path


def publish_timed(root: Path, dist: Path) -> Published:
    """Load, build and publish (no validation), timed."""
    started = time.perf_counter()
    corpus = load_corpus(root, parse_seconds=PARSE_SECONDS)
    build = build_graph(corpus)
    write_publication(dist, corpus, build)
    return Published(corpus, build, time.perf_counter() - started, dist)


def assert_good_documents_published(result: Published) -> None:
    for urn, cls in GOOD.items():
        assert (urn, RDF.type, cls) in result.build.triples, result.corpus.diagnostics
    nt = (result.dist / "graph.nt").read_text(encoding="utf-8")
    assert all(f"<{urn}>" in nt for urn in GOOD)


def errors_at(corpus: Corpus, path: str) -> list[Diagnostic]:
    return [d for d in corpus.diagnostics if d.path == path and d.severity is Severity.ERROR]


def published_bytes(dist: Path) -> Iterator[tuple[str, bytes]]:
    """Every file of a publication, the gzipped ones unpacked."""
    for file in sorted(dist.iterdir()):
        data = file.read_bytes()
        yield file.name, gzip.decompress(data) if file.suffix == ".gz" else data


# -- the fuzzer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile entry: ``make(content, outside)`` creates it at ``path``; ``code`` is the
    error (or, for ``symlink-folder``, warning) it must give, None when it may also be
    published (random input can be valid)."""

    label: str
    make: Callable[[Path, Path], None] = field(repr=False)
    path: str = HOSTILE
    code: str | None = None


def file_case(label: str, data: bytes, code: str | None = None) -> Case:
    return Case(label, lambda root, _: write(root, HOSTILE, data), code=code)


def link_case(label: str, target: Callable[[Path, Path], str], code: str) -> Case:
    def make(root: Path, outside: Path) -> None:
        (root / HOSTILE).symlink_to(target(root, outside))

    return Case(label, make, code=code)


YAML_PIECES = [
    "title: Vijandig",
    "title: &t Vijandig",
    "title: *t",
    "id: urn:nl:ak:mtr:tst-09",
    "id: urn:nl:ak:mtr:tst-01",
    "vereiste: [tst-01-goed, *t]",
    "vereiste:\n- tst-01-goed\n- &v [a, *v]",
    "onderwerp: {a: *t, b: [*t, *t]}",
    "<<: *t",
    "a: [",
    "a: {",
    "- x",
    "? [a, b]\n: c",
    "'q: x",
    "title: !!binary aGk=",
    "title: !!python/object:os.system x",
    "%YAML 1.1",
    "...",
    "\t",
    "title:\n  - a\n  - b",
    "title: ~",
    "title: {x: y}",
    "a<b>: c",
    '"{x|y}": z',
    "title: Tweede keer",
    "sources: [&s x, *s, *s, *s]",
]


def front_matter(yaml_text: str, body: str = "## Maatregel\nTekst.\n") -> bytes:
    return f"---\n{yaml_text}\n---\n{body}".encode()


def laughs(levels: int, width: int) -> str:
    """``levels`` anchors (``a``, ``b``, …), each a list of ``width`` aliases of the one
    before: the last stands for ``width ** levels`` values."""
    names = "abcdefghi"[:levels]
    lines = [f"a: &a [{','.join(['x'] * width)}]"]
    lines += [
        f"{name}: &{name} [{','.join([f'*{before}'] * width)}]"
        for before, name in itertools.pairwise(names)
    ]
    return "title: Lachen\n" + "\n".join(lines)


def laugh_values(levels: int, width: int) -> int:
    """The values :func:`laughs` stands for, by README's rule: every key and value, each
    alias as all the values of its anchor (a list: itself and its items)."""
    sizes = [1 + width]  # l0: the list and its scalars
    for _ in range(1, levels):
        sizes.append(1 + width * sizes[-1])
    return 2 + levels + sum(sizes)  # title and its value, the keys l0…, the lists


def nested(depth: int, style: str) -> str:
    """A value ``depth`` lists or mappings deep under the key ``a`` (so ``depth + 1`` levels
    with the top-level mapping)."""
    if style == "flow-list":
        return "title: Diep\na: " + "[" * depth + "x" + "]" * depth
    if style == "flow-map":
        return "title: Diep\na: " + "{k: " * depth + "x" + "}" * depth
    if style == "block-list":
        return (
            "title: Diep\na:\n"
            + "".join("  " * n + "-\n" for n in range(depth - 1))
            + ("  " * (depth - 1) + "- x")
        )
    keys = "".join("  " * n + f"k{n}:\n" for n in range(depth))
    return "title: Diep\na:\n" + "\n".join("  " + line for line in keys.splitlines()) + " x"


def make_fifo(root: Path, _: Path) -> None:
    (root / HOSTILE).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(root / HOSTILE)


def make_socket(root: Path, _: Path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / HOSTILE))


def make_folder_link(root: Path, outside: Path) -> None:
    (outside / "docs" / "buiten.md").write_text(f"---\ntitle: {OUTSIDE_TOKEN}\n---\n")
    (root / MAATREGELEN / "extern").symlink_to(outside / "docs")


def make_chain(root: Path, outside: Path) -> None:
    (root / "via").symlink_to(outside / "geheim.md")
    (root / HOSTILE).symlink_to("../../../via")


def make_loop_pair(root: Path, _: Path) -> None:
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    (root / HOSTILE).symlink_to("../../../a")


SYMLINK_CASES = [
    link_case("outside file", lambda _, out: str(out / "geheim.md"), "outside-content"),
    link_case(
        "outside, relative",
        lambda _, out: f"../../../../{out.name}/geheim.md",
        "outside-content",
    ),
    link_case("/proc/self/environ", lambda *_: "/proc/self/environ", "outside-content"),
    link_case("/dev/zero", lambda *_: "/dev/zero", "outside-content"),
    link_case("/etc/passwd", lambda *_: "/etc/passwd", "outside-content"),
    link_case("folder outside", lambda _, out: str(out), "outside-content"),
    link_case("folder inside", lambda *_: "..", "not-a-file"),
    link_case("dangling", lambda *_: "bestaat-niet.md", "dangling-symlink"),
    link_case("loop", lambda *_: Path(HOSTILE).name, "symlink-loop"),
    Case("loop of two", make_loop_pair, code="symlink-loop"),
    Case("chain to outside", make_chain, code="outside-content"),
    link_case("good file inside", lambda *_: "0-tst-01-goed.md", "duplicate-urn"),
    Case("FIFO", make_fifo, code="not-a-file"),
    Case("socket", make_socket, code="not-a-file"),
    Case("folder link", make_folder_link, f"{MAATREGELEN}/extern", "symlink-folder"),
]

ENCODINGS = ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252"]
GOOD_TEXT = "---\ntitle: Café ✓\nid: urn:nl:ak:mtr:tst-09\n---\n## Maatregel\nTekst € ü.\n"


@st.composite
def yaml_pieces(draw: st.DrawFn) -> Case:
    pieces = draw(st.lists(st.sampled_from(YAML_PIECES), max_size=12))
    return file_case("pieces", front_matter("\n".join(pieces), draw(st.text(max_size=200))))


@st.composite
def random_text(draw: st.DrawFn) -> Case:
    return file_case("text", front_matter(draw(st.text(max_size=300)), draw(st.text())))


@st.composite
def aliases(draw: st.DrawFn) -> Case:
    depth, width = draw(st.integers(2, 9)), draw(st.integers(2, 10))
    code = "yaml" if laugh_values(depth, width) > 10_000 else None
    return file_case(f"laughs {depth}x{width}", front_matter(laughs(depth, width)), code)


@st.composite
def deep_nesting(draw: st.DrawFn) -> Case:
    depth = draw(st.integers(1, 3000))
    style = draw(st.sampled_from(["flow-list", "flow-map", "block-list", "block-map"]))
    data = front_matter(nested(depth, style))
    # Levels: the top-level mapping and ``depth`` below it; 100 are allowed. Deep block
    # mappings are indented further at every level: past ~1,000 they are over 1 MiB too.
    code = "too-large" if len(data) > ONE_MIB else "yaml" if depth + 1 > 100 else None
    return file_case(f"deep {style} {depth}", data, code)


@st.composite
def odd_encodings(draw: st.DrawFn) -> Case:
    encoding = draw(st.sampled_from(ENCODINGS))
    data = GOOD_TEXT.encode(encoding, errors="replace")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return file_case(encoding, data, "encoding")
    return file_case(encoding, data)


@st.composite
def nul_bytes(draw: st.DrawFn) -> Case:
    text = GOOD_TEXT
    for index in sorted(draw(st.lists(st.integers(0, len(text)), min_size=1, max_size=3))):
        text = text[:index] + "\x00" + text[index:]
    return file_case("nul", text.encode())


@st.composite
def huge_files(draw: st.DrawFn) -> Case:
    size = draw(st.sampled_from([ONE_MIB - 1, ONE_MIB, ONE_MIB + 1, 3 * ONE_MIB]))
    head = front_matter("title: Groot", "")
    code = "too-large" if size > ONE_MIB else None
    return file_case(f"huge {size}", head + b"a" * (size - len(head)), code)


@st.composite
def odd_names(draw: st.DrawFn) -> Case:
    name = draw(st.binary(min_size=1, max_size=12).filter(lambda b: not {47, 0} & set(b)))
    path = os.fsdecode(os.fsencode(MAATREGELEN) + b"/" + name + b".md")
    return Case("name", lambda root, _: write(root, path, GOOD_TEXT), path=path)


HOSTILE_CASES = st.one_of(
    yaml_pieces(),
    random_text(),
    aliases(),
    deep_nesting(),
    st.binary(max_size=4096).map(lambda data: file_case("binary", data)),
    odd_encodings(),
    nul_bytes(),
    huge_files(),
    st.sampled_from(SYMLINK_CASES),
    odd_names(),
)


@settings(
    max_examples=60,
    deadline=timedelta(seconds=LOAD_SECONDS * 2),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=HOSTILE_CASES)
def test_fuzz_every_hostile_file_is_reported_and_others_published(case: Case) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        root = base / "content"
        good_content(root)
        outside = outside_folder(base)
        case.make(root, outside)
        result = publish_timed(root, base / "dist")

        assert result.seconds < LOAD_SECONDS, (case.label, result.seconds)
        assert_good_documents_published(result)
        for diagnostic in result.corpus.diagnostics + result.build.diagnostics:
            line = diagnostic.format()
            assert "\n" not in line and line.encode("utf-8")  # one printable line
            assert diagnostic.line >= 0
        for name, data in published_bytes(result.dist):
            assert OUTSIDE_TOKEN.encode() not in data, (case.label, name)

        # One hostile entry per example: a name error can only be about it.
        reported = [
            d
            for d in result.corpus.diagnostics
            if d.path == case.path or (case.label == "name" and d.code == "file-name")
        ]
        if case.code is not None:
            assert any(d.code == case.code for d in reported), (case.label, reported)
        if case.code == "symlink-folder":
            return
        published = any(d.path == case.path for d in result.corpus.documents)
        assert published or any(d.severity is Severity.ERROR for d in reported), (
            case.label,
            result.corpus.diagnostics,
        )
        assert published != (len(result.corpus.rejected) == 1), (case.label, result.corpus)


# -- one secret, the whole way: kg build on the command line, then the server -----------------


def run_kg(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kg.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_a_secret_outside_the_folder_is_never_published_nor_served(tmp_path: Path) -> None:
    """A symlink to a file with a secret, one to ``/proc/self/environ`` with a secret in the
    environment, and the glossary as a symlink to a secret: each an error at its path, exit 1,
    and the secrets in no file of the publication and no answer of the server. A token in a
    document inside the folder is found by the same searches (so they can fail)."""
    file_secret, env_secret, glossary_secret = (secrets.token_hex(12) for _ in range(3))
    inside_token = "binnen" + secrets.token_hex(8)
    root = tmp_path / "content"
    good_content(root)
    write(root, f"{MAATREGELEN}/0-tst-08-binnen.md", f"---\ntitle: {inside_token}\n---\n")
    secret = tmp_path / "secret.txt"
    secret.write_text(f"---\ntitle: {file_secret}\n---\n## Geheim\n{file_secret}\n")
    glossary = tmp_path / "glossary.txt"
    glossary.write_text(f"*[{glossary_secret}]: {glossary_secret}\n")
    links = {
        f"{MAATREGELEN}/0-tst-09-geheim.md": str(secret),
        f"{MAATREGELEN}/0-tst-10-omgeving.md": "/proc/self/environ",
        "includes/begrippenlijst.md": str(glossary),
    }
    (root / "includes").mkdir()
    for path, target in links.items():
        (root / path).symlink_to(target)
    dist = tmp_path / "dist"
    environment = {**os.environ, "KG_TEST_SECRET": env_secret}

    result = run_kg("build", "--content", str(root), "--out", str(dist), env=environment)

    assert result.returncode == 1, result.stderr
    for path in links:
        assert f"{path}: error: symlink to " in result.stderr
        assert "ends outside the content folder; not read [outside-content]" in result.stderr
    tokens = (file_secret, env_secret, glossary_secret)
    assert inside_token in (dist / "graph.nt").read_text(encoding="utf-8")
    for name, data in published_bytes(dist):
        for token in tokens:
            assert token.encode() not in data, name
    answers = server_answers(dist, inside_token, *tokens)
    assert inside_token.encode() in answers["sparql: the tokens"]
    assert inside_token.encode() in answers["html: urn:nl:ak:mtr:tst-08"]
    for label, answer in answers.items():
        for token in tokens:
            assert token.encode() not in answer, label


def server_answers(dist: Path, *tokens: str) -> dict[str, bytes]:
    """The server's answers to everything a client may ask of this publication: the home
    page, every file it serves, SPARQL for ``tokens`` and for every literal, and the page and
    RDF of every resource of the graph."""
    from server import create_app

    app = create_app(Settings(out=dist))
    app.testing = True
    client = app.test_client()

    def fetch(path: str, **query: str) -> bytes:
        response = client.get(path, query_string=query, headers={"Accept-Encoding": "identity"})
        try:
            assert response.status_code in (200, 404), (path, response.status_code)
            return response.get_data()
        finally:
            response.close()  # files are sent from open handles

    answers: dict[str, bytes] = {}
    paths = ["/", "/health", "/.well-known/void", "/sparql", "/dump.ttl", "/dump.nt"]
    paths += ["/dump.jsonld", "/SHA256SUMS", "/context.jsonld", "/ontology.ttl"]
    paths += ["/validation.ttl", "/validation.json"]
    for path in paths:
        answers[path] = fetch(path)
    filters = " || ".join(f'CONTAINS(STR(?o), "{token}")' for token in tokens)
    queries = {
        "sparql: the tokens": f"SELECT ?s ?p ?o WHERE {{ ?s ?p ?o FILTER({filters}) }}",
        "sparql: every literal": "SELECT ?o WHERE { ?s ?p ?o FILTER(isLiteral(?o)) }",
    }
    for label, query in queries.items():
        answers[label] = fetch("/sparql", query=query, format="csv")
    nt = (dist / "graph.nt").read_text(encoding="utf-8")
    for urn in sorted(set(re.findall(r"^<(urn:nl:ak:[^>#]+)>", nt, re.MULTILINE))):
        for form in ("html", "turtle"):
            answers[f"{form}: {urn}"] = fetch(f"/id/{urn}", format=form)
    return answers


# -- billion laughs, deep nesting ------------------------------------------------------------


def test_billion_laughs_is_refused_at_once_and_the_rest_published(tmp_path: Path) -> None:
    """Nine levels of ten aliases: 10⁹ references, in under 400 bytes."""
    text = front_matter(laughs(9, 10)).decode()
    assert len(text) < 400
    assert laugh_values(9, 10) > 10**9
    started = time.perf_counter()
    with pytest.raises(MatterError) as refused:
        split_matter(text)
    # a bound, not a speed (measured ~20 ms): expanding 10⁹ references would take hours
    assert time.perf_counter() - started < 1.0
    assert "more than 10,000 values" in str(refused.value)
    assert 2 <= refused.value.line <= 11

    root = tmp_path / "content"
    good_content(root)
    write(root, HOSTILE, text)
    result = publish_timed(root, tmp_path / "dist")
    assert result.seconds < 1.0
    assert_good_documents_published(result)
    [error] = errors_at(result.corpus, HOSTILE)
    assert error.code == "yaml" and error.line >= 2
    assert HOSTILE in result.corpus.rejected


def test_the_value_limit_counts_every_use_of_an_alias() -> None:
    """A list of 99 values used again and again under ``u``. Counted by hand, as README
    says: the keys ``l`` and ``u`` (2), the anchored list and its items (100), the list under
    ``u`` (1), and each use of ``*l`` as the list and its items (100)."""
    items = ", ".join(["x"] * 99)

    def text(uses: int) -> str:
        return f"---\nl: &l [{items}]\nu: [{', '.join(['*l'] * uses)}]\n---\n"

    assert 2 + 100 + 1 + 98 * 100 == 9_903  # within 10,000
    entry = split_matter(text(98)).get("u")
    assert entry is not None and isinstance(entry.value.value, list)
    assert len(entry.value.value) == 98
    assert 2 + 100 + 1 + 99 * 100 == 10_003  # over
    with pytest.raises(MatterError, match="more than 10,000 values"):
        split_matter(text(99))


def levels(value: object) -> int:
    """How deep lists and mappings nest in a loaded YAML value (a scalar: 0)."""
    if isinstance(value, list):
        return 1 + max((levels(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((levels(item) for item in value.values()), default=0)
    return 0


@pytest.mark.parametrize("style", ["flow-list", "flow-map", "block-list", "block-map"])
def test_nesting_stops_at_100_levels(style: str) -> None:
    """99 levels under the top-level mapping are 100 in all: read; one more is refused."""
    assert levels(yaml.safe_load(nested(99, style))) == 100  # the generator, checked by PyYAML
    matter = split_matter(front_matter(nested(99, style)).decode())
    assert matter.get("a") is not None
    with pytest.raises(MatterError, match="more than 100 levels"):
        split_matter(front_matter(nested(100, style)).decode())


@pytest.mark.parametrize("loader", ["libyaml", "pure Python"])
def test_deep_nesting_and_recursive_aliases_never_overflow_a_stack(
    loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100,000 levels (libyaml stops at 1,000 on its own; the pure-Python parser would exceed
    the recursion limit when composing) and an alias inside its own anchor (infinitely deep)."""
    if loader == "pure Python":
        monkeypatch.setattr("kg.metadata._LOADER", yaml.SafeLoader)
    for text in (
        "a: " + "[" * 100_000 + "]" * 100_000,
        "a:\n" + "".join(" " * n + "- \n" for n in range(1, 3000)),
        "title: x\na: &a [*a]",
        "title: x\na: &a {b: *a}",
    ):
        started = time.perf_counter()
        with pytest.raises(MatterError):
            split_matter(f"---\n{text}\n---\n")
        assert time.perf_counter() - started < 2.0


def test_a_key_written_twice_is_a_warning() -> None:
    matter = split_matter("---\ntitle: a\nhide: [toc]\nhide: [nav]\n---\n")
    [duplicate] = matter.duplicates
    assert (duplicate.key, duplicate.line, duplicate.first) == ("hide", 4, 3)


# -- devices, FIFOs, folders, names --------------------------------------------------------


def test_dev_zero_and_a_fifo_do_not_hang_the_build(tmp_path: Path) -> None:
    root = tmp_path / "content"
    good_content(root)
    (root / f"{MAATREGELEN}/0-tst-09-nul.md").symlink_to("/dev/zero")
    os.mkfifo(root / f"{MAATREGELEN}/0-tst-10-fifo.md")
    fifo_outside = tmp_path / "fifo"
    os.mkfifo(fifo_outside)
    (root / f"{MAATREGELEN}/0-tst-11-fifo-buiten.md").symlink_to(fifo_outside)
    result = run_kg(
        "build",
        "--content",
        str(root),
        "--out",
        str(tmp_path / "dist"),
        "--no-validate",
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    expected = {
        "0-tst-09-nul.md": "ends outside the content folder; not read [outside-content]",
        "0-tst-10-fifo.md": "not a regular file but a FIFO; not read [not-a-file]",
        "0-tst-11-fifo-buiten.md": "ends outside the content folder; not read [outside-content]",
    }
    for name, message in expected.items():
        assert f"{MAATREGELEN}/{name}: error: " in result.stderr
        line = next(
            ln for ln in result.stderr.splitlines() if ln.startswith(f"{MAATREGELEN}/{name}")
        )
        assert line.endswith(message), line
    assert "2 maatregel" not in result.stdout and "1 maatregel" in result.stdout


def test_a_device_inside_the_folder_is_refused(tmp_path: Path) -> None:
    """A character device node named ``*.md`` (git cannot make one, root can): refused by its
    kind, so it is never read, whatever it would give."""
    root = tmp_path / "content"
    good_content(root)
    zero = os.stat("/dev/zero").st_rdev
    try:
        os.mknod(root / HOSTILE, stat.S_IFCHR | 0o600, zero)
    except PermissionError:
        pytest.skip("no permission to make a device node here")
    started = time.perf_counter()
    corpus = load_corpus(root)
    assert time.perf_counter() - started < LOAD_SECONDS
    [error] = errors_at(corpus, HOSTILE)
    assert (error.code, error.message) == (
        "not-a-file",
        "not a regular file but a character device; not read",
    )
    assert len(corpus.documents) == 2


def test_docs_as_a_symlink_outside_is_an_error_not_a_source(tmp_path: Path) -> None:
    base = tmp_path
    outside = outside_folder(base)
    (outside / "docs" / "buiten.md").write_text(f"---\ntitle: {OUTSIDE_TOKEN}\n---\n")
    root = base / "content"
    root.mkdir()
    (root / "docs").symlink_to(outside / "docs")
    corpus = load_corpus(root)
    assert corpus.documents == ()
    [error] = errors_at(corpus, "docs")
    assert error.code == "outside-content"
    assert "docs" in corpus.rejected


def test_docs_as_a_symlink_inside_is_read(tmp_path: Path) -> None:
    root = tmp_path / "content"
    good_content(root / "site")
    (root / "docs").symlink_to("site/docs")
    corpus = load_corpus(root)
    assert {document.path for document in corpus.documents} == {
        f"{VEREISTEN}/tst-01-goed.md",
        f"{MAATREGELEN}/0-tst-01-goed.md",
    }
    assert corpus.diagnostics == ()


def test_a_symlink_to_a_file_inside_the_folder_is_read(tmp_path: Path) -> None:
    root = tmp_path / "content"
    good_content(root)
    write(root, "elders/tekst.md", "---\ntitle: Elders\n---\n")
    (root / f"{MAATREGELEN}/0-tst-05-gelinkt.md").symlink_to("../../../elders/tekst.md")
    corpus = load_corpus(root)
    titles = {document.path: document.title() for document in corpus.documents}
    assert titles[f"{MAATREGELEN}/0-tst-05-gelinkt.md"] == "Elders"
    assert corpus.diagnostics == ()


def test_a_file_name_that_is_not_utf8_is_reported_escaped(tmp_path: Path) -> None:
    root = tmp_path / "content"
    good_content(root)
    folder = os.fsencode(root / MAATREGELEN)
    for name in (b"0-tst-06-caf\xe9.md", b"0-tst-07-regel\neen.md", b"0-tst-08-\xe2\x80\xae.md"):
        with open(folder + b"/" + name, "w", encoding="utf-8") as file:
            file.write("---\ntitle: Naam\n---\n")
    status = run_kg("build", "--content", str(root), "--out", str(tmp_path / "dist"))
    assert status.returncode == 1, status.stderr
    for shown in ("0-tst-06-caf\\xe9.md", "0-tst-07-regel\\neen.md", "0-tst-08-\\u202e.md"):
        assert f"{MAATREGELEN}/{shown}: error: file name is not UTF-8" in status.stderr
    assert "1 maatregel" in status.stdout


# -- Markdown that takes too long --------------------------------------------------------


def test_a_page_that_takes_too_long_to_parse_is_stopped(tmp_path: Path) -> None:
    """64 KiB of ``[`` keeps Python-Markdown busy for minutes; it is stopped at the limit."""
    root = tmp_path / "content"
    good_content(root)
    write(root, HOSTILE, front_matter("title: Haken", "[" * 65_536))
    started = time.perf_counter()
    corpus = load_corpus(root, parse_seconds=1.0)
    assert time.perf_counter() - started < 1.0 + 2.0
    [error] = errors_at(corpus, HOSTILE)
    assert error.code == "parse" and "took longer than 1 s" in error.message
    assert {d.path for d in corpus.documents} == {
        f"{VEREISTEN}/tst-01-goed.md",
        f"{MAATREGELEN}/0-tst-01-goed.md",
    }


def _sleep_on(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _raise_on_two(value: int) -> int:
    if value == 2:
        raise ValueError("two")
    return value


def _die_on_two(value: int) -> int:
    if value == 2:
        os._exit(9)
    return value


def test_map_bounded_keeps_order_and_isolates_each_failure() -> None:
    started = time.perf_counter()
    assert map_bounded(_sleep_on, [0.0, 5.0, 0.0], 0.5) == [
        0.0,
        Failed("took longer than 0.5 s"),
        0.0,
    ]
    assert time.perf_counter() - started < 2.5
    assert map_bounded(_raise_on_two, [1, 2, 3], 5) == [1, Failed("ValueError: two"), 3]
    died = map_bounded(_die_on_two, [1, 2, 3], 5)
    assert died[0] == 1 and isinstance(died[1], Failed) and died[2] == 3
    assert map_bounded(_raise_on_two, [], 5) == []


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_map_bounded_side_by_side_keeps_order(workers: int) -> None:
    """Items shared among several children come back in order, each failure in its place,
    whatever the number of children (more children than items included)."""
    items = [1, 2, 3, 4, 2, 6]
    expected = [Failed("ValueError: two") if item == 2 else item for item in items]
    assert map_bounded(_raise_on_two, items, 5, workers=workers) == expected
    died = map_bounded(_die_on_two, items, 5, workers=workers)
    assert [isinstance(r, Failed) for r in died] == [item == 2 for item in items]
    assert [r for r in died if not isinstance(r, Failed)] == [1, 3, 4, 6]
    slow = map_bounded(_sleep_on, [0.0, 5.0, 0.0, 5.0], 0.5, workers=workers)
    assert slow == [0.0, Failed("took longer than 0.5 s"), 0.0, Failed("took longer than 0.5 s")]
