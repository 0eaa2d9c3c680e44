"""The AI-Act decision aid: the tree loaded, checked and walked; its labels mapped; its RDF; the
``/beslishulp`` page, its exports; and a real browser answering its questions.

What is expected is read from the tree's YAML with PyYAML here (questions, answers, redirects,
labels, the lines they are on); conditions are checked against an independent reading through
Python's ``ast`` (the JavaScript operators spelled as Python's, then the tree of the expression
walked: nothing is evaluated as code, here or in the package).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF

from kg.cli import main
from kg.decision_conditions import ConditionError, holds, labels_of, parse, show
from kg.decision_graph import tree_triples
from kg.decision_tree import DecisionTree, load_tree
from kg.decision_walk import load_label_map, paths, walk
from kg.namespace import AK
from tests.conftest import BESLISHULP, REPO, LiveServer
from tests.helpers import chromium, parse_html

pytestmark = [pytest.mark.corpus]

#: Every way through upstream's tree (commit 3cbdec9); docs/beslishulp.md states it too.
PATH_COUNT = 3140
TREE_YAML = BESLISHULP / "decision-tree.yaml"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TREE_YAML.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def tree() -> DecisionTree:
    loaded = load_tree(BESLISHULP)
    assert loaded.diagnostics == ()
    assert loaded.tree is not None
    return loaded.tree


def conditions(raw: dict[str, Any]) -> list[str]:
    return [
        redirect["if"]
        for question in raw["questions"]
        for answer in question["answers"]
        for redirect in answer.get("redirects", [])
    ]


def tree_labels(raw: dict[str, Any]) -> set[str]:
    return {
        label
        for question in raw["questions"]
        for answer in question["answers"]
        for label in answer.get("labels", [])
    }


# -- the tree as loaded ------------------------------------------------------------------------


def test_the_tree_loads_as_the_yaml_says(tree: DecisionTree, raw: dict[str, Any]) -> None:
    assert [q.id for q in tree.questions] == [q["questionId"] for q in raw["questions"]]
    assert [c.id for c in tree.conclusions] == [c["conclusionId"] for c in raw["conclusions"]]
    assert (len(tree.questions), len(tree.conclusions)) == (22, 50)
    answers = [a for q in tree.questions for a in q.answers]
    assert len(answers) == sum(len(q["answers"]) for q in raw["questions"]) == 53
    lines = TREE_YAML.read_text(encoding="utf-8").splitlines()
    for question in tree.questions:
        assert lines[question.line - 1].strip() == f'- questionId: "{question.id}"'
    definitions = yaml.safe_load((BESLISHULP / "definitions.yaml").read_text(encoding="utf-8"))
    assert [d.term for d in tree.definitions] == [d["term"] for d in definitions["definitions"]]


def test_every_path_reaches_a_conclusion(tree: DecisionTree) -> None:
    found = paths(tree)
    assert len(found) == PATH_COUNT
    assert [p for p in found if p.conclusion is None] == []
    assert len({p.answers for p in found}) == PATH_COUNT
    # each path ends where walking it ends, and every step was a real answer
    for path in found[:: max(1, PATH_COUNT // 200)]:
        position = walk(tree, path.answers)
        assert position.conclusion is not None and position.conclusion.id == path.conclusion


def test_no_question_or_conclusion_is_unreachable(tree: DecisionTree, raw: dict[str, Any]) -> None:
    found = paths(tree)
    asked = {question for path in found for question in path.questions}
    assert asked == {q["questionId"] for q in raw["questions"]}
    reached = {path.conclusion for path in found}
    assert reached == {c["conclusionId"] for c in raw["conclusions"]}


def test_every_target_exists(raw: dict[str, Any]) -> None:
    """Every nextQuestionId and nextConclusionId names a question or conclusion of the tree."""
    questions = {q["questionId"] for q in raw["questions"]}
    conclusions = {c["conclusionId"] for c in raw["conclusions"]}
    for question in raw["questions"]:
        for answer in question["answers"]:
            for step in [answer, *answer.get("redirects", [])]:
                assert step.get("nextQuestionId", "1.1") in questions
                assert step.get("nextConclusionId", "11.0") in conclusions


# -- conditions --------------------------------------------------------------------------------


def python_reading(text: str) -> Callable[[frozenset[str]], bool]:
    """An independent reading of a condition: the operators spelled as Python's, parsed by
    ``ast``, the tree walked (``"x" in labels``: membership)."""
    spelled = text.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    tree = ast.parse(spelled.strip(), mode="eval").body

    def value(node: ast.expr, labels: frozenset[str]) -> bool:
        if isinstance(node, ast.BoolOp):
            results = [value(v, labels) for v in node.values]
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not value(node.operand, labels)
        assert isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In)
        assert isinstance(node.left, ast.Constant)
        return node.left.value in labels

    return lambda labels: value(tree, labels)


def test_every_condition_parses_and_means_what_it_says(raw: dict[str, Any]) -> None:
    texts = conditions(raw)
    assert len(texts) == 111
    for text in sorted(set(texts)):
        condition = parse(text)
        assert parse(show(condition)) == condition, text
        oracle = python_reading(text)
        names = sorted(labels_of(condition))
        for bits in product((False, True), repeat=len(names)):
            given = frozenset(name for name, bit in zip(names, bits, strict=True) if bit)
            assert holds(condition, given) == oracle(given), (text, given)


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ('"a" in labels &&', 17),
        ('"a" in lables', 8),
        ('("a" in labels', 15),
        ('"a" in labels "b"', 15),
        ('"a in labels', 1),
        ("a in labels", 1),
        ('"a" in labels; alert(1)', 14),
        ("(" * 40 + '"a" in labels' + ")" * 40, 1),
    ],
)
def test_a_malformed_condition_is_refused(text: str, column: int) -> None:
    with pytest.raises(ConditionError) as error:
        parse(text)
    assert error.value.column + 1 >= 1
    if len(text) < 60:
        assert error.value.column + 1 == column, str(error.value)


# -- schema and diagnostics --------------------------------------------------------------------


def broken_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the tree with the first ``old`` replaced; the line it was on."""
    folder = tmp_path / "beslishulp"
    shutil.copytree(BESLISHULP, folder)
    path = folder / "decision-tree.yaml"
    path.chmod(0o644)
    text = path.read_text(encoding="utf-8")
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")
    return folder, text.count("\n", 0, at) + 1


