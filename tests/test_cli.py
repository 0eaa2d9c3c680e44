"""The ``kg`` command: documented, configurable, and honest exit codes.

Failures are tried through the real command line (a child ``python -m kg.cli``): what a user
sees is one line, ``kg: …``, and exit 2, and the last publication is left as it was.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg.cli import describe, make_parser
from kg.config import Settings, SettingsError, load_settings
from tests.conftest import REPO, SAMPLE_CONTENT

#: A small content folder with no problem at all (tests/test_shapes.py holds it to that), so
#: that whatever a failing command prints on stderr is the failure alone.
CLEAN_CONTENT = REPO / "tests" / "shapes" / "base"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_readme_mentions_every_command_and_flag() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.splitlines()[2].strip().startswith("make serve")
    assert readme.splitlines()[3].strip().startswith("make test")
    parsers = {"": make_parser(), **subcommands()}
    assert {"build", "validate", "serve"} <= parsers.keys()
    for name, parser in parsers.items():
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
    assert load_settings({}, {"KG_SHAPES": str(tmp_path)}).shapes == tmp_path
    with pytest.raises(SettingsError, match="KG_PORT"):
        load_settings({}, {"KG_PORT": "eighty"})
    with pytest.raises(SettingsError):
        load_settings({"query_timeout": 0.0}, {})


def run_kg(
    *args: str, cwd: Path = REPO, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``kg`` in a child process, without ``KG_*`` variables of this environment."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "kg.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("KG_")},
            "PYTHONPATH": str(REPO),
        },
        check=False,
    )


def one_failure_line(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 2 and exactly one line on stderr, ``kg: …``; that line."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kg: "), result.stderr
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture()
def published(tmp_path: Path) -> Path:
    """A publication of the clean content at ``<tmp>/site/dist``."""
    out = tmp_path / "site" / "dist"
    result = run_kg("build", "--content", str(CLEAN_CONTENT), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_kg_build_through_the_command_line(tmp_path: Path) -> None:
    result = run_kg("build", "--content", str(SAMPLE_CONTENT), "--out", str(tmp_path / "dist"))
    assert result.returncode == 0, result.stderr
    assert "triples:" in result.stdout
    assert "3 vereiste" in result.stdout
    assert (tmp_path / "dist" / "graph.ttl").is_file()


def test_default_folders_are_relative_to_the_working_directory(tmp_path: Path) -> None:
    shutil.copytree(CLEAN_CONTENT, tmp_path / "content")
    result = run_kg("build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dist" / "manifest.json").is_file()
    assert not (tmp_path / "content" / "dist").exists()


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
    assert "not a content folder" in one_failure_line(missing)


def test_an_unwritable_output_exits_2_with_one_line(tmp_path: Path) -> None:
    """/proc takes no new folder, not even from root."""
    result = run_kg("build", "--content", str(CLEAN_CONTENT), "--out", "/proc/x")
    assert one_failure_line(result).startswith("kg: cannot publish to /proc/x: ")
    debug = run_kg("--debug", "build", "--content", str(CLEAN_CONTENT), "--out", "/proc/x")
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1] == one_failure_line(result)


def test_a_read_only_output_folder_exits_2_and_keeps_the_publication(published: Path) -> None:
    """The folder that holds dist/ is made read-only (0o555). Root writes there anyway, by
    CAP_DAC_OVERRIDE: as root, kg runs under setpriv without that capability (nor
    CAP_DAC_READ_SEARCH), so the permission bits bind it as any user."""
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is not here")
        prefix = (setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--")
    before = snapshot(published)
    parent = published.parent
    parent.chmod(0o555)
    try:
        result = run_kg(
            "build", "--content", str(CLEAN_CONTENT), "--out", str(published), prefix=prefix
        )
    finally:
        parent.chmod(0o755)
    assert "Permission denied" in one_failure_line(result)
    assert snapshot(published) == before
    assert sorted(p.name for p in parent.iterdir()) == [
        "dist",
        "dist.cache",
        "dist.lock",
        "dist.snapshots",
    ]
    assert [p.name for p in (parent / "dist.snapshots").iterdir()] == [published.readlink().name]


def test_broken_shapes_exit_2_and_keep_the_publication(published: Path, tmp_path: Path) -> None:
    before = snapshot(published)
    shapes = tmp_path / "shapes"
    shutil.copytree(REPO / "shapes", shapes)
    (shapes / "structure.ttl").write_text("@prefix sh: <http://www.w3.org/ns/shacl#> .\n<a> sh:")
    args = ("--content", str(CLEAN_CONTENT), "--shapes", str(shapes))
    line = one_failure_line(run_kg("build", *args, "--out", str(published)))
    assert "structure.ttl" in line and "Parser error" in line
    assert "structure.ttl" in one_failure_line(run_kg("validate", *args))
    assert snapshot(published) == before


def test_no_shapes_is_an_error_never_conforms(published: Path, tmp_path: Path) -> None:
    before = snapshot(published)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "nothing.ttl").write_text("# no shapes in here\n")
    for folder in (empty, tmp_path / "missing"):
        args = ("--content", str(CLEAN_CONTENT), "--shapes", str(folder))
        assert "no SHACL shapes" in one_failure_line(run_kg("validate", *args))
        assert "no SHACL shapes" in one_failure_line(
            run_kg("build", *args, "--out", str(published))
        )
    assert snapshot(published) == before


def test_a_crash_is_named_by_its_type() -> None:
    assert describe(KeyError("x")) == "KeyError: 'x' (kg --debug shows where)"
    assert describe(FileNotFoundError(2, "No such file", "/x")) == "[Errno 2] No such file: '/x'"
    assert describe(SettingsError("KG_PORT='x': bad\nvalue")) == "KG_PORT='x': bad value"


def test_build_and_validate_do_not_load_the_server(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom kg.cli import main\n"
        f"main(['validate', '--content', {str(CLEAN_CONTENT)!r}])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'server', 'flask', 'gunicorn'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


def test_serving_a_folder_without_publication_exits_2(tmp_path: Path) -> None:
    result = run_kg("serve", "--dist", str(tmp_path), "--port", "0")
    assert result.returncode == 2
    assert "no publication here" in result.stderr
    assert "Traceback" not in result.stderr
