"""Twelve AI-Act profiles, each answered through the decision aid, and what then applies.

For every profile the answers are given by their text, as a person picks them on the page; the
conclusion and the profile the labels stand for are written by hand from the tree
(``decision-tree.yaml``) and the label map (``ontology/beslishulp-labels.yaml``), with the
reasoning in comments. The vereisten expected are computed from the front matter of the vereisten
files alone (:func:`tests.test_applicable.expected`, PyYAML, the README's rule: per group the
profile fills, one of its values; then the ``uitzondering`` exceptions). The page (walked one
question at a time), ``GET /applicable``, ``kg beslishulp`` (with the answer numbers of the
page's address), ``kg applicable`` (on the publication, and once on the content with the parse
cache) and the SPARQL query the answer carries must all give that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from kg.cli import main
from tests.helpers import parse_html
from tests.test_applicable import Vereiste, api_json, expected, read_vereisten

pytestmark = [pytest.mark.corpus]

Profile = dict[str, list[str]]


@dataclass(frozen=True)
class Case:
    #: The answers, by their text, one per question in turn.
    answers: tuple[str, ...]
    conclusion: str
    #: The profile the labels stand for; None: the AI Act does not apply (no kind of
    #: application was established), so no AI-Act vereiste applies.
    profile: Profile | None
    #: Labels that add nothing to the profile (unmapped in the label map).
    ignored: set[str] = field(default_factory=set)


START = ("Ja",)  # 1.1: there is an algorithm
IN_USE = "In gebruik"  # 1.3: 'in gebruik', unmapped (deadlines, not which vereisten)
AI_SYSTEM = "Ja, het is een AI-systeem"  # 1.4.1: label 'AI-systeem'
TO_RISK = ("Nee", "Naar risicogroep bepaling")  # 1.5 no exception ground; 2.0 go on

CASES: dict[str, Case] = {
    # 1.2 "extern ontwikkeld zonder aanpassingen": gebruiksverantwoordelijke. 2.1 not prohibited;
    # 2.3 Annex I section B: hoog-risico AI, and for a deployer on to 2.9; no transparency duty:
    # geen transparantieverplichting; the first redirect that holds for a deployer of a
    # high-risk AI system leads to 13.0.2.
    "high-risk deployer": Case(
        (
            *START,
            "We gebruiken een extern ontwikkelde toepassing zonder aanpassingen",
            IN_USE,
            AI_SYSTEM,
            *TO_RISK,
            "Nee",
            "Ja Sectie B van Bijlage I",
            "Nee",
        ),
        "13.0.2",
        {
            "rol-ai-act": ["gebruiksverantwoordelijke"],
            "soort-toepassing": ["ai-systeem"],
            "risicogroep": ["hoog-risico-ai-systeem"],
            "transparantieverplichting": ["geen-transparantieverplichting"],
        },
        {"in gebruik"},
    ),
    # 1.2 "We ontwikkelen enkel": aanbieder. High-risk as above; 2.9 yes, 2.10 no exception:
    # transparantieverplichting -> 12.0.1.
    "high-risk provider": Case(
        (
            *START,
            "We ontwikkelen enkel",
            IN_USE,
            AI_SYSTEM,
            *TO_RISK,
            "Nee",
            "Ja Sectie B van Bijlage I",
            "Ja",
            "Nee",
        ),
        "12.0.1",
        {
            "rol-ai-act": ["aanbieder"],
            "soort-toepassing": ["ai-systeem"],
            "risicogroep": ["hoog-risico-ai-systeem"],
            "transparantieverplichting": ["transparantieverplichting"],
        },
        {"in gebruik"},
    ),
    # 1.4.1 no, 1.4.2 a general-purpose AI model; a provider goes on to 1.5; 2.0 sends a
    # model to 2.8; systemic risk: systeemrisico -> 12.2.1.
    "GPAI model provider with systemic risk": Case(
        (
            *START,
            "We ontwikkelen enkel",
            IN_USE,
            "Nee, het is geen AI-systeem",
            "AI-model voor algemene doeleinden",
            *TO_RISK,
            "Ja",
        ),
        "12.2.1",
        {
            "rol-ai-act": ["aanbieder"],
            "soort-toepassing": ["ai-model-voor-algemene-doeleinden"],
            "systeemrisico": ["systeemrisico"],
        },
        {"in gebruik"},
    ),
    # A general-purpose AI system (1.4.2), not prohibited, no Annex I or III: geen hoog-risico
    # AI; 2.11 open licence: open-source; 2.9 no transparency duty: the open-source exemption
    # (11.2). The profile still names a kind of application, so the vereisten are asked for:
    # the exemption's `uitzondering` removes the ones it covers.
    "open-source GPAI system, no transparency duty, not high-risk": Case(
        (
            *START,
            "We ontwikkelen enkel",
            IN_USE,
            "Nee, het is geen AI-systeem",
            "AI-systeem voor algemene doeleinden",
            *TO_RISK,
            "Nee",
            "Geen van beide",
            "Nee",
            "Ja",
            "Nee",
        ),
        "11.2",
        {
            "rol-ai-act": ["aanbieder"],
            "soort-toepassing": ["ai-systeem-voor-algemene-doeleinden"],
            "risicogroep": ["geen-hoog-risico-ai-systeem"],
            "open-source": ["open-source"],
            "transparantieverplichting": ["geen-transparantieverplichting"],
        },
        {"in gebruik"},
    ),
    # 2.1 yes (Article 5), 2.2 no exception: verboden AI -> 12.0.0 for a provider.
    "prohibited AI": Case(
        (*START, "We ontwikkelen enkel", IN_USE, AI_SYSTEM, *TO_RISK, "Ja", "Nee"),
        "12.0.0",
        {
            "rol-ai-act": ["aanbieder"],
            "soort-toepassing": ["ai-systeem"],
            "risicogroep": ["verboden-ai"],
        },
        {"in gebruik"},
    ),
    # 1.4.1 no, 1.4.2 none of these: not an AI system (11.1), no kind of application.
    "not an AI system": Case(
        (
            *START,
            "We ontwikkelen enkel",
            IN_USE,
            "Nee, het is geen AI-systeem",
            "Geen van bovenstaande",
        ),
        "11.1",
        None,
        {"in gebruik"},
    ),
    # 1.1 no: geen algoritme (unmapped) -> 11.0.
    "no algorithm": Case(("Nee",), "11.0", None, {"geen algoritme"}),
    # 1.2 none of the roles -> 11.3: the AI Act does not apply.
    "no role": Case((*START, "Geen van bovenstaande"), "11.3", None),
    # 1.2 import from outside the EU: importeur. Annex I section A: hoog-risico AI; an
    # importer's redirect ends at once in 15.0.1.
    "importer": Case(
        (
            *START,
            "We importeren van een leverancier buiten de EU",
            IN_USE,
            AI_SYSTEM,
            *TO_RISK,
            "Nee",
            "Ja Sectie A van Bijlage I",
        ),
        "15.0.1",
        {
            "rol-ai-act": ["importeur"],
            "soort-toepassing": ["ai-systeem"],
            "risicogroep": ["hoog-risico-ai-systeem"],
        },
        {"in gebruik"},
    ),
    # 1.2 buy within the EU and sell: distributeur. Not high-risk (2.4 no) -> 16.0.3.
    "distributor": Case(
        (
            *START,
            "We kopen van een leverancier binnen de EU en verkopen het",
            IN_USE,
            AI_SYSTEM,
            *TO_RISK,
            "Nee",
            "Geen van beide",
            "Nee",
        ),
        "16.0.3",
        {
            "rol-ai-act": ["distributeur"],
            "soort-toepassing": ["ai-systeem"],
            "risicogroep": ["geen-hoog-risico-ai-systeem"],
        },
        {"in gebruik"},
    ),
    # 1.5 yes: an exception ground (uitzondering van toepassing) -> 11.2.
    "exception ground": Case(
        (*START, "We ontwikkelen enkel", IN_USE, AI_SYSTEM, "Ja"),
        "11.2",
        {
            "rol-ai-act": ["aanbieder"],
            "soort-toepassing": ["ai-systeem"],
            "risicogroep": ["uitzondering-van-toepassing"],
        },
        {"in gebruik"},
    ),
    # Develops and uses it (aanbieder and gebruiksverantwoordelijke), not high-risk, 2.11 no
    # open licence: geen open-source; 2.9 yes, 2.10 no: transparantieverplichting -> 14.0.3.
    "provider and deployer with a transparency duty": Case(
        (
            *START,
            "We ontwikkelen, maar gebruiken het niet alleen zelf",
            IN_USE,
            AI_SYSTEM,
            *TO_RISK,
            "Nee",
            "Geen van beide",
            "Nee",
            "Nee",
            "Ja",
            "Nee",
        ),
        "14.0.3",
        {
            "rol-ai-act": ["aanbieder", "gebruiksverantwoordelijke"],
            "soort-toepassing": ["ai-systeem"],
            "risicogroep": ["geen-hoog-risico-ai-systeem"],
            "open-source": ["geen-open-source"],
            "transparantieverplichting": ["transparantieverplichting"],
        },
        {"in gebruik"},
    ),
    # A deployer of a general-purpose AI model: 1.5 no leads (first redirect) to 2.0 and 2.8;
    # no systemic risk: geen systeemrisico -> 13.2.1.
    "GPAI model deployer": Case(
        (
            *START,
            "We gebruiken een extern ontwikkelde toepassing zonder aanpassingen",
            IN_USE,
            "Nee, het is geen AI-systeem",
            "AI-model voor algemene doeleinden",
            *TO_RISK,
            "Nee",
        ),
        "13.2.1",
        {
            "rol-ai-act": ["gebruiksverantwoordelijke"],
            "soort-toepassing": ["ai-model-voor-algemene-doeleinden"],
            "systeemrisico": ["geen-systeemrisico"],
        },
        {"in gebruik"},
    ),
}


@pytest.fixture(scope="module")
def app(make_app: Callable[..., Flask], beslishulp_dist: Path) -> Flask:
    return make_app(beslishulp_dist)


@pytest.fixture(scope="module")
def vereisten(real_corpus: Path) -> dict[str, Vereiste]:
    return read_vereisten(real_corpus)


def walk_the_page(app: Flask, answers: tuple[str, ...]) -> tuple[Any, list[str]]:
    """Answer each question by the text of its answer, as the form does; the last page and
    the answer numbers its address holds."""
    client = app.test_client()
    numbers: list[str] = []
    page = parse_html(client.get("/beslishulp").text)
    for text in answers:
        form = page.by_id("vraag").find("form")
        radios = {
            " ".join(form.find("label", **{"for": r.get("id")}).text().split()): r.get("value")
            for r in form.find_all("input", type="radio")
        }
        assert text in radios, (text, sorted(radios))
        numbers.append(str(radios[text]))
        response = client.get("/beslishulp", query_string={"a": numbers})
        assert response.status_code == 200, response.text
        page = parse_html(response.text)
    return page, numbers


@pytest.fixture(scope="module")
def walked(app: Flask) -> Callable[[str], tuple[Any, list[str]]]:
    """The page walk of a case, walked once per module."""
    done: dict[str, tuple[Any, list[str]]] = {}

    def walk(name: str) -> tuple[Any, list[str]]:
        if name not in done:
            done[name] = walk_the_page(app, CASES[name].answers)
        return done[name]

    return walk


def test_there_are_at_least_twelve() -> None:
    assert len(CASES) >= 12


@pytest.mark.parametrize("name", CASES)
def test_the_page_lands_on_what_the_front_matter_says(
    walked: Callable[[str], tuple[Any, list[str]]], vereisten: dict[str, Vereiste], name: str
) -> None:
    case = CASES[name]
    page, _ = walked(name)
    assert f"Conclusie {case.conclusion}" in page.by_id("conclusie-titel").text()
    shown_profile = {
        dt.text().strip(): dd.text().strip().split(", ")
        for dt, dd in zip(
            page.by_id("profiel").find_all("dt"), page.by_id("profiel").find_all("dd"), strict=True
        )
    }
    ignored = {
        li.find("strong").text().strip()
        for li in page.by_id("profiel").find_all("li")
        if li.find_all("strong")
    }
    assert ignored == case.ignored
    if case.profile is None:
        assert "geen vereisten" in page.by_id("niet-van-toepassing").text()
        assert page.find_all(id="vereisten-lijst") == []
        return
    assert shown_profile == case.profile
    applicable, excluded = expected(vereisten, case.profile)
    listed = {li.get("data-urn") for li in page.by_id("vereisten-lijst").find_all("li")}
    assert listed == applicable
    out = {li.get("data-urn") for s in page.find_all(id="uitgesloten") for li in s.find_all("li")}
    assert out == {urn for urn, _, _ in excluded}
    assert applicable, "every profile here that names a kind of application gets vereisten"


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.profile is not None])
def test_the_api_and_the_query_agree(app: Flask, vereisten: dict[str, Vereiste], name: str) -> None:
    profile = CASES[name].profile
    assert profile is not None
    applicable, excluded = expected(vereisten, profile)
    data = api_json(app, profile)
    assert {row["urn"] for row in data["vereisten"]} == applicable  # type: ignore[attr-defined]
    assert {(x["urn"], x["reden"], x["bron"]) for x in data["uitgesloten"]} == excluded  # type: ignore[attr-defined]
    # the query the answer carries, posted to the endpoint
    response = app.test_client().post(
        "/sparql",
        data={"query": data["sparql"]},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert response.status_code == 200, response.text
    bindings = json.loads(response.data)["results"]["bindings"]
    bound = {b["vereiste"]["value"] for b in bindings if "regel" in b}
    free = {b["vereiste"]["value"] for b in bindings} - bound
    assert free == applicable
    assert bound == {urn for urn, _, _ in excluded}


def run_kg(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    assert main(arguments) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", CASES)
def test_the_beslishulp_command_answers_as_the_page(
    app: Flask,
    beslishulp_dist: Path,
    vereisten: dict[str, Vereiste],
    walked: Callable[[str], tuple[Any, list[str]]],
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    """``kg beslishulp --answers`` with the numbers of the page's address: the same conclusion,
    profile and labels left out, and ``/applicable``'s answer, which is the front matter's."""
    case = CASES[name]
    _, numbers = walked(name)
    data = run_kg(
        ["beslishulp", "--dist", str(beslishulp_dist), "--answers", ",".join(numbers)], capsys
    )
    assert data["antwoorden"] == [int(n) for n in numbers]
    assert [step["antwoordtekst"] for step in data["pad"]] == list(case.answers)
    assert data["volgende_vraag"] is None
    assert data["conclusie"]["id"] == case.conclusion
    assert data["conclusie"]["verplichting"]
    assert {item["label"] for item in data["niet_meegenomen"]} == case.ignored
    if case.profile is None:
        assert data["van_toepassing"] is None
        return
    assert data["profiel"] == case.profile
    assert data["van_toepassing"] == api_json(app, case.profile)
    applicable, excluded = expected(vereisten, case.profile)
    assert {row["urn"] for row in data["van_toepassing"]["vereisten"]} == applicable
    out = data["van_toepassing"]["uitgesloten"]
    assert {(x["urn"], x["reden"], x["bron"]) for x in out} == excluded


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.profile is not None])
def test_kg_applicable_on_the_publication_agrees(
    app: Flask, beslishulp_dist: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    profile = CASES[name].profile
    assert profile is not None
    flags = [f"--{group}={value}" for group, values in profile.items() for value in values]
    data = run_kg(["applicable", "--dist", str(beslishulp_dist), *flags], capsys)
    assert data == api_json(app, profile)


def test_answers_by_question_and_text_walk_the_same_path(
    beslishulp_dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    by_number = run_kg(["beslishulp", "--dist", str(beslishulp_dist), "--answers", "1,1"], capsys)
    pairs = [f"--answer={s['vraag']}={s['antwoordtekst'].upper()}" for s in by_number["pad"]]
    by_text = run_kg(["beslishulp", "--dist", str(beslishulp_dist), *reversed(pairs)], capsys)
    assert by_text == by_number
    assert by_text["conclusie"] is None
    question = by_text["volgende_vraag"]
    assert question["vraag"] == "1.3"
    assert [a["nummer"] for a in question["antwoorden"]] == [1, 2]


def test_kg_applicable_builds_with_the_parse_cache(
    app: Flask, real_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without ``--dist`` the content is built; ``--cache`` keeps the parses, so a second call
    parses nothing and writes nothing new to it, and answers the same."""
    profile = CASES["open-source GPAI system, no transparency duty, not high-risk"].profile
    assert profile is not None
    flags = [f"--{group}={value}" for group, values in profile.items() for value in values]
    command = ["applicable", "--content", str(real_corpus), "--cache", str(tmp_path), *flags]
    first = run_kg(command, capsys)
    entries = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(entries) > 100  # one per document of upstream's content
    assert run_kg(command, capsys) == first == api_json(app, profile)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == entries