def test_a_schema_failure_is_reported_at_its_line(tmp_path: Path) -> None:
    # question 1.3 without its required text
    folder, line = broken_copy(
        tmp_path,
        '    question: "Is de toepassing al in gebruik of niet?"\n',
        '    vraag: "Is de toepassing al in gebruik of niet?"\n',
    )
    loaded = load_tree(folder)
    assert loaded.tree is None
    [problem] = loaded.diagnostics
    assert problem.path == str(folder / "decision-tree.yaml")
    assert problem.line == line - 1  # the question's mapping starts on the line before
    assert "'question' is a required property" in problem.message
    assert problem.code == "schema"
    assert problem.format().startswith(f"{folder / 'decision-tree.yaml'}:{line - 1}: error:")


def test_an_unparsable_condition_is_reported_at_its_line(tmp_path: Path) -> None:
    folder, line = broken_copy(
        tmp_path,
        """if: '"distributeur" in labels'""",
        """if: '"distributeur" in labels &&'""",
    )
    loaded = load_tree(folder)
    assert loaded.tree is None
    [problem] = loaded.diagnostics
    assert problem.line == line
    assert "does not parse" in problem.message and "column" in problem.message


def test_broken_yaml_is_reported_at_its_line(tmp_path: Path) -> None:
    folder, line = broken_copy(tmp_path, '  - questionId: "1.3"', '  - questionId: ["1.3"')
    [problem] = load_tree(folder).diagnostics
    assert problem.line >= line
    assert problem.message.startswith("malformed YAML")


