"""Every script of ``bench/`` starts: ``--help`` from another folder, as ``make bench`` runs them
(each finds the repository's modules itself). A script is a file with a ``__main__`` guard;
``harness.py`` and ``synthetic.py`` are the scripts' library.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import harness
from tests.conftest import REPO

SCRIPTS = sorted(
    path.name
    for path in (REPO / "bench").glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text()
)


def test_make_bench_runs_scripts_that_are_here() -> None:
    makefile = (REPO / "Makefile").read_text()
    run = [line.split()[1] for line in makefile.splitlines() if "/python bench/" in line]
    assert run and all(Path(path).name in SCRIPTS for path in run)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_bench_script_starts(script: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


def goals_table(folder: Path) -> dict[str, tuple[str, str]]:
    """``bench/goals.py --figures folder``: goal -> (measured, met)."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "goals.py"), "--figures", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = {}
    for line in done.stdout.splitlines()[1:-1]:
        goal, measured, met = (part.strip() for part in line.rsplit("  ", 2))
        rows[goal.strip()] = (measured, met)
    return rows


def test_the_goals_table_reads_what_the_scripts_recorded(tmp_path: Path) -> None:
    mix = {
        "x1 ours lookup req/s": 1483.3,
        "x1 virtuoso lookup req/s": 520.9,
        "x1 rdflib lookup req/s": 189.7,
        "x1 ours lookup p99 ms": 21.5,
        "x10 ours twee stappen hulpmiddel-maatregel-vereiste req/s": 41.1,
        "x10 rdflib twee stappen hulpmiddel-maatregel-vereiste req/s": None,  # none answered
        "x10 store p50 ratio own lookup": 1.12,
        "x10 store p50 ratio own describe": 1.6,
        "x10 store p50 ratio own tekstfilter": None,
        "x100 store answers differing": 0,
        "x100 store answers not compared": 1,
    }
    (tmp_path / "mix.json").write_text(json.dumps(mix))
    (tmp_path / "query_lane.json").write_text(
        json.dumps({"lookup kept under abuse": 0.86, "health answered": 7, "health asked": 7})
    )
    rows = goals_table(tmp_path)
    assert rows["×1 lookup ≥ 1.0× Virtuoso"] == (f"{1483.3 / 520.9:.2f}×", "yes")
    assert rows["×1 lookup ≥ 3.0× rdflib"] == (f"{1483.3 / 189.7:.2f}×", "yes")
    assert rows["×1 lookup p99 ≤ 20 ms"] == ("21.50 ms", "NO")
    assert rows["×1 mix ≥ 1.0× Virtuoso"] == ("not measured", "-")
    assert rows["×10 twee stappen hulpmiddel-maatregel-vereiste ≥ 20× rdflib"][1] == "yes"
    assert rows["lookups kept under abuse ≥ 90 % (median)"] == ("86 %", "NO")
    assert rows["/health answered under abuse = 100 %"] == ("100 %", "yes")
    own = rows["×10 --store ≤ 1.5× Virtuoso, every question (own processors)"]
    assert own == ("1.60× at most (describe)", "NO")
    assert rows["kg build (from nothing) ≤ 1.0 s"] == ("not measured", "-")
    assert rows["×100 --store answers as embedded"] == ("0 differ (1 not answered by both)", "yes")


def test_a_script_adds_to_its_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "FIGURES", tmp_path)
    harness.record("mix", {"x1 ours lookup req/s": 1.0})
    harness.record("mix", {"x10 ours lookup req/s": 2.0, "x1 ours lookup req/s": 3.0})
    kept = json.loads((tmp_path / "mix.json").read_text())
    assert kept == {"x1 ours lookup req/s": 3.0, "x10 ours lookup req/s": 2.0}
