"""The layers are one-way, and the contract that says so can fail.

``[tool.importlinter]`` in pyproject.toml holds two layers contracts: ``server`` above ``kg``,
and inside ``kg`` each stage above the ones it uses. ``make test`` runs ``lint-imports`` on
the checkout; here it also runs on a copy of the packages with one import added against the
layers, which must break exactly the contract it crosses (so neither contract is vacuous).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
SERVER_ABOVE_KG = "server imports kg, never the reverse"
KG_STAGES = "kg: each stage imports only the stages below it"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages and pyproject.toml in ``root`` (imported from there)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(LINT_IMPORTS.parent)},
        check=False,
    )


def verdicts(output: str) -> dict[str, str]:
    """Contract name -> KEPT or BROKEN, from lint-imports' report (names may wrap)."""
    text = " ".join(output.split())
    return {
        name: "KEPT" if f"{name} KEPT" in text else "BROKEN" if f"{name} BROKEN" in text else "?"
        for name in (SERVER_ABOVE_KG, KG_STAGES)
    }


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    for package in ("kg", "server"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_checkout_keeps_its_layers() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts(result.stdout) == {SERVER_ABOVE_KG: "KEPT", KG_STAGES: "KEPT"}


@pytest.mark.parametrize(
    ("module", "back_edge", "broken"),
    [
        # what kg.cli did before serve became an entry point
        ("kg/cli.py", "import server.runner", SERVER_ABOVE_KG),
        # what kg.config did before the resources moved out of kg.publication
        ("kg/config.py", "import kg.publication", KG_STAGES),
        ("kg/diagnostic.py", "from kg.validation import validate", KG_STAGES),
    ],
)
def test_a_back_edge_breaks_its_contract(
    copy: Path, module: str, back_edge: str, broken: str
) -> None:
    unchanged = lint_imports(copy)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    with (copy / module).open("a", encoding="utf-8") as file:
        file.write(f"\n{back_edge}  # noqa\n")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    expected = {SERVER_ABOVE_KG: "KEPT", KG_STAGES: "KEPT", broken: "BROKEN"}
    assert verdicts(result.stdout) == expected
    importer = module.removesuffix(".py").replace("/", ".")
    assert importer in result.stdout