def test_the_build_reports_a_broken_tree_and_publishes_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kg.cli import main

    folder, line = broken_copy(tmp_path, "    question: ", "    vraag: ")
    out = tmp_path / "dist"
    status = main(["build", "--content", str(REPO / "content"), "--out", str(out),
                   "--no-validate", "--beslishulp", str(folder)])  # fmt: skip
    assert status == 1
    assert f"decision-tree.yaml:{line - 1}: error:" in capsys.readouterr().err
    assert not (out / "beslishulp.json").exists()


# -- labels ------------------------------------------------------------------------------------


def vereiste_values(root: Path) -> dict[str, set[str]]:
    """AI-Act group -> every value a vereiste of the content is tagged with (PyYAML)."""
    found: dict[str, set[str]] = {}
    for file in root.glob("docs/**/vereisten/*.md"):
        text = file.read_text(encoding="utf-8")
        if text.startswith("---"):
            matter = yaml.safe_load(text.split("---", 2)[1]) or {}
            for group in ("soort-toepassing", "risicogroep", "rol-ai-act",
                          "transparantieverplichting", "systeemrisico", "open-source"):  # fmt: skip
                found.setdefault(group, set()).update(matter.get(group) or [])
    return found


def test_every_label_is_mapped_or_listed_as_unmapped(
    raw: dict[str, Any], real_corpus: Path
) -> None:
    label_map = load_label_map()
    labels = tree_labels(raw)
    assert len(labels) == 22
    assert labels == set(label_map.mapped) | set(label_map.unmapped)
    assert not set(label_map.mapped) & set(label_map.unmapped)
    values = vereiste_values(real_corpus)
    for label, (group, value) in label_map.mapped.items():
        assert value in values[group], f"{label} -> {group}/{value}: no vereiste has it"
    assert all(why.strip() for why in label_map.unmapped.values())


# -- the graph ---------------------------------------------------------------------------------


def test_the_tree_as_rdf(tree: DecisionTree) -> None:
    graph = Graph()
    for triple in tree_triples(tree, load_label_map(), {}):
        graph.add(triple)
    counts = {
        name: len(set(graph.subjects(RDF.type, AK[name])))
        for name in ("Vraag", "Antwoord", "Conclusie", "Doorverwijzing", "BeslishulpLabel")
    }
    assert counts == {
        "Vraag": 22,
        "Antwoord": 53,
        "Conclusie": 50,
        "Doorverwijzing": 111,
        "BeslishulpLabel": 22,
    }
    ontology = Graph().parse(REPO / "ontology" / "algoritmekader.ttl")
    declared = {
        s for t in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
        for s in ontology.subjects(RDF.type, t)
    }  # fmt: skip
    used = {
        node
        for s, p, o in graph
        for node in (p, o if p == RDF.type else p)
        if isinstance(node, URIRef) and str(node).startswith(str(AK))
    }
    assert used - declared == set()


def test_the_built_graph_holds_the_tree(beslishulp_dist: Path) -> None:
    import pyoxigraph as ox

    store = ox.Store()
    store.load(path=str(beslishulp_dist / "graph.nt"), format=ox.RdfFormat.N_TRIPLES)
    query = f"""SELECT ?label ?value WHERE {{
      ?answer <{AK.label}> ?label . ?label <http://www.w3.org/2004/02/skos/core#exactMatch> ?value
    }}"""
    pairs = {(row[0].value, row[1].value) for row in store.query(query)}  # type: ignore[union-attr]
    assert (
        "urn:nl:ak:beslishulp-label:hoog-risico-ai",
        "urn:nl:ak:risicogroep:hoog-risico-ai-systeem",
    ) in pairs
    matched = store.query(
        "ASK { ?d <http://www.w3.org/2004/02/skos/core#exactMatch> <urn:nl:ak:begrip:aanbieder> }"
    )
    assert bool(matched)
    # each question, answer, redirect and conclusion has its line in the source map
    resources = json.loads((beslishulp_dist / "sourcemap.json").read_text())["resources"]
    lines = TREE_YAML.read_text(encoding="utf-8").splitlines()
    path, line = resources["urn:nl:ak:beslishulp:vraag-1-3"]
    assert path == str(TREE_YAML) and lines[line - 1].strip() == '- questionId: "1.3"'
    path, line = resources["urn:nl:ak:beslishulp:vraag-1-2#antwoord-7"]
    assert lines[line - 1].strip() == "- answer: We importeren van een leverancier buiten de EU"


