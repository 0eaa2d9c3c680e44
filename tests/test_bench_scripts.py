"""Every script of ``bench/`` starts: ``--help`` from another folder, as ``make bench`` runs them
(each finds the repository's modules itself). A script is a file with a ``__main__`` guard;
``harness.py`` and ``synthetic.py`` are the scripts' library.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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
