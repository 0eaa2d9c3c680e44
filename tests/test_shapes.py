"""The SHACL shapes: every rule has a failing and a passing document, reported at file:line.

``tests/shapes/base/`` is a small content folder in the upstream layout that breaks no rule.
Each ``tests/shapes/<Shape>/`` holds, for the rule ``urn:nl:ak:shape:<Shape>``:

* ``fail/`` and ``pass/``: files laid over the base (same path: replaced; new path: added);
* ``fail.ru`` / ``pass.ru``: a SPARQL Update applied to the built graph, for rules that guard
  what the graph builder makes and no content can break (a section without text, a title
  without language tag). A node it adds is located where its document is;
* ``expected.txt``: exactly the findings of the failing variant, as ``kg validate`` prints them
  (a ``sh:Violation`` as ``error``, as content errors are).

The passing variant must give no finding of its rule.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS

from kg.built import Build
from kg.cli import main, run_build
from kg.config import Settings
from kg.corpus import load_corpus
from kg.graph import build_graph
from kg.namespace import AK, SH
from kg.sourcemap import Location
from kg.validation import SHAPE_NAMESPACE, Shapes, ShapesError, load_shapes, validate
from kg.vocabulary import RULES, SKIPPED_KEYS

FIXTURES = Path(__file__).resolve().parent / "shapes"
REPO_SHAPES = FIXTURES.parents[1] / "shapes"
BASE = FIXTURES / "base"
SEVERITIES = {SH.Violation, SH.Warning, SH.Info}


@pytest.fixture(scope="session")
def shapes() -> Shapes:
    return load_shapes()


def rule_shapes(graph: Graph) -> list[URIRef]:
    """The named shapes with targets of their own: the rules."""
    targets = (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode, SH.target)
    found = {
        s
        for p in targets
        for s in graph.subjects(p, None)
        if isinstance(s, URIRef) and str(s).startswith(SHAPE_NAMESPACE)
    }
    return sorted(found)


RULES_IN_SHAPES = [str(s).removeprefix(SHAPE_NAMESPACE) for s in rule_shapes(load_shapes().graph)]


def content_of(case: Path, variant: str, tmp_path: Path) -> Path:
    content = tmp_path / variant
    shutil.copytree(BASE, content)
    if (case / variant).is_dir():
        shutil.copytree(case / variant, content, dirs_exist_ok=True)
    return content


def inject(build: Build, update: Path) -> None:
    """Apply a SPARQL Update to the graph; locate what it added as the builder would."""
    before = set(build.graph)
    build.graph.update(update.read_text(encoding="utf-8"))
    added = [triple for triple in build.graph if triple not in before]
    sourcemap, here = build.sourcemap, Location(f"{update.parent.name}/{update.name}", 0)
    for s, p, o in added:
        if p == AK.bronbestand:
            sourcemap.add_resource(s, Location(str(o), 1))
    for s, _, o in added:
        if str(s) in sourcemap.resources and isinstance(o, URIRef):
            sourcemap.add_resource(o, sourcemap.resources[str(s)])
    about = {s: location for (s, _, _), location in sorted(sourcemap.facts.items(), reverse=True)}
    for s, p, o in added:
        resources = sourcemap.resources
        location = resources.get(str(s)) or about.get(s) or resources.get(str(o), here)
        sourcemap.facts[(s, p, o)] = location


def findings(case: Path, variant: str, tmp_path: Path, shapes: Shapes) -> list[str]:
    build = build_graph(load_corpus(content_of(case, variant, tmp_path)))
    update = case / f"{variant}.ru"
    if update.is_file():
        inject(build, update)
    return validate(build.graph, build.sourcemap, shapes).lines()


def test_the_base_breaks_no_rule(shapes: Shapes) -> None:
    corpus = load_corpus(BASE)
    build = build_graph(corpus)
    assert not corpus.diagnostics and not build.diagnostics
    assert validate(build.graph, build.sourcemap, shapes).lines() == []


def test_every_rule_has_its_fixtures() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "base"}
    assert folders == set(RULES_IN_SHAPES)
    for name in folders:
        case = FIXTURES / name
        assert (case / "expected.txt").is_file(), name
        for variant in ("fail", "pass"):
            assert (case / variant).is_dir() or (case / f"{variant}.ru").is_file(), name


def test_every_shape_says_what_and_why(shapes: Shapes) -> None:
    graph = shapes.graph
    named = {
        s
        for kind in (SH.NodeShape, SH.PropertyShape)
        for s in graph.subjects(RDF.type, kind)
        if isinstance(s, URIRef)
    }
    assert named >= set(rule_shapes(graph))
    for shape in named:
        languages = {m.language for m in graph.objects(shape, SH.message) if isinstance(m, Literal)}
        assert languages == {"nl", "en"}, shape
        assert graph.value(shape, RDFS.comment) is not None, shape
        assert graph.value(shape, SH.severity) in SEVERITIES, shape


@pytest.mark.parametrize("rule", RULES_IN_SHAPES)
def test_failing_document(rule: str, tmp_path: Path, shapes: Shapes) -> None:
    case = FIXTURES / rule
    expected = (case / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert any(line.endswith(f" [{rule}]") for line in expected), "expected.txt names the rule"
    assert findings(case, "fail", tmp_path, shapes) == expected


@pytest.mark.parametrize("rule", RULES_IN_SHAPES)
def test_passing_document(rule: str, tmp_path: Path, shapes: Shapes) -> None:
    lines = findings(FIXTURES / rule, "pass", tmp_path, shapes)
    assert not [line for line in lines if line.endswith(f" [{rule}]")]


def test_known_properties_cover_every_front_matter_key(shapes: Shapes) -> None:
    """A key added to kg/vocabulary.py must be allowed by aksh:KnownProperties too."""
    closed = URIRef(f"{SHAPE_NAMESPACE}KnownProperties")
    allowed = set(Collection(shapes.graph, shapes.graph.value(closed, SH.ignoredProperties)))
    assert {rule.predicate for key, rule in RULES.items() if key not in SKIPPED_KEYS} <= allowed


def test_without_ontology_scheme_rules_rest(tmp_path: Path) -> None:
    """No ontology: tag values cannot be checked, and are not all reported."""
    bare = load_shapes(ontology=())
    assert bare.ontology is None
    lines = findings(FIXTURES / "CategorieValue", "fail", tmp_path, bare)
    assert lines == []
    lines = findings(FIXTURES / "RolValue", "fail", tmp_path / "rol", bare)
    assert [line for line in lines if line.endswith("[RolValue]")]


def test_shapes_that_cannot_be_used_are_an_error(tmp_path: Path) -> None:
    """Never an empty validation that "conforms": no shapes, or a file that cannot be read."""
    with pytest.raises(ShapesError, match="no SHACL shapes"):
        load_shapes(tmp_path)
    (tmp_path / "empty.ttl").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ShapesError, match="no SHACL shapes"):
        load_shapes(tmp_path)
    shapes = tmp_path / "shapes"
    shutil.copytree(REPO_SHAPES, shapes)
    assert len(load_shapes(shapes).graph) == len(load_shapes().graph)
    (shapes / "tags.ttl").write_text("@prefix sh: <http://www.w3.org/ns/shacl#> .\n<x> sh:")
    with pytest.raises(ShapesError, match=r"tags\.ttl: Parser error"):
        load_shapes(shapes)
    with pytest.raises(ShapesError, match=r"missing\.ttl"):
        load_shapes(ontology=[tmp_path / "missing.ttl"])


def test_report_json_and_files(tmp_path: Path, shapes: Shapes) -> None:
    build = build_graph(load_corpus(content_of(FIXTURES / "UniqueId", "fail", tmp_path)))
    result = validate(build.graph, build.sourcemap, shapes)
    assert not result.conforms
    report = result.report
    (root,) = report.subjects(RDF.type, SH.ValidationReport)
    assert report.value(root, SH.conforms) == Literal(False)
    results = list(report.objects(root, SH.result))
    assert len(results) == len(result.findings)
    lines = sorted(
        f"{report.value(r, URIRef(SHAPE_NAMESPACE + 'file'))}:"
        f"{report.value(r, URIRef(SHAPE_NAMESPACE + 'line'))}"
        for r in results
    )
    assert lines == sorted(f"{f.path}:{f.line}" for f in result.findings)
    data = result.to_json()
    assert data["counts"] == {"violation": 2, "warning": 1, "info": 0}
    assert data["findings"][0]["message_nl"]
    again = validate(build.graph, build.sourcemap, shapes)
    assert again.files() == result.files()  # the same content gives the same bytes
    assert json.loads(result.files()["validation.json"]) == data


def test_kg_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--content", str(BASE)]) == 0
    violation = content_of(FIXTURES / "LevenscyclusValue", "fail", tmp_path / "violation")
    assert main(["validate", "--content", str(violation)]) == 1
    out = capsys.readouterr().out
    expected = (FIXTURES / "LevenscyclusValue" / "expected.txt").read_text(encoding="utf-8")
    assert out.splitlines() == expected.splitlines()
    warning = content_of(FIXTURES / "RolPresent", "fail", tmp_path / "warning")
    assert main(["validate", "--content", str(warning)]) == 0
    assert main(["validate", "--content", str(warning), "--strict"]) == 1
    assert main(["validate", "--content", str(tmp_path / "nowhere")]) == 2


def test_kg_build_publishes_the_report(tmp_path: Path) -> None:
    content = content_of(FIXTURES / "LevenscyclusValue", "fail", tmp_path)
    out, err = io.StringIO(), io.StringIO()
    # A violation is published and summarised, but fails the build only with --strict.
    assert run_build(Settings(content=content, out=tmp_path / "dist"), out, err) == 0
    assert "shacl: does not conform: 1 violations, 0 warnings, 0 info" in out.getvalue()
    dist = tmp_path / "dist"
    report = Graph().parse(dist / "validation.ttl")
    assert len(list(report.subjects(RDF.type, SH.ValidationResult))) == 1
    assert json.loads((dist / "validation.json").read_text())["conforms"] is False
    manifest = json.loads((dist / "manifest.json").read_text())
    assert manifest["validation"] == {"violation": 1, "warning": 0, "info": 0}
    assert "validation.ttl" in (dist / "SHA256SUMS").read_text()
    strict = Settings(content=content, out=tmp_path / "strict", strict=True)
    assert run_build(strict, io.StringIO(), io.StringIO()) == 1
