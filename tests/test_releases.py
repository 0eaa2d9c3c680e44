"""Every release of the upstream history builds; counts match its files; nothing is lost."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from rdflib import RDF, Literal, URIRef

from kg.built import Build
from kg.corpus import Corpus
from kg.namespace import AK
from kg.vocabulary import SKIPPED_KEYS

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

#: Where each kind's files are in every layout upstream has used (independent of kg.kind).
KIND_GLOBS: dict[str, list[str]] = {
    "vereiste": ["docs/vereisten/*.md", "docs/voldoen-aan-wetten-en-regels/vereisten/*.md"],
    "maatregel": ["docs/maatregelen/*.md", "docs/voldoen-aan-wetten-en-regels/maatregelen/*.md"],
    "hulpmiddel": [
        "docs/instrumenten/*.md",
        "docs/voldoen-aan-wetten-en-regels/hulpmiddelen/*.md",
    ],
    "onderwerp": [
        "docs/onderwerpen/*.md",
        "docs/onderwerpen/*/index.md",
        "docs/bouwblokken/*.md",
        "docs/bouwblokken/*/index.md",
    ],
    "rol": ["docs/rollen/*.md"],
    "levenscyclusfase": ["docs/levenscyclus/*.md"],
}
#: Site-layout keys the graph may skip (README); anything else must make triples.
LAYOUT_KEYS = {"hide", "search", "icon"}
#: Files upstream broke in some release; each must be reported, never silently dropped.
KNOWN_BROKEN = {"docs/instrumenten/fairness-handbook.md"}  # v1.5, v1.5.1: comment inside YAML


def expected_counts(root: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for kind, patterns in KIND_GLOBS.items():
        for pattern in patterns:
            for file in root.glob(pattern):
                top_level_index = file.name == "index.md" and "*/index.md" not in pattern
                if not top_level_index:
                    counts[kind] += 1
    return counts


def test_there_are_29_releases(releases: dict[str, Path]) -> None:
    assert len(releases) == 29
    assert {"v1.1", "V2.2.0", "v2.5.1"} <= set(releases)


def test_per_kind_counts_equal_file_counts(
    releases: dict[str, Path], built: dict[str, tuple[Corpus, Build]]
) -> None:
    for tag, root in releases.items():
        corpus, build = built[tag]
        found = Counter(d.kind_name for d in corpus.documents)
        rejected = set(corpus.rejected)
        assert rejected <= KNOWN_BROKEN, tag
        for path in rejected:
            assert any(d.path == path and d.severity.label == "error" for d in corpus.diagnostics)
        expected = expected_counts(root)
        for kind, count in expected.items():
            lost = sum(1 for path in rejected if kind == "hulpmiddel")
            assert found[kind] + lost == count, (tag, kind)
        # Each document is one resource of its class.
        assert len(set(build.graph.subjects(RDF.type, AK.Maatregel))) == found["maatregel"], tag
        assert len(set(build.graph.subjects(RDF.type, AK.Vereiste))) == found["vereiste"], tag


def test_declared_ids_are_the_urns_in_every_release(
    built: dict[str, tuple[Corpus, Build]],
) -> None:
    for tag, (corpus, build) in built.items():
        for document in corpus.documents:
            entry = document.matter.get("id")
            if entry is None or not str(entry.value.value).startswith("urn:nl:ak:"):
                continue
            duplicate = any(
                d.path == document.path and d.code == "duplicate-urn" for d in corpus.diagnostics
            )
            if not duplicate:
                assert str(document.urn) == entry.value.value, (tag, document.path)
            assert (document.urn, AK.bronbestand, Literal(document.path)) in build.graph


def test_a_maatregel_keeps_its_urn_across_releases(
    built: dict[str, tuple[Corpus, Build]],
) -> None:
    org_02 = URIRef("urn:nl:ak:mtr:org-02")
    having = [
        tag
        for tag in sorted(built, key=_release_order)
        if (org_02, RDF.type, AK.Maatregel) in built[tag][1].graph
    ]
    # Numbered maatregel files (0-org-02-...) came with v1.6; the URN holds from there on,
    # through the move of the folder and the addition of `id`.
    order = sorted(built, key=_release_order)
    assert having == [tag for tag in order if _release_order(tag) >= _release_order("v1.6")]


def _release_order(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in tag.lower().lstrip("v").split("."))


_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
_FENCE = re.compile(r"^\s*(```|~~~)")


def front_matter_keys(text: str) -> list[tuple[str, int, int]]:
    """(key, first line, last line) of each top-level key, read with a regex."""
    lines = text.splitlines()
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    starts = [
        (m.group(1), i + 1)
        for i, line in enumerate(lines[1:end], start=1)
        if (m := _KEY.match(line))
    ]
    return [
        (key, line, (starts[n + 1][1] - 1) if n + 1 < len(starts) else end)
        for n, (key, line) in enumerate(starts)
    ]


def key_has_value(lines: list[str]) -> bool:
    """Whether a key's lines (``key: value`` and any ``- item`` lines) hold a value."""
    first, *rest = lines
    values = [first.split(":", 1)[1], *(line for line in rest if not line.lstrip().startswith("#"))]
    return any(value.strip().strip("-").strip() not in ("", "[]", "~", "null") for value in values)


def level_two_headings(text: str) -> list[str]:
    headings, fenced = [], False
    body = text.split("\n---", 2)[-1] if text.startswith("---") else text
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            headings.append(re.sub(r"\s*\{[^{}]*\}\s*$", "", line[3:]).strip())
    return headings


def test_nothing_is_lost(releases: dict[str, Path], built: dict[str, tuple[Corpus, Build]]) -> None:
    """Every front-matter key (bar the skip list) with a value, and every ## section, of every
    document of every release, is in the graph."""
    checked_keys = checked_sections = 0
    for tag, (corpus, build) in built.items():
        lines_with_facts: dict[str, set[int]] = {}
        for location in build.sourcemap.facts.values():
            lines_with_facts.setdefault(location.path, set()).add(location.line)
        for document in corpus.documents:
            text = (releases[tag] / document.path).read_text(encoding="utf-8")
            if text.startswith("---"):
                for key, first, last in front_matter_keys(text):
                    value_lines = range(first, last + 1)
                    has_value = key_has_value(text.splitlines()[first - 1 : last])
                    if key in LAYOUT_KEYS or not has_value:
                        continue
                    checked_keys += 1
                    assert lines_with_facts.get(document.path, set()) & set(value_lines), (
                        f"{tag}: {document.path}:{first}: key {key!r} produced no triple"
                    )
            kops = {
                str(o)
                for s, o in build.graph.subject_objects(AK.kop)
                if str(s).startswith(f"{document.urn}#")
            }
            for heading in level_two_headings(text):
                checked_sections += 1
                assert heading in kops, f"{tag}: {document.path}: section {heading!r} missing"
    assert SKIPPED_KEYS == LAYOUT_KEYS
    assert checked_keys > 20_000
    assert checked_sections > 20_000
