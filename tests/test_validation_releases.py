"""SHACL over every release of the upstream history: the table in docs/validation.md is what
the shapes find, and everything upstream's own checks (script/validation/) would flag is found.

The table lists, per rule, the number of findings in each release (releases with the same
counts share a column). Regenerate it after a change to the shapes or the loader with

    .venv/bin/python -m tests.test_validation_releases ../shared/corpus/algoritmekader.bundle
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from kg.built import Build
from kg.corpus import Corpus, load_corpus
from kg.graph import build_graph
from kg.validation import SHACL_LABELS, ValidationResult, load_shapes, validate

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

DOC = Path(__file__).resolve().parents[1] / "docs" / "validation.md"
BEGIN, END = "<!-- releases-table:begin -->", "<!-- releases-table:end -->"
SEVERITY_ORDER = {"violation": 0, "warning": 1, "info": 2}

Validated = dict[str, tuple[ValidationResult, set[str]]]


def release_order(tag: str) -> tuple[tuple[int, ...], str]:
    return tuple(int(part) for part in tag[1:].split(".")), tag


@pytest.fixture(scope="module")
def validated(built: dict[str, tuple[Corpus, Build]]) -> Validated:
    """Per release: the SHACL result, and the files the loader reported a problem in."""
    shapes = load_shapes()
    out: Validated = {}
    for tag, (corpus, build) in built.items():
        reported = {d.path for d in (*corpus.diagnostics, *build.diagnostics)}
        out[tag] = (validate(build.graph, build.sourcemap, shapes), reported)
    return out


# -- the table ----------------------------------------------------------------------------------


def counts_by_release(validated: Validated) -> dict[str, Counter[str]]:
    return {tag: Counter(f.code for f in res.findings) for tag, (res, _) in validated.items()}


def severities(validated: Validated) -> dict[str, str]:
    """rule -> its SHACL severity (``violation``, ``warning``, ``info``), as the table says."""
    return {f.code: SHACL_LABELS[f.severity] for r, _ in validated.values() for f in r.findings}


def render_table(counts: dict[str, Counter[str]], severity: dict[str, str]) -> str:
    tags = sorted(counts, key=release_order)
    groups: list[list[str]] = []
    for tag in tags:
        if groups and counts[groups[-1][-1]] == counts[tag]:
            groups[-1].append(tag)
        else:
            groups.append([tag])
    rules = sorted(severity, key=lambda r: (SEVERITY_ORDER[severity[r]], r))
    header = ["rule", "severity"] + [g[0] if len(g) == 1 else f"{g[0]}–{g[-1]}" for g in groups]
    rows = [header, ["---", "---"] + ["---:"] * len(groups)]
    for rule in rules:
        rows.append([rule, severity[rule]] + [str(counts[g[0]][rule] or "·") for g in groups])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def parse_table(text: str, tags: list[str]) -> dict[str, Counter[str]]:
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip().splitlines()
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table]
    ordered = sorted(tags, key=release_order)
    columns: list[list[str]] = []
    for head in cells[0][2:]:
        first, _, last = head.partition("–")
        start, stop = ordered.index(first), ordered.index(last or first)
        columns.append(ordered[start : stop + 1])
    counts: dict[str, Counter[str]] = {tag: Counter() for tag in tags}
    for row in cells[2:]:
        for group, cell in zip(columns, row[2:], strict=True):
            for tag in group:
                counts[tag][row[0]] = 0 if cell == "·" else int(cell)
    return {tag: +counter for tag, counter in counts.items()}


def test_the_table_in_the_docs_is_what_the_shapes_find(validated: Validated) -> None:
    counts = counts_by_release(validated)
    documented = parse_table(DOC.read_text(encoding="utf-8"), list(validated))
    assert documented == counts, "docs/validation.md is stale; the table now reads:\n" + (
        render_table(counts, severities(validated))
    )


def test_latest_release_findings_are_listed_at_file_and_line(validated: Validated) -> None:
    """docs/validation.md lists every finding of the latest release as path:line."""
    latest = max(validated, key=release_order)
    text = DOC.read_text(encoding="utf-8")
    for finding in validated[latest][0].findings:
        assert f"{finding.path}:{finding.line}" in text, finding.format()


# -- what upstream's own scripts flag -----------------------------------------------------------

#: The labels script/validation/validate_all_labels.py allows on vereisten (our own copy).
AI_ACT_LABELS = {
    "soort-toepassing": {
        "ai-systeem",
        "ai-systeem-voor-algemene-doeleinden",
        "ai-model-voor-algemene-doeleinden",
    },
    "risicogroep": {
        "hoog-risico-ai-systeem",
        "niet-van-toepassing",
        "verboden-ai",
        "geen-hoog-risico-ai-systeem",
        "uitzondering-van-toepassing",
    },
    "transparantieverplichting": {
        "geen-transparantieverplichting",
        "transparantieverplichting",
        "niet-van-toepassing",
    },
    "systeemrisico": {"systeemrisico", "geen-systeemrisico", "niet-van-toepassing"},
    "open-source": {"open-source", "geen-open-source", "niet-van-toepassing"},
    "uitzondering": {"risicogroep-uitzondering-van-toepassing"},
    "rol-ai-act": {"aanbieder", "gebruiksverantwoordelijke", "importeur", "distributeur"},
}
#: Which rule reports what upstream's scripts report.
RULE_FOR = {
    "prefix": "FilePrefix",
    "duplicate": "UniqueId",
    "no id": "IdPresent",
    "levenscyclus": "LevenscyclusValue",
    "onderwerp": "OnderwerpValue",
    "rollen": "RolValue",
    "no levenscyclus": "LevenscyclusPresent",
    "no onderwerp": "OnderwerpPresent",
    "no rollen": "RolPresent",
    "soort-toepassing": "SoortToepassingValue",
    "risicogroep": "RisicogroepValue",
    "transparantieverplichting": "TransparantieverplichtingValue",
    "systeemrisico": "SysteemrisicoValue",
    "open-source": "OpenSourceValue",
    "uitzondering": "UitzonderingValue",
    "rol-ai-act": "RolAiActValue",
}
FOLDERS = ("docs/voldoen-aan-wetten-en-regels/", "docs/")
#: The labels whose values are pages: key -> the folder of docs/ that holds them.
PAGE_FOLDERS = {"levenscyclus": "levenscyclus", "onderwerp": "onderwerpen", "rollen": "rollen"}


def upstream_findings(root: Path) -> list[tuple[str, str]]:
    """(file, what) for every error and warning of upstream's validate_file_prefix_urn.py,
    validate_urn_uniqueness.py and validate_all_labels.py, run on the release's own layout."""
    prefix = next(p for p in FOLDERS if (root / p / "maatregelen").is_dir() or p == "docs/")
    pages = {
        key: {f.stem for f in (root / "docs" / folder).rglob("*.md") if f.name != "index.md"}
        for key, folder in PAGE_FOLDERS.items()
    }
    found: list[tuple[str, str]] = []
    seen: dict[object, str] = {}
    for folder, is_vereiste in (("maatregelen", False), ("vereisten", True)):
        checks = {**pages, **(AI_ACT_LABELS if is_vereiste else {})}
        for file in sorted((root / prefix / folder).rglob("*.md")):
            if file.name != "index.md":
                found += file_findings(root, file, checks, seen)
    return found


