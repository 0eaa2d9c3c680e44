"""``uitzondering`` expressions: parsed in every release, equal in meaning to what upstream wrote.

The oracle here is independent of ``kg.applicability``: an expression is translated token by
token into Python's boolean syntax and read with the standard library's ``ast`` (never
evaluated as code); its truth table over the labels it names is compared with (a) the
expression printed back by ``show``, (b) the tree the graph holds (``ak:voorwaarde`` /
``ak:operand``) and (c) the cases the graph holds (``ak:geval`` / ``ak:met`` / ``ak:zonder``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from itertools import product
from pathlib import Path

import pyoxigraph as ox
import pytest
import yaml
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from kg.applicability import ExpressionError, cases, parse, show
from kg.built import Build
from kg.corpus import Corpus, load_corpus
from kg.graph import build_graph
from kg.namespace import AK

pytestmark = [pytest.mark.corpus]

Profile = frozenset[str]
Truth = Callable[[Profile], bool]


def oracle(text: str) -> tuple[Truth, list[str]]:
    """Upstream's expression as a Python expression tree (``"a" && !"b"`` reads as
    ``"a" and not "b"``, each string standing for "the profile has this label"), and the
    labels it names. A bare label (no quotes, no operators) is that one label."""
    if not any(char in text for char in "\"'()!&|"):
        label = text.strip()
        return (lambda profile: label in profile), [label]
    source = text.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    tree = ast.parse(source.strip(), mode="eval")
    names = sorted({n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)})

    def value(node: ast.AST, profile: Profile) -> bool:
        if isinstance(node, ast.BoolOp):
            combine = all if isinstance(node.op, ast.And) else any
            return combine(value(operand, profile) for operand in node.values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not value(node.operand, profile)
        assert isinstance(node, ast.Constant) and isinstance(node.value, str), ast.dump(node)
        return node.value in profile

    return (lambda profile: value(tree.body, profile)), names


def truth_table(truth: Truth, labels: list[str]) -> list[bool]:
    return [
        truth(frozenset(label for label, on in zip(labels, row, strict=True) if on))
        for row in product((False, True), repeat=len(labels))
    ]


def written_exceptions(root: Path) -> list[tuple[str, int, str]]:
    """(file, position, text) of every ``uitzondering`` item, read with PyYAML."""
    found = []
    for file in sorted(root.glob("docs/**/*.md")):
        text = file.read_text(encoding="utf-8")
        if not text.startswith("---") or "uitzondering" not in text:
            continue
        try:
            matter = yaml.safe_load(text.split("---", 2)[1])
        except yaml.YAMLError:
            continue
        items = matter.get("uitzondering") if isinstance(matter, dict) else None
        for number, item in enumerate(items if isinstance(items, list) else [items], 1):
            if isinstance(item, str) and item.strip():
                found.append((file.relative_to(root).as_posix(), number, item.strip()))
    return found


def graph_truth(graph: Graph, node: object) -> Truth:
    """The condition the graph's tree gives, as a function of a profile of label names."""
    types = set(graph.objects(node, RDF.type))  # type: ignore[arg-type]
    operands = [graph_truth(graph, o) for o in graph.objects(node, AK.operand)]  # type: ignore[arg-type]
    if AK.En in types:
        return lambda p: all(f(p) for f in operands)
    if AK.Of in types:
        return lambda p: any(f(p) for f in operands)
    if AK.Niet in types:
        (inner,) = operands
        return lambda p: not inner(p)
    group, value = str(node).removeprefix("urn:nl:ak:").split(":", 1)
    return lambda p: f"{group}-{value}" in p


def cases_truth(graph: Graph, rule: URIRef) -> Truth:
    def name(concept: object) -> str:
        group, value = str(concept).removeprefix("urn:nl:ak:").split(":", 1)
        return f"{group}-{value}"

    found = [
        (
            {name(c) for c in graph.objects(case, AK.met)},
            {name(c) for c in graph.objects(case, AK.zonder)},
        )
        for case in graph.objects(rule, AK.geval)
    ]
    return lambda p: any(present <= p and not absent & p for present, absent in found)


def check_release(root: Path, corpus: Corpus, build: Build) -> int:
    assert not [d for d in build.diagnostics if d.code == "uitzondering"]
    graph, by_file = build.graph, {d.path: d.urn for d in corpus.documents}
    written = written_exceptions(root)
    for path, number, text in written:
        truth, labels = oracle(text)
        expected = truth_table(truth, labels)
        assert truth_table(truth_of(show(parse(text))), labels) == expected, text
        rule = URIRef(f"{by_file[path]}#uitzondering-{number}")
        assert (rule, RDF.type, AK.Uitzonderingsregel) in graph, (path, number)
        condition = graph.value(rule, AK.voorwaarde)
        assert truth_table(graph_truth(graph, condition), labels) == expected, (path, text)
        assert truth_table(cases_truth(graph, rule), labels) == expected, (path, text)
    return len(written)


def truth_of(text: str) -> Truth:
    return oracle(text)[0]


def test_expressions_of_the_latest_content(real_corpus: Path) -> None:
    corpus = load_corpus(real_corpus)
    assert check_release(real_corpus, corpus, build_graph(corpus)) >= 39


