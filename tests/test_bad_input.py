"""Bad input: each problem a ``path:line: message``, every other document still published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import RDF, Graph, URIRef
from rdflib.namespace import DCTERMS

from kg.namespace import AK
from tests.conftest import build_publication

MAATREGELEN = "docs/voldoen-aan-wetten-en-regels/maatregelen"
VEREISTEN = "docs/voldoen-aan-wetten-en-regels/vereisten"

GOOD_VEREISTE = """---
title: Een goede vereiste
id: urn:nl:ak:ver:tst-01
---
## Vereiste
Tekst.
"""
GOOD_MAATREGEL = """---
title: Een goede maatregel
id: urn:nl:ak:mtr:tst-01
vereiste:
- tst-01-goed
---
## Maatregel
Tekst.
"""


def write(root: Path, relative: str, content: str | bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


@pytest.fixture()
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    write(root, f"{VEREISTEN}/tst-01-goed.md", GOOD_VEREISTE)
    write(root, f"{MAATREGELEN}/0-tst-01-goed.md", GOOD_MAATREGEL)
    return root


# (file, content, expected message line) — each case adds one broken file next to good ones.
CASES = {
    "malformed yaml": (
        f"{MAATREGELEN}/0-tst-02-kapot.md",
        "---\ntitle: Kapot\nvereiste: [tst-01-goed\n---\n## Maatregel\n",
        f"{MAATREGELEN}/0-tst-02-kapot.md:4: error: malformed YAML front matter",
    ),
    "missing title": (
        f"{MAATREGELEN}/0-tst-03-zonder-titel.md",
        "---\nid: urn:nl:ak:mtr:tst-03\n---\n## Maatregel\n",
        f"{MAATREGELEN}/0-tst-03-zonder-titel.md:1: error: document has no title",
    ),
    "empty file": (
        f"{MAATREGELEN}/0-tst-04-leeg.md",
        "",
        f"{MAATREGELEN}/0-tst-04-leeg.md: error: empty file",
    ),
    "not utf-8": (
        f"{MAATREGELEN}/0-tst-05-latin1.md",
        "---\ntitle: Caf\xe9\n---\n".encode("latin-1"),
        f"{MAATREGELEN}/0-tst-05-latin1.md:2: error: not UTF-8",
    ),
    "duplicate urn": (
        f"{MAATREGELEN}/0-tst-01-nog-een.md",
        "---\ntitle: Tweede met dezelfde URN\nid: urn:nl:ak:mtr:tst-01\n---\n",
        f"{MAATREGELEN}/0-tst-01-nog-een.md:3: error: duplicate URN urn:nl:ak:mtr:tst-01",
    ),
    "control character in yaml": (
        f"{MAATREGELEN}/0-tst-07-nul.md",
        "---\ntitle: Nul\nid: urn:nl:ak:mtr:tst-07\nhide: [a\x00b]\n---\n",
        f"{MAATREGELEN}/0-tst-07-nul.md:4: error: malformed YAML front matter: character #x0000",
    ),
    "merge key": (
        f"{MAATREGELEN}/0-tst-08-samengevoegd.md",
        "---\ntitle: Samengevoegd\n<<: {hide: [toc]}\n---\n",
        f"{MAATREGELEN}/0-tst-08-samengevoegd.md:3: warning: front-matter key '<<' is not a name",
    ),
    "unknown reference": (
        f"{MAATREGELEN}/0-tst-06-verwijzing.md",
        "---\ntitle: Verwijst naar niets\nvereiste:\n- tst-01-goed\n- xyz-99-bestaat-niet\n---\n",
        f"{MAATREGELEN}/0-tst-06-verwijzing.md:5: warning: vereiste: no vereiste named "
        "'xyz-99-bestaat-niet'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_document_is_reported_and_others_published(
    content: Path, tmp_path: Path, case: str
) -> None:
    relative, text, expected = CASES[case]
    write(content, relative, text)
    out = tmp_path / "dist"
    status, stdout, stderr = build_publication(content, out)
    assert expected in stderr, stderr
    graph = Graph().parse(out / "graph.nt")
    assert (URIRef("urn:nl:ak:ver:tst-01"), RDF.type, AK.Vereiste) in graph
    assert (URIRef("urn:nl:ak:mtr:tst-01"), RDF.type, AK.Maatregel) in graph
    is_error = ": error: " in expected
    assert status == (1 if is_error else 0)
    left_out = case in {
        "malformed yaml",
        "missing title",
        "empty file",
        "not utf-8",
        "control character in yaml",
    }
    assert (relative in stdout) == left_out, stdout
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    assert any(d["path"] == relative for d in diagnostics)


def test_all_errors_are_collected_and_sorted(content: Path, tmp_path: Path) -> None:
    for relative, text, _ in CASES.values():
        write(content, relative, text)
    status, _, stderr = build_publication(content, tmp_path / "dist")
    assert status == 1
    lines = [line for line in stderr.splitlines() if ": error: " in line or ": warning: " in line]
    assert len(lines) == len(CASES)
    assert lines == sorted(
        lines,
        key=lambda line: (
            line.split(":")[0],
            int(line.split(":")[1]) if line.split(":")[1].isdigit() else 0,
        ),
    )


def test_strict_turns_warnings_into_errors(content: Path, tmp_path: Path) -> None:
    from kg.cli import main

    relative, text, _ = CASES["unknown reference"]
    write(content, relative, text)
    out = str(tmp_path / "dist")
    assert main(["build", "--content", str(content), "--out", out]) == 0
    assert main(["build", "--content", str(content), "--out", out, "--strict"]) == 1


def test_a_folder_without_docs_is_a_command_error(tmp_path: Path) -> None:
    from kg.cli import main

    assert main(["build", "--content", str(tmp_path), "--out", str(tmp_path / "d")]) == 2
    assert not (tmp_path / "d").exists()


def test_links_no_iri_parser_takes_are_published_encoded(content: Path, tmp_path: Path) -> None:
    """A stray ``%`` or a ``[`` in a link must not stop the build: they are percent-encoded."""
    write(
        content,
        f"{MAATREGELEN}/0-tst-09-links.md",
        "---\ntitle: Links\n---\n## Bronnen\n[a](http://x.test/%zz) [b](http://x.test/[y]%41)\n",
    )
    status, _, stderr = build_publication(content, tmp_path / "dist")
    assert status == 0, stderr
    graph = Graph().parse(tmp_path / "dist" / "graph.nt")
    sources = {str(o) for o in graph.objects(URIRef("urn:nl:ak:mtr:tst-09"), DCTERMS.source)}
    assert sources == {"http://x.test/%25zz", "http://x.test/%5By%5D%41"}
