"""``kg build`` validates in a forked child and keeps each result beside the parse cache: a
rebuild of the same graph, source map and shapes publishes the kept report; anything that can
change a finding (a line moved, the shapes edited) is validated again, and the report is then
the one a build without any cache publishes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import kg.validation
from tests.conftest import REPO
from tests.helpers import build_quietly as build
from tests.helpers import cache_entries

FIXTURES = Path(__file__).resolve().parent / "shapes"
CASE = FIXTURES / "LevenscyclusValue" / "fail"
#: The page of the case, and the value the shapes find wrong (not a levenscyclus page).
PAGE = "docs/voldoen-aan-wetten-en-regels/vereisten/tst-01-voorbeeld.md"
WRONG = "- bestaat-niet"
REPORT = ("validation.ttl", "validation.json")


def report(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in REPORT}


def kept(out: Path) -> set[Path]:
    return set(cache_entries(out, "validation"))


def line_of(page: Path, text: str) -> int:
    return page.read_text(encoding="utf-8").splitlines().index(text) + 1


def finding_lines(out: Path) -> list[int]:
    findings = json.loads((out / "validation.json").read_text(encoding="utf-8"))["findings"]
    return [f["line"] for f in findings if f["path"] == PAGE and f["shape"] == "LevenscyclusValue"]


def fresh_report(content: Path, tmp_path: Path, **settings: object) -> dict[str, bytes]:
    """The report of a build that uses no cache at all (the reference)."""
    out = tmp_path / "fresh" / "dist"
    build(content, out, use_cache=False, **settings)
    assert not kept(out)
    return report(out)


@pytest.fixture()
def content(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(FIXTURES / "base", copy)
    shutil.copytree(CASE, copy, dirs_exist_ok=True)
    return copy


def refuse_to_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on validating fails, in this process and in the child a build forks."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validated again")

    monkeypatch.setattr(kg.validation, "validate", refuse)


def test_a_rebuild_of_the_same_graph_publishes_the_kept_report(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    assert build(content, out) == 0  # findings do not fail a build (without --strict)
    first = report(out)
    assert finding_lines(out) == [line_of(content / PAGE, WRONG)]
    assert len(kept(out)) == 1
    refuse_to_validate(monkeypatch)
    assert build(content, out) == 0  # validating would fail: the kept report is used
    assert report(out) == first
    monkeypatch.undo()
    assert first == fresh_report(content, tmp_path)


def test_a_moved_line_is_validated_again_and_reported_where_it_is(
    content: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    assert build(content, out) == 0
    before = finding_lines(out)
    page = content / PAGE
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("---\n", "---\n# een opmerking\n", 1), encoding="utf-8")
    assert build(content, out) == 0
    moved = line_of(page, WRONG)
    assert finding_lines(out) == [moved] != before  # same triples, another line
    assert len(kept(out)) == 2
    assert report(out) == fresh_report(content, tmp_path)


def test_edited_shapes_are_validated_again(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shapes = tmp_path / "shapes"
    shutil.copytree(REPO / "shapes", shapes)
    out = tmp_path / "dist"
    assert build(content, out, shapes=shapes) == 0
    assert finding_lines(out)
    # the rule that finds the value deactivated: the same graph now conforms
    (shapes / "zz-off.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "<urn:nl:ak:shape:LevenscyclusValue> sh:deactivated true .\n",
        encoding="utf-8",
    )
    assert build(content, out, shapes=shapes) == 0
    assert finding_lines(out) == []
    assert report(out) == fresh_report(content, tmp_path, shapes=shapes)
    refuse_to_validate(monkeypatch)
    with pytest.raises(AssertionError, match="validated again"):  # no cache: validated
        build(content, tmp_path / "other" / "dist", shapes=shapes, use_cache=False)


def test_a_failing_validation_fails_the_build_as_it_did_in_process(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child's failure is not swallowed: the parent validates again and raises."""
    refuse_to_validate(monkeypatch)
    out = tmp_path / "dist"
    with pytest.raises(AssertionError, match="validated again"):
        build(content, out)
    assert not out.exists() and not kept(out)