# -- the page ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(make_app: Callable[..., Flask], beslishulp_dist: Path) -> Flask:
    return make_app(beslishulp_dist)


def answer_numbers(page: Any) -> dict[str, str]:
    """Answer text -> its radio button's value, on a question page."""
    found = {}
    for radio in page.find_all("input", type="radio"):
        label = page.find("label", **{"for": radio.get("id")})
        found[" ".join(label.text().split())] = radio.get("value")
    return found


def test_the_first_question(app: Flask, raw: dict[str, Any]) -> None:
    response = app.test_client().get("/beslishulp")
    assert response.status_code == 200
    page = parse_html(response.text)
    assert page.find("legend").text().strip() == raw["questions"][0]["question"]
    assert answer_numbers(page) == {"Ja": "1", "Nee": "2"}
    assert page.by_id("vraag").find("form").get("action") == "/beslishulp"


def test_each_step_holds_the_answers_so_far(app: Flask, raw: dict[str, Any]) -> None:
    response = app.test_client().get("/beslishulp?a=1&a=5")
    page = parse_html(response.text)
    hidden = [i.get("value") for i in page.find_all("input", type="hidden")]
    assert hidden == ["1", "5"]
    assert page.by_id("terug").get("href") == "/beslishulp?a=1"
    third = raw["questions"][2]
    assert page.find("legend").text().strip() == third["question"]
    sources = {a.get("href") for a in page.find("ul", **{"class": "bronnen"}).find_all("a")}
    assert sources == {s["url"] for s in third["sources"]}


def test_no_algorithm_is_a_conclusion_without_vereisten(app: Flask) -> None:
    page = parse_html(app.test_client().get("/beslishulp?a=2").text)
    assert "Conclusie 11.0" in page.by_id("conclusie-titel").text()
    assert page.by_id("niet-van-toepassing") is not None


@pytest.mark.parametrize(
    "query",
    [
        "a=3",
        "a=1&a=99",
        "a=x",
        "a=-1",
        "a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1",
    ],
)
def test_answers_that_do_not_fit_are_a_400(app: Flask, query: str) -> None:
    assert app.test_client().get(f"/beslishulp?{query}").status_code == 400


def test_an_export_before_a_conclusion_is_a_400(app: Flask) -> None:
    assert app.test_client().get("/beslishulp?a=1&format=csv").status_code == 400
    assert app.test_client().get("/beslishulp?a=2&format=pdf").status_code == 400