@pytest.mark.slow
def test_expressions_of_every_release(
    releases: dict[str, Path], built: dict[str, tuple[Corpus, Build]]
) -> None:
    checked = sum(check_release(releases[tag], *built[tag]) for tag in built)
    assert checked > 500


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('("soort-toepassing-ai-systeem" &&', ""),  # "" : the end
        ('"soort-toepassing-ai-systeem" && && "open-source-open-source"', '&& "'),
        ('"onbekend-label"', '"onbekend'),
        ('"open-source-open-source" "risicogroep-verboden-ai"', '"risico'),
        ('("risicogroep-verboden-ai"', "("),
        ('"risicogroep-verboden-ai', '"'),
        ("risicogroep-verboden-ai; rm -rf /", ";"),
    ],
)
def test_malformed_expressions_say_where(text: str, where: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse(text)
    assert raised.value.column == (text.index(where) if where else len(text)), str(raised.value)


def test_hostile_expressions_are_refused_quickly() -> None:
    """Nesting (the parser recurses) and the normal form (exponential in the worst case) are
    bounded: 3,000 parentheses and 30 two-way choices are errors, not a stuck build."""
    label = '"open-source-open-source"'
    with pytest.raises(ExpressionError, match="nested more than"):
        parse("(" * 3000 + label + ")" * 3000)
    with pytest.raises(ExpressionError, match="nested more than"):
        parse("!" * 3000 + label)
    choice = '("risicogroep-verboden-ai" || "rol-ai-act-importeur")'
    with pytest.raises(ExpressionError, match="cases"):
        parse(" && ".join([choice] * 30))
    assert len(cases(parse(" && ".join([choice] * 8)))) == 2  # the same two labels each time


def test_a_malformed_expression_is_an_error_at_its_line(tmp_path: Path) -> None:
    vereisten = tmp_path / "docs" / "vereisten"
    vereisten.mkdir(parents=True)
    (vereisten / "aia-90-test.md").write_text(
        "---\ntitle: Test\nuitzondering:\n- risicogroep-uitzondering-van-toepassing\n"
        '- ("open-source-open-source" ||\n---\n\nTekst.\n',
        encoding="utf-8",
    )
    corpus = load_corpus(tmp_path)
    build = build_graph(corpus)
    lines = [d.format() for d in build.diagnostics if d.code == "uitzondering"]
    assert lines == [
        "docs/vereisten/aia-90-test.md:5: error: uitzondering: malformed expression: "
        "expected a label, found the end (column 30) [uitzondering]"
    ]
    urn = corpus.documents[0].urn
    assert (urn, AK.uitzonderingsregel, URIRef(f"{urn}#uitzondering-1")) in build.graph
    assert len(set(build.graph.objects(urn, AK.uitzondering))) == 2  # both kept as written


def test_negation_and_precedence() -> None:
    text = '!"open-source-open-source" || "risicogroep-verboden-ai" && !!"rol-ai-act-importeur"'
    truth, labels = oracle(text)
    assert truth_table(truth_of(show(parse(text))), labels) == truth_table(truth, labels)
    found = cases(parse(text))
    assert len(found) == 2

    def by_cases(profile: Profile) -> bool:
        return any(
            {label.name for label in case.present} <= profile
            and not {label.name for label in case.absent} & profile
            for case in found
        )

    assert truth_table(by_cases, labels) == truth_table(truth, labels)


#: The issue's example: a provider of an open-source AI system, not high-risk, without a
#: transparency duty (systemic risk left open). Upstream's filter: per label group a vereiste
#: applies when the profile has one of its values; a group the profile leaves open matches all.
PROFILE = {
    "soort-toepassing": ["ai-systeem"],
    "risicogroep": ["geen-hoog-risico-ai-systeem"],
    "rol-ai-act": ["aanbieder"],
    "transparantieverplichting": ["geen-transparantieverplichting"],
    "open-source": ["open-source"],
}
EXCLUDED = """
PREFIX ak: <urn:nl:ak:def:>
SELECT DISTINCT ?vereiste WHERE {
  VALUES ?label { %s }
  ?vereiste a ak:Vereiste ; ak:uitzonderingsregel/ak:geval ?case .
  FILTER NOT EXISTS { ?case ak:met ?needed FILTER (?needed NOT IN (%s)) }
  FILTER NOT EXISTS { ?case ak:zonder ?banned FILTER (?banned IN (%s)) }
}
"""


def test_sparql_finds_what_the_exemption_removes(real_corpus: Path) -> None:
    corpus = load_corpus(real_corpus)
    build = build_graph(corpus)
    names = {f"{group}-{value}" for group, values in PROFILE.items() for value in values}
    selected, expected = set(), set()
    for path, _, text in written_exceptions(real_corpus):
        if oracle(text)[0](frozenset(names)):
            expected.add(next(d.urn for d in corpus.documents if d.path == path))
    for document in corpus.documents:
        if document.kind_name == "vereiste" and applies(document.matter.get, PROFILE):
            selected.add(document.urn)
    concepts = ", ".join(f"<urn:nl:ak:{g}:{v}>" for g, vs in PROFILE.items() for v in vs)
    store = ox.Store()
    store.extend(
        ox.Quad(ox.NamedNode(str(s)), ox.NamedNode(str(p)), _ox(o)) for s, p, o in build.graph
    )
    query = EXCLUDED % (concepts.replace(",", ""), concepts, concepts)
    found = {URIRef(row["vereiste"].value) for row in store.query(query)}  # type: ignore[union-attr]
    assert found == expected
    assert len(selected) == 28
    assert {str(u).rsplit(":", 1)[1] for u in found & selected} == {
        "aia-01",
        "aia-02",
        "aia-33",
        "aia-36",
        "aia-37",
    }


def applies(get: Callable[[str], object], profile: dict[str, list[str]]) -> bool:
    for group, wanted in profile.items():
        entry = get(group)
        values = [item.value for item in entry.value.value] if entry else []  # type: ignore[attr-defined]
        if not set(values) & set(wanted):
            return False
    return True


def _ox(term: object) -> ox.NamedNode | ox.Literal:
    return ox.NamedNode(str(term)) if isinstance(term, URIRef) else ox.Literal(str(term))
