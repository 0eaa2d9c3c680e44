"""The ``kg`` command: documented, configurable, and honest exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from kg.cli import make_parser
from kg.config import Settings, SettingsError, load_settings
from tests.conftest import REPO, SAMPLE_CONTENT


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_readme_mentions_every_command_and_flag() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.splitlines()[2].strip().startswith("make serve")
    assert readme.splitlines()[3].strip().startswith("make test")
    for name, parser in subcommands().items():
        assert f"kg {name}" in readme, name
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in readme, f"kg {name} {flag} is not in the README"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_settings_flag_beats_environment_beats_default(tmp_path: Path) -> None:
    assert load_settings({}, {}).port == Settings().port
    assert load_settings({}, {"KG_PORT": "8080"}).port == 8080
    assert load_settings({"port": 9090}, {"KG_PORT": "8080"}).port == 9090
    assert load_settings({"content": None}, {"KG_CONTENT": str(tmp_path)}).content == tmp_path
    with pytest.raises(SettingsError, match="KG_PORT"):
        load_settings({}, {"KG_PORT": "eighty"})
    with pytest.raises(SettingsError):
        load_settings({"query_timeout": 0.0}, {})


def run_kg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kg.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def test_kg_build_through_the_command_line(tmp_path: Path) -> None:
    result = run_kg("build", "--content", str(SAMPLE_CONTENT), "--out", str(tmp_path / "dist"))
    assert result.returncode == 0, result.stderr
    assert "triples:" in result.stdout
    assert "3 vereiste" in result.stdout
    assert (tmp_path / "dist" / "graph.ttl").is_file()


@pytest.mark.corpus
def test_kg_build_real_corpus_reports_upstream_defects(tmp_path: Path, real_corpus: Path) -> None:
    result = run_kg("build", "--content", str(real_corpus), "--out", str(tmp_path / "dist"))
    # Upstream repeats glossary terms: errors, yet everything else is published.
    assert result.returncode == 1
    assert "includes/begrippenlijst.md:32: error: glossary term" in result.stderr
    assert "63 vereiste" in result.stdout and "108 maatregel" in result.stdout


def test_bad_flag_and_missing_folder_exit_2(tmp_path: Path) -> None:
    assert run_kg("build", "--no-such-flag").returncode == 2
    missing = run_kg("build", "--content", str(tmp_path / "nope"), "--out", str(tmp_path / "d"))
    assert missing.returncode == 2
    assert "not a content folder" in missing.stderr


def test_serving_a_folder_without_publication_exits_2(tmp_path: Path) -> None:
    result = run_kg("serve", "--dist", str(tmp_path), "--port", "0")
    assert result.returncode == 2
    assert "no publication here" in result.stderr
    assert "Traceback" not in result.stderr
