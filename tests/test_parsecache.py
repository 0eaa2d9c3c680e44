"""The parse cache: a rebuild parses only what changed, and never publishes a stale parse."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import kg.corpus
from kg.corpus import load_corpus
from tests.conftest import SAMPLE_CONTENT
from tests.helpers import build_quietly, redefine_dpia

DUMPS = ("graph.nt", "graph.ttl", "graph.jsonld", "html.json", "sourcemap.json")


def entries(cache: Path) -> set[str]:
    return {path.name for path in cache.glob("*/*.pickle")}


def build(content: Path, out: Path, **settings: object) -> int:
    return build_quietly(content, out, validate=False, **settings)


@pytest.fixture()
def content(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(SAMPLE_CONTENT, copy)
    return copy


def parsed_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the path of every document sent to the parse children from now on."""
    seen: list[str] = []
    original = kg.corpus.map_bounded

    def recording(function: Any, items: Sequence[Any], *args: Any) -> Any:
        seen.extend(item.path for item in items if hasattr(item, "placement"))
        return original(function, items, *args)

    monkeypatch.setattr(kg.corpus, "map_bounded", recording)
    return seen


def test_a_rebuild_reads_every_parse_from_the_cache_and_publishes_the_same_bytes(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold, warm = tmp_path / "cold" / "dist", tmp_path / "warm" / "dist"
    assert build(content, cold, use_cache=False) == 0
    assert not (tmp_path / "cold" / "dist.cache").exists()
    assert build(content, warm) == 0
    cache = tmp_path / "warm" / "dist.cache"
    documents = len(load_corpus(content).documents)
    assert len(entries(cache)) == documents > 10
    seen = parsed_paths(monkeypatch)
    assert build(content, warm, use_cache=False) == 0
    assert len(seen) == documents  # the recorder sees every parse
    seen.clear()
    assert build(content, warm) == 0
    assert seen == []  # nothing parsed again
    for name in DUMPS:
        assert (warm / name).read_bytes() == (cold / name).read_bytes(), name


def test_an_edited_file_alone_is_parsed_again(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    assert build(content, out) == 0
    before = entries(tmp_path / "dist.cache")
    edited = sorted((content / "docs").rglob("*.md"))[3]
    edited.write_text(edited.read_text() + "\nEen nieuwe alinea.\n")
    seen = parsed_paths(monkeypatch)
    assert build(content, out) == 0
    assert seen == [edited.relative_to(content).as_posix()]
    assert len(entries(tmp_path / "dist.cache") - before) == 1
    assert "Een nieuwe alinea." in (out / "graph.nt").read_text()


def test_a_glossary_change_parses_again_the_pages_that_hold_the_term(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    assert build(content, out) == 0
    redefine_dpia(content, "Gewijzigd: ")
    holding = {
        path.relative_to(content).as_posix()
        for path in (content / "docs").rglob("*.md")
        if "dpia" in path.read_text().casefold()
    }
    assert holding
    seen = parsed_paths(monkeypatch)
    assert build(content, out) == 0
    assert set(seen) == holding
    cold = tmp_path / "cold" / "dist"
    assert build(content, cold, use_cache=False) == 0
    for name in DUMPS:
        assert (out / name).read_bytes() == (cold / name).read_bytes(), name
    assert "Gewijzigd: " in (out / "html.json").read_text()


def test_a_broken_entry_is_parsed_again(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    assert build(content, out) == 0
    reference = (out / "graph.nt").read_bytes()
    broken = sorted((tmp_path / "dist.cache").glob("*/*.pickle"))[0]
    broken.write_bytes(b"not a pickle")
    seen = parsed_paths(monkeypatch)
    assert build(content, out) == 0
    assert len(seen) == 1
    assert (out / "graph.nt").read_bytes() == reference


def test_a_cache_that_cannot_be_written_only_costs_time(content: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    assert build(content, tmp_path / "dist", cache=blocked / "cache") == 0
    assert (tmp_path / "dist" / "graph.nt").is_file()