def file_findings(
    root: Path, file: Path, checks: dict[str, set[str]], seen: dict[object, str]
) -> list[tuple[str, str]]:
    """What upstream's scripts say about one file; ``seen``: id -> the first file with it."""
    path = file.relative_to(root).as_posix()
    match = re.search(r"^---\n([\s\S]*?)\n---", file.read_text(encoding="utf-8"))
    try:
        matter = yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError:
        return [(path, "yaml")]
    if not isinstance(matter, dict):
        return []
    return [*id_findings(path, file.name, matter, seen), *label_findings(path, matter, checks)]


def id_findings(
    path: str, name: str, matter: dict[str, object], seen: dict[object, str]
) -> list[tuple[str, str]]:
    urn = matter.get("id")
    if not urn:
        return [(path, "no id")]
    found = []
    code = re.search(r".*:([^:]+)$", str(urn))
    if not code or not re.search(rf"^(?:\d+-)?{re.escape(code[1])}-", name):
        found.append((path, "prefix"))
    if urn in seen:
        found += [(path, "duplicate"), (seen[urn], "duplicate")]
    seen.setdefault(urn, path)
    return found


def label_findings(
    path: str, matter: dict[str, object], checks: dict[str, set[str]]
) -> list[tuple[str, str]]:
    found = []
    for key, allowed in checks.items():
        if key not in matter:
            # early releases name the topic 'bouwblok': not missing, named the old way
            if key in PAGE_FOLDERS and not (key == "onderwerp" and "bouwblok" in matter):
                found.append((path, f"no {key}"))
            continue
        values = matter[key] if isinstance(matter[key], list) else [matter[key]]
        for value in values:
            expression = key == "uitzondering" and re.search(r'["(]|\|\||&&', str(value))
            if allowed and value not in allowed and not expression:
                found.append((path, key))
    return found


def test_everything_upstream_flags_is_flagged(
    releases: dict[str, Path], validated: Validated
) -> None:
    missed = []
    for tag, root in releases.items():
        result, reported = validated[tag]
        by_file: dict[str, set[str]] = {}
        for finding in result.findings:
            by_file.setdefault(finding.path, set()).add(finding.code)
        for path, what in upstream_findings(root):
            rule = RULE_FOR.get(what)
            if rule in by_file.get(path, set()) or (rule is None and path in reported):
                continue
            missed.append(f"{tag} {path}: {what}")
    assert not missed


# -- regenerate the table --------------------------------------------------------------------------

if __name__ == "__main__":  # pragma: no cover - a maintenance tool
    bundle = Path(sys.argv[1])
    shapes = load_shapes()
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(bundle), str(clone)], check=True)
        tags = subprocess.run(
            ["git", "-C", str(clone), "tag"], check=True, capture_output=True, text=True
        ).stdout.split()
        results: Validated = {}
        for tag in tags:
            folder = Path(tmp) / tag
            folder.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(clone), "archive", tag], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
            build = build_graph(load_corpus(folder))
            results[tag] = (validate(build.graph, build.sourcemap, shapes), set())
        print(render_table(counts_by_release(results), severities(results)))