def test_a_publication_without_the_tree_has_no_page(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    response = make_app(sample_dist).test_client().get("/beslishulp")
    assert response.status_code == 404
    assert "--beslishulp" in response.text


def test_the_header_links_the_beslishulp_only_where_there_is_one(
    make_app: Callable[..., Flask], sample_dist: Path, app: Flask
) -> None:
    for served, expected in ((make_app(sample_dist), []), (app, ["/beslishulp"])):
        nav = parse_html(served.test_client().get("/applicable").text).find("nav")
        assert [href for href in nav.links() if href.startswith("/beslishulp")] == expected


#: A high-risk deployer (see tests/test_profiles.py for the reasoning).
DEPLOYER = [1, 5, 1, 1, 2, 1, 2, 2, 2]


# -- kg beslishulp -----------------------------------------------------------------------------


def test_the_command_reads_the_tree_from_its_folder_or_the_publication(
    beslishulp_dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = ",".join(map(str, DEPLOYER))
    outputs = []
    for tree in ([], ["--beslishulp", str(BESLISHULP)]):
        command = ["beslishulp", "--dist", str(beslishulp_dist), *tree, "--answers", answers]
        assert main(command) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert outputs[0]["conclusie"]["id"] == "13.0.2"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--answers", "1,99"], "question 1.2 has no answer 99"),
        (["--answers", "1,x"], "--answers takes answer numbers"),
        (["--answer", "1.1=Misschien"], "question 1.1 has no answer 'Misschien'"),
        (["--answer", "1.1=Ja", "--answer", "2.3=1"], "not asked on the path"),
        (["--answer", "9.9=1"], "the tree has no question 9.9"),
        (["--answer", "1.1"], "--answer takes QUESTION=ANSWER"),
        (["--answers", "1", "--answer", "1.2=1"], "not both"),
        (["--answers", "1,1,1,1,1,1,1,1,1,1,1,1,1,1"], "more answers than questions"),
    ],
)
def test_answers_that_do_not_fit_are_exit_2_with_one_line(
    beslishulp_dist: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert main(["beslishulp", "--dist", str(beslishulp_dist), *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("kg: ") and captured.err.count("\n") == 1
    assert message in captured.err


def test_the_command_without_a_tree_is_exit_2(
    sample_dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["beslishulp", "--dist", str(sample_dist), "--answers", "1"]) == 2
    assert "--beslishulp" in capsys.readouterr().err


def test_the_exports_hold_the_list_of_the_page(app: Flask) -> None:
    from openpyxl import load_workbook

    client = app.test_client()
    query = "&".join(f"a={n}" for n in DEPLOYER)
    page = parse_html(client.get(f"/beslishulp?{query}").text)
    listed = {li.get("data-urn") for li in page.by_id("vereisten-lijst").find_all("li")}
    response = client.get(f"/beslishulp?{query}&format=csv")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["vereiste", "vereiste_titel", "maatregel", "maatregel_titel"]
    assert {row[0] for row in rows[1:]} == listed
    workbook = load_workbook(io.BytesIO(client.get(f"/beslishulp?{query}&format=xlsx").data))
    sheet = [list(r) for r in workbook["Vereisten"].iter_rows(values_only=True)]
    assert [[c or "" for c in row] for row in sheet] == rows
    steps = list(workbook["Antwoorden"].iter_rows(values_only=True))
    assert len(steps) == 1 + len(DEPLOYER)


def test_a_cell_never_starts_a_formula() -> None:
    from server.services.beslishulp import cell

    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert cell("@SUM") == "'@SUM"
    assert cell("Gewoon") == "Gewoon"


def test_the_page_links_a_print_stylesheet(app: Flask) -> None:
    query = "&".join(f"a={n}" for n in DEPLOYER)
    page = parse_html(app.test_client().get(f"/beslishulp?{query}").text)
    sheets = [link.get("href") for link in page.find_all("link", rel="stylesheet")]
    assert "/static/beslishulp.css" in sheets
    css = (REPO / "server" / "static" / "beslishulp.css").read_text(encoding="utf-8")
    assert "@media print" in css


# -- a real browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beslishulp_server(beslishulp_dist: Path) -> Iterator[LiveServer]:
    server = LiveServer(beslishulp_dist)
    yield server
    server.stop()


@pytest.mark.browser
def test_a_browser_answers_the_questions_and_lands_on_the_list(
    beslishulp_server: LiveServer, tmp_path: Path
) -> None:
    """A high-risk deployer, answered by clicking the labels and the button, as a person would;
    the page's list is the one ``/applicable`` gives for that profile."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chromium(tmp_path / "profile")
    try:
        browser.get(f"{beslishulp_server.url}/")
        browser.find_element(By.LINK_TEXT, "Beslishulp").click()
        texts = [
            "Ja",
            "We gebruiken een extern ontwikkelde toepassing zonder aanpassingen",
            "In gebruik",
            "Ja, het is een AI-systeem",
            "Nee",
            "Naar risicogroep bepaling",
            "Nee",
            "Ja Sectie B van Bijlage I",
            "Nee",
        ]
        # our stylesheet for the page applied (the Content Security Policy allows only 'self')
        fieldset = browser.find_element(By.CSS_SELECTOR, "#vraag fieldset")
        assert fieldset.value_of_css_property("border-top-left-radius") == "4px"
        for step, text in enumerate(texts, start=1):
            browser.find_element(By.XPATH, f'//label[normalize-space()="{text}"]').click()
            browser.find_element(By.ID, "volgende").click()
            so_far = "&".join(f"a={n}" for n in DEPLOYER[:step])
            WebDriverWait(browser, 10).until(expected_conditions.url_contains(so_far))
            WebDriverWait(browser, 10).until(
                lambda driver: driver.execute_script("return document.readyState") == "complete"
            )
        assert browser.current_url.endswith("/beslishulp?" + "&".join(f"a={n}" for n in DEPLOYER))
        assert "13.0.2" in browser.find_element(By.ID, "conclusie-titel").text
        shown = {
            li.get_attribute("data-urn")
            for li in browser.find_elements(By.CSS_SELECTOR, "#vereisten-lijst li")
        }
        browser.save_screenshot(str(tmp_path / "beslishulp.png"))
        address = (
            f"{beslishulp_server.url}/applicable?format=json&soort-toepassing=ai-systeem"
            "&risicogroep=hoog-risico-ai-systeem&rol-ai-act=gebruiksverantwoordelijke"
            "&transparantieverplichting=geen-transparantieverplichting"
        )
        with urllib.request.urlopen(address, timeout=30) as response:
            data = json.load(response)
        assert shown == {row["urn"] for row in data["vereisten"]}
        assert len(shown) > 10
        refused = [
            entry["message"]
            for entry in browser.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
        ]
        assert refused == []
    finally:
        browser.quit()


def test_only_web_addresses_become_links() -> None:
    from kg.decision_tree import Source

    assert Source("x", "javascript:alert(1)").href == ""
    assert Source("x", "https://eur-lex.europa.eu/").href == "https://eur-lex.europa.eu/"


def test_explanations_are_sanitised() -> None:
    from server.services.beslishulp import tree_html

    html = str(
        tree_html('<strong>a</strong><br><script>x()</script><a href="javascript:x()">b</a>')
    )
    assert "<strong>a</strong>" in html and "<script" not in html and "javascript" not in html


def test_the_maatregelen_are_grouped_by_their_phases(app: Flask, real_corpus: Path) -> None:
    """Every maatregel whose front matter names a vereiste the page lists is under each phase
    its ``levenscyclus`` names, and nothing else is (hulpmiddelen aside)."""
    query = "&".join(f"a={n}" for n in DEPLOYER)
    page = parse_html(app.test_client().get(f"/beslishulp?{query}").text)
    listed = {li.get("data-urn") for li in page.by_id("vereisten-lijst").find_all("li")}
    stems = {}
    for file in real_corpus.glob("docs/**/vereisten/*.md"):
        matter = yaml.safe_load(file.read_text(encoding="utf-8").split("---", 2)[1]) or {}
        stems[file.stem] = matter.get("id")
    expected: set[tuple[str, str]] = set()
    for file in real_corpus.glob("docs/**/maatregelen/*.md"):
        matter = yaml.safe_load(file.read_text(encoding="utf-8").split("---", 2)[1]) or {}
        if {stems.get(stem) for stem in matter.get("vereiste") or []} & listed:
            for phase in matter.get("levenscyclus") or []:
                expected.add((f"/id/urn:nl:ak:lcf:{phase}", f"/id/{matter['id']}"))
    section = page.by_id("maatregelen")
    shown = {
        (heading.find("a").get("href"), li.find("a").get("href"))
        for heading, items in zip(section.find_all("h3"), section.find_all("ul"), strict=True)
        for li in items.find_all("li", class_="maatregel")
    }
    assert shown == expected
    assert len({phase for phase, _ in shown}) >= 5
