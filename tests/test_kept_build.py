"""What a build writes from its corpus alone is kept (``dist.cache/kept``): a rebuild of
unchanged content writes none of it again and publishes the bytes a build without any cache
publishes; any change to a file is written again; a broken entry only costs time."""

from __future__ import annotations

import html
import pickle
import shutil
from functools import partial
from pathlib import Path

import pytest

import kg.built
import kg.pipeline
import kg.publication
from kg.config import Settings
from kg.corpus import _terms_in, load_corpus
from kg.glossary import parse_glossary
from kg.pipeline import run_pipeline_with
from tests.conftest import SAMPLE_CONTENT
from tests.helpers import build_quietly as build
from tests.helpers import cache_entries, redefine_dpia

#: Every file of a publication but the manifest (its time and snapshot differ).
COMPARED = (
    "graph.ttl",
    "graph.nt",
    "graph.jsonld",
    "graph.ttl.gz",
    "graph.nt.gz",
    "graph.jsonld.gz",
    "context.jsonld",
    "ontology.ttl",
    "sourcemap.json",
    "diagnostics.json",
    "html.json",
    "search.sqlite",
    "validation.ttl",
    "validation.json",
    "SHA256SUMS",
)


def published(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in COMPARED}


def kept(out: Path) -> list[Path]:
    return cache_entries(out, "kept")


@pytest.fixture()
def content(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(SAMPLE_CONTENT, copy)
    return copy


def refuse_to_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on writing the dumps, the pages, the search index or the ontology fails."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("written again")

    monkeypatch.setattr(kg.built, "write_dumps", refuse)
    monkeypatch.setattr(kg.pipeline, "render_pages", refuse)
    monkeypatch.setattr(kg.publication, "search_index", refuse)
    monkeypatch.setattr(kg.publication, "render_ontology", refuse)


def test_a_rebuild_of_unchanged_content_writes_nothing_again_and_publishes_the_same_bytes(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold, warm = tmp_path / "cold" / "dist", tmp_path / "warm" / "dist"
    assert build(content, cold, use_cache=False) == 0
    assert not (tmp_path / "cold" / "dist.cache").exists()
    assert build(content, warm) == 0
    assert len(kept(warm)) == 1
    refuse_to_write(monkeypatch)
    assert build(content, warm) == 0
    assert published(warm) == published(cold)
    assert len(kept(warm)) == 1


def test_an_edited_page_is_written_again_and_only_the_newest_is_kept(
    content: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    assert build(content, out) == 0
    before = kept(out)
    edited = sorted((content / "docs").rglob("*.md"))[3]
    edited.write_text(edited.read_text() + "\nEen alinea die er eerst niet was.\n")
    assert build(content, out) == 0
    assert "Een alinea die er eerst niet was." in (out / "graph.nt").read_text()
    after = kept(out)
    assert len(after) == 1 and after != before
    cold = tmp_path / "cold" / "dist"
    assert build(content, cold, use_cache=False) == 0
    assert published(out) == published(cold)


def test_a_glossary_edit_is_written_again(content: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert build(content, out) == 0
    redefine_dpia(content, "Anders omschreven: ")
    assert build(content, out) == 0
    assert "Anders omschreven: " in (out / "graph.nt").read_text()
    assert "Anders omschreven: " in (out / "html.json").read_text()


def test_a_broken_entry_is_written_again(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    assert build(content, out) == 0
    reference = published(out)
    [entry] = kept(out)
    entry.write_bytes(b"not a pickle")
    assert build(content, out) == 0
    assert published(out) == reference
    refuse_to_write(monkeypatch)  # and kept again, whole
    assert build(content, out) == 0
    assert published(out) == reference


def test_a_build_with_the_decision_aid_keeps_nothing(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decision tree's files are read apart from the corpus's: nothing is kept then."""
    out = tmp_path / "dist"
    missing = tmp_path / "no-beslishulp"  # a problem of the tree, not a failure of the build
    build(content, out, beslishulp=missing, validate=False)
    assert (out / "graph.nt").is_file()
    assert kept(out) == []


def test_the_digest_follows_the_text_and_the_glossary_marks(content: Path) -> None:
    first = load_corpus(content)
    assert first.digest == load_corpus(content).digest
    assert load_corpus(content, abbreviations=False).digest != first.digest
    page = sorted((content / "docs").rglob("*.md"))[0]
    page.write_text(page.read_text() + "\nNog een zin.\n")
    assert load_corpus(content).digest != first.digest


def test_the_terms_a_text_holds_are_those_a_plain_search_finds() -> None:
    """One search over all the texts finds, per text, what looking in each text finds: terms
    that overlap, repeat, sit at a text's edges, hold entities, or are empty or hold NUL."""
    glossary = (SAMPLE_CONTENT / "includes" / "begrippenlijst.md").read_text()
    terms, _ = parse_glossary("includes/begrippenlijst.md", glossary)
    texts = [path.read_text() for path in sorted((SAMPLE_CONTENT / "docs").rglob("*.md"))]
    texts += ["", "ai", "xai", "AI-systeem en ai", "a\0b", "\0", "&amp; &eacute;&eacute;n", "é"]
    entries = [(term.term.casefold(), term.term) for term in terms]
    entries += [("ai", "ai"), ("ai-systeem", "ai-systeem"), ("systeem", "systeem")]
    entries += [("", "empty"), ("a\0b", "nul"), ("& één", "entity"), ("niet-aanwezig", "none")]

    def plainly(text: str) -> list[str]:
        folded = html.unescape(text).casefold()
        return [entry for term, entry in entries if term in folded]

    expected = [plainly(text) for text in texts]
    assert _terms_in(texts, entries) == expected
    assert any(len(found) > 3 for found in expected)  # the sample holds terms to find
    assert {"ai", "ai-systeem", "systeem", "empty"} <= set(expected[-5])  # overlapping
    assert "entity" in expected[-2] and "nul" in expected[-4]


def test_files_of_an_unnamed_early_are_made_again_and_the_rest_is_kept(
    content: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``early`` given as a ``partial`` (as the history gives it) has no name to keep its
    files under: they are made on every build, the dumps and pages are kept all the same."""
    settings = Settings(content=content, out=tmp_path / "dist", cache=tmp_path / "cache")
    early = partial(kg.publication.corpus_files, ontology=b"# an ontology\n")

    def run() -> dict[str, bytes]:
        _, files = run_pipeline_with(settings, kg.publication.render_files, early)
        return files

    first = run()
    [entry] = sorted((tmp_path / "cache" / "kept").glob("*/*.pickle"))
    with entry.open("rb") as handle:
        kept_entry = pickle.load(handle)
    assert kept_entry.made is None and kept_entry.pages[0]
    monkeypatch.setattr(kg.built, "write_dumps", lambda *args: pytest.fail("written again"))
    again = run()
    assert again == first
    assert again["ontology.ttl"] == b"# an ontology\n"
