"""``/applicable`` and ``kg applicable``: the vereisten an AI-Act profile selects, minus those an
exception removes, checked against an independent reading of the front matter.

The oracle reads every vereiste's front matter with PyYAML (its ``id``, ``title``, tags and
``uitzondering`` items) and every maatregel's ``vereiste`` list (file names of vereisten), and
evaluates each exception with the ``ast`` reading of :mod:`tests.test_applicability`. Nothing of
:mod:`kg.profile` is used to compute what is expected. The API, the command and the query the
answer carries (posted to ``/sparql``) must all agree with it and with each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from kg.cli import main
from tests.helpers import parse_html
from tests.test_applicability import oracle

pytestmark = [pytest.mark.corpus]

GROUPS = (
    "soort-toepassing",
    "risicogroep",
    "rol-ai-act",
    "transparantieverplichting",
    "systeemrisico",
    "open-source",
)

Profile = dict[str, list[str]]

#: The issue's example: a provider of an open-source AI system, not high-risk, no transparency
#: duty (systemic risk left open).
ISSUE: Profile = {
    "soort-toepassing": ["ai-systeem"],
    "risicogroep": ["geen-hoog-risico-ai-systeem"],
    "rol-ai-act": ["aanbieder"],
    "transparantieverplichting": ["geen-transparantieverplichting"],
    "open-source": ["open-source"],
}
PROFILES: dict[str, Profile] = {
    "issue": ISSUE,
    "high-risk deployer": {
        "soort-toepassing": ["ai-systeem"],
        "risicogroep": ["hoog-risico-ai-systeem"],
        "rol-ai-act": ["gebruiksverantwoordelijke"],
    },
    "GPAI provider with systemic risk": {
        "soort-toepassing": ["ai-model-voor-algemene-doeleinden"],
        "rol-ai-act": ["aanbieder"],
        "systeemrisico": ["systeemrisico"],
    },
    "importer of a high-risk system": {
        "soort-toepassing": ["ai-systeem"],
        "risicogroep": ["hoog-risico-ai-systeem"],
        "rol-ai-act": ["importeur"],
    },
    "two roles, open source": {
        "rol-ai-act": ["aanbieder", "gebruiksverantwoordelijke"],
        "open-source": ["open-source"],
    },
    "empty": {},
}


@dataclass(frozen=True)
class Vereiste:
    urn: str
    title: str
    tags: dict[str, list[str]]
    #: (text, path:line) of each uitzondering item.
    exceptions: list[tuple[str, str]]


def front_matter(file: Path) -> tuple[dict[str, Any], list[str]]:
    text = file.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}, []
    matter = yaml.safe_load(text.split("---", 2)[1])
    return (matter if isinstance(matter, dict) else {}), text.splitlines()


def read_vereisten(root: Path) -> dict[str, Vereiste]:
    """Vereiste file stem -> what its front matter says."""
    found = {}
    for file in sorted(root.glob("docs/**/vereisten/*.md")):
        matter, lines = front_matter(file)
        urn = matter.get("id")
        if not isinstance(urn, str) or not urn.startswith("urn:nl:ak:ver:"):
            continue
        path = file.relative_to(root).as_posix()
        items = matter.get("uitzondering") or []
        exceptions = []
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, str) and item.strip():
                line = next(n for n, t in enumerate(lines, 1) if t.strip() == f"- {item}".strip())
                exceptions.append((item.strip(), f"{path}:{line}"))
        tags = {group: [str(v) for v in matter.get(group) or []] for group in GROUPS}
        found[file.stem] = Vereiste(urn, str(matter["title"]), tags, exceptions)
    return found


def read_measures(root: Path, vereisten: dict[str, Vereiste]) -> dict[str, set[str]]:
    """Vereiste URN -> the URNs of the maatregelen that name it."""
    measures: dict[str, set[str]] = {v.urn: set() for v in vereisten.values()}
    for file in sorted(root.glob("docs/**/maatregelen/*.md")):
        matter, _ = front_matter(file)
        urn = matter.get("id")
        if not isinstance(urn, str) or not urn.startswith("urn:nl:ak:mtr:"):
            continue
        for stem in matter.get("vereiste") or []:
            if stem in vereisten:
                measures[vereisten[stem].urn].add(urn)
    return measures


def expected(
    vereisten: dict[str, Vereiste], profile: Profile
) -> tuple[set[str], set[tuple[str, str, str]]]:
    """(applicable URNs, {(urn, exception text, path:line)}) by the README's rule."""
    labels = frozenset(f"{g}-{v}" for g, values in profile.items() for v in values)
    applicable, excluded = set(), set()
    for vereiste in vereisten.values():
        if not any(vereiste.tags.values()):
            continue
        if not all(set(vereiste.tags[g]) & set(values) for g, values in profile.items()):
            continue
        holding = {(vereiste.urn, t, at) for t, at in vereiste.exceptions if oracle(t)[0](labels)}
        if holding:
            excluded |= holding
        else:
            applicable.add(vereiste.urn)
    return applicable, excluded


@pytest.fixture(scope="module")
def oracle_data(real_corpus: Path) -> tuple[dict[str, Vereiste], dict[str, set[str]]]:
    vereisten = read_vereisten(real_corpus)
    return vereisten, read_measures(real_corpus, vereisten)


