"""Build benchmark: median of 5 fresh-process ``kg build`` runs on the real corpus.

Prints, from one run on this machine:
  * the median wall time of a complete build (load, graph, validation, all dumps, gzip, swap),
    without the parse cache (every file parsed), with it (a rebuild of unchanged content: the
    validation is kept too) and with one page edited (that page parsed, the graph validated);
  * a baseline measured in the same run: a fresh process that only imports the package and its
    dependencies (the floor no build can go below), and the ratio between the two; and a fresh
    process that imports what a rebuild imports (``kg.cli``: pySHACL only when validating),
    the floor of a rebuild whose validation is kept;
  * an in-process breakdown by stage (median of 5).

Each build runs as a user runs ``kg build`` (the console script's ``main``, the package's
bytecode compiled first, as an install has it: the environment may say not to write it).

Usage: python bench/build.py [--content DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import record  # noqa: E402

DEFAULT_CONTENT = REPO.parent / "shared" / "corpus" / "algoritmekader"


def time_process(command: list[str], cpu: list[float] | None = None) -> float:
    """The wall time of ``command``; its CPU time (user and system, its children's too) is
    appended to ``cpu``: on a shared machine the wall time says little, the CPU time more."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=False, capture_output=True, cwd=REPO)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed


def stage_times(content: Path, out: Path) -> dict[str, float]:
    from kg.corpus import load_corpus
    from kg.graph import build_graph
    from kg.publication import render_dumps

    times: dict[str, float] = {}
    started = time.perf_counter()
    corpus = load_corpus(content)
    times["load documents"] = time.perf_counter() - started
    started = time.perf_counter()
    build = build_graph(corpus)
    times["build graph"] = time.perf_counter() - started
    try:
        from kg.validation import validate
    except ImportError:
        pass
    else:
        started = time.perf_counter()
        validate(build.graph, build.sourcemap)
        times["validate"] = time.perf_counter() - started
    started = time.perf_counter()
    render_dumps(build)
    times["serialise dumps"] = time.perf_counter() - started
    from kg.cli import run_build
    from kg.config import Settings

    started = time.perf_counter()
    run_build(Settings(content=content, out=out), io.StringIO(), io.StringIO())
    times["whole build in-process"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=DEFAULT_CONTENT)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "kg")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dist"
        kg_build = [sys.executable, "-c", "import sys; from kg.cli import main; sys.exit(main())"]
        build_cmd = [*kg_build, "build", "--content", str(args.content), "--out", str(out)]
        edited_content = Path(tmp) / "content"
        shutil.copytree(args.content / "docs", edited_content / "docs", symlinks=True)
        shutil.copytree(args.content / "includes", edited_content / "includes", symlinks=True)
        page = sorted((edited_content / "docs").rglob("*.md"))[0]
        edited_cmd = [*kg_build, "build", "--content", str(edited_content)]
        edited_cmd += ["--out", str(Path(tmp) / "edited")]
        time_process(edited_cmd)
        floor_cmd = [
            sys.executable,
            "-c",
            "import kg.cli, kg.graph, kg.publication, rdflib, pyoxigraph, pyshacl",
        ]
        time_process(build_cmd)  # warm the file cache and the parse cache
        cli_floor_cmd = [sys.executable, "-c", "import kg.cli"]
        builds, rebuilds, unvalidated, floors, edits, cli_floors = [], [], [], [], [], []
        cpu: dict[str, list[float]] = {"cold": [], "warm": [], "edited": []}
        for run in range(args.runs):
            builds.append(time_process([*build_cmd, "--no-cache"], cpu["cold"]))
            rebuilds.append(time_process(build_cmd, cpu["warm"]))
            with page.open("a", encoding="utf-8") as text:
                text.write(f"\nEen alinea erbij ({run}).\n")
            edits.append(time_process(edited_cmd, cpu["edited"]))
            unvalidated.append(time_process([*build_cmd, "--no-validate"]))
            floors.append(time_process(floor_cmd))
            cli_floors.append(time_process(cli_floor_cmd))
        stages: dict[str, list[float]] = {}
        for _ in range(args.runs):
            for name, seconds in stage_times(args.content, out).items():
                stages.setdefault(name, []).append(seconds)
    build, floor = statistics.median(builds), statistics.median(floors)
    print(f"content: {args.content}")
    print(
        f"kg build --no-cache, fresh process, median of {args.runs}: {build:.3f} s "
        f"(min {min(builds):.3f}, max {max(builds):.3f})"
    )
    print(
        f"kg build, parse cache warm (nothing changed), median of {args.runs}: "
        f"{statistics.median(rebuilds):.3f} s (min {min(rebuilds):.3f})"
    )
    print(
        f"kg build, one page edited (parsed, graph validated), median of {args.runs}: "
        f"{statistics.median(edits):.3f} s (min {min(edits):.3f})"
    )
    print(
        f"kg build --no-validate, parse cache warm, median of {args.runs}: "
        f"{statistics.median(unvalidated):.3f} s"
    )
    print(f"baseline: import-only fresh process, median of {args.runs}: {floor:.3f} s")
    cli_floor = statistics.median(cli_floors)
    print(
        f"baseline of a rebuild: 'import kg.cli' fresh process, median of {args.runs}: "
        f"{cli_floor:.3f} s; the rebuild's work above it: "
        f"{statistics.median(rebuilds) - cli_floor:.3f} s"
    )
    print(
        f"ratio build/baseline: {build / floor:.2f}; build work above the floor: "
        f"{build - floor:.3f} s"
    )
    print(
        "CPU seconds per build (user + system, children included), median: "
        + ", ".join(f"{name} {statistics.median(values):.3f}" for name, values in cpu.items())
    )
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("in-process stages (median):")
    for name, values in stages.items():
        print(f"  {name:24s} {statistics.median(values) * 1000:8.1f} ms")
    record(
        "build",
        {"from nothing s": build, "rebuild s": statistics.median(rebuilds)},
    )


if __name__ == "__main__":
    main()