def api_json(app: Flask, profile: Profile) -> dict[str, object]:
    response = app.test_client().get(
        "/applicable", query_string=profile, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.content_type == "application/json"
    data: dict[str, object] = response.get_json()
    return data


@pytest.mark.parametrize("name", PROFILES)
def test_the_api_answers_as_the_front_matter_says(
    real_app: Flask,
    oracle_data: tuple[dict[str, Vereiste], dict[str, set[str]]],
    name: str,
) -> None:
    vereisten, measures = oracle_data
    profile = PROFILES[name]
    applicable, excluded = expected(vereisten, profile)
    data = api_json(real_app, profile)
    assert data["profiel"] == {g: sorted(v) for g, v in profile.items()}
    rows = data["vereisten"]
    assert isinstance(rows, list)
    assert {row["urn"] for row in rows} == applicable
    titles = {v.urn: " ".join(v.title.split()) for v in vereisten.values()}
    for row in rows:
        assert " ".join(row["titel"].split()) == titles[row["urn"]]
        assert {m["urn"] for m in row["maatregelen"]} == measures[row["urn"]], row["urn"]
    out = data["uitgesloten"]
    assert isinstance(out, list)
    assert {(x["urn"], x["reden"], x["bron"]) for x in out} == excluded
    assert not applicable & {x["urn"] for x in out}


def test_the_issue_profile(
    real_app: Flask, oracle_data: tuple[dict[str, Vereiste], dict[str, set[str]]]
) -> None:
    """28 vereisten selected by their tags, 5 of them removed by the open-source exemption."""
    vereisten, _ = oracle_data
    applicable, excluded = expected(vereisten, ISSUE)
    assert len(applicable) + len({urn for urn, _, _ in excluded}) == 28
    data = api_json(real_app, ISSUE)
    assert len(data["vereisten"]) == 23  # type: ignore[arg-type]
    assert {x["urn"].rsplit(":", 1)[1] for x in data["uitgesloten"]} == {  # type: ignore[attr-defined]
        "aia-01",
        "aia-02",
        "aia-33",
        "aia-36",
        "aia-37",
    }


def run_cli(real_corpus: Path, profile: Profile, capsys: pytest.CaptureFixture[str]) -> object:
    flags = [f"--{group}={value}" for group, values in profile.items() for value in values]
    assert main(["applicable", "--content", str(real_corpus), *flags]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", ["issue", "GPAI provider with systemic risk"])
def test_api_cli_and_the_query_agree(
    real_app: Flask, real_corpus: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    profile = PROFILES[name]
    data = api_json(real_app, profile)
    assert run_cli(real_corpus, profile, capsys) == data
    response = real_app.test_client().post(
        "/sparql",
        data={"query": data["sparql"]},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert response.status_code == 200, response.text
    bindings = json.loads(response.data)["results"]["bindings"]
    free = {b["vereiste"]["value"] for b in bindings if "regel" not in b}
    bound = {b["vereiste"]["value"] for b in bindings if "regel" in b}
    assert free - bound == {row["urn"] for row in data["vereisten"]}  # type: ignore[attr-defined]
    assert bound == {row["urn"] for row in data["uitgesloten"]}  # type: ignore[attr-defined]
    reasons = {(b["vereiste"]["value"], b["reden"]["value"]) for b in bindings if "regel" in b}
    assert reasons == {(x["urn"], x["reden"]) for x in data["uitgesloten"]}  # type: ignore[attr-defined]


def test_the_page_lists_the_same_urns(real_app: Flask) -> None:
    data = api_json(real_app, ISSUE)
    response = real_app.test_client().get("/applicable", query_string=ISSUE)
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = parse_html(response.text)

    def listed(section: str) -> set[str]:
        items = page.by_id(section).find_all("li")
        return {urn for li in items if (urn := li.get("data-urn")) is not None}

    assert listed("vereisten") == {row["urn"] for row in data["vereisten"]}  # type: ignore[attr-defined]
    assert listed("uitgesloten") == {row["urn"] for row in data["uitgesloten"]}  # type: ignore[attr-defined]
    links = page.by_id("vereisten").links()
    assert all(link.startswith("/id/urn:nl:ak:") for link in links)
    checked = {
        (box.get("name"), box.get("value"))
        for box in page.find_all("input", type="checkbox")
        if "checked" in box.attrs
    }
    assert checked == {(g, v) for g, values in ISSUE.items() for v in values}
    assert page.by_id("query").find("pre").text() == data["sparql"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"rol": "aanbieder"}, ["rol", "rol-ai-act", "open-source"]),
        ({"rol-ai-act": "koning"}, ["koning", "aanbieder", "importeur"]),
        ({"risicogroep": ""}, ["risicogroep", "hoog-risico-ai-systeem"]),
        ({"format": "xml"}, ["json"]),
        ({"rol-ai-act": "aanbieder\r\nX-Evil: 1"}, ["control character"]),
        ({"a\nb": "1"}, ["control character"]),
    ],
)
def test_a_bad_parameter_is_a_400_listing_the_valid_ones(
    real_app: Flask, query: dict[str, str], words: list[str]
) -> None:
    response = real_app.test_client().get("/applicable", query_string=query)
    assert response.status_code == 400
    for word in words:
        assert word in response.text


def test_the_cli_refuses_an_unknown_value(
    real_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["applicable", "--content", str(real_corpus), "--rol-ai-act", "koning"]) == 2
    assert "koning" in capsys.readouterr().err


def test_the_sample_content_answers(make_app: Callable[..., Flask], sample_dist: Path) -> None:
    """The sample corpus (no AI-Act tags, or few) still gets a page and a JSON answer."""
    app = make_app(sample_dist)
    assert app.test_client().get("/applicable").status_code == 200
    assert app.test_client().get("/applicable?format=json").status_code == 200


def test_the_groups_are_the_parsers_groups() -> None:
    """kg.profile names the groups itself (the server must not load the parser): the same."""
    from kg.applicability import AI_ACT_GROUPS
    from kg.profile import GROUPS as PROFILE_GROUPS

    assert [group for group, _ in PROFILE_GROUPS] == list(GROUPS)
    assert set(GROUPS) == set(AI_ACT_GROUPS)
