"""History benchmark: ``kg build --git`` on the upstream bundle, full and incremental.

Prints, from one run (each build a fresh ``kg`` process, wall time and CPU time of it and its
children):
  * the full history build: every release tag and the branch head, into an empty folder (no
    release cache, no parse cache);
  * a rebuild with nothing new (every release from the cache);
  * adding one new commit: the clone's branch head starts one commit back, then the last commit
    is added and the history built again (that commit alone is built);
  * with ``--repeat N``, each incremental case N times and its median (for one new commit, what
    the run before cached after the full build, its parses and its release build, is removed
    first, so that the commit is new again each time);
  * whether releases share parses: the Markdown files of all releases (``git ls-tree``), the
    distinct ones (path and blob), and the parse results the full build kept (each one parse);
  * the publication served (``kg serve --dist``, 2 workers) after ``/releases``, the diff of the
    first and the last release and a page of each release: the resident memory per worker
    and, where pages are shared between processes, PSS of all its processes together.
Goals (issue 12, this 2-core machine): full <= 15 s, one new commit <= 2 s; (issue 10) RSS per
worker <= 100 MiB, with every release too.

Usage: python bench/history.py [--bundle PATH] [--validate] [--repeat N] [--tree DIR]

``--tree``: the builds run in that folder, so ``python -m kg.cli`` takes its ``kg`` (a copy of
another version of the package, with ``ontology/`` and ``shapes/`` beside it): before and
after a change measured back to back, in the same state of the machine.
"""

from __future__ import annotations

import argparse
import functools
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import our_server, proportional_mib, record, rss_mib  # noqa: E402

DEFAULT_BUNDLE = REPO.parent / "shared" / "corpus" / "algoritmekader.bundle"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_build(
    repo: Path, out: Path, validate: bool, tree: Path = REPO
) -> tuple[float, float, str]:
    """(wall s, CPU s, the summary line) of one ``kg build --git`` process, run in ``tree``."""
    command = [sys.executable, "-m", "kg.cli", "build", "--git", str(repo), "--out", str(out)]
    if not validate:
        command.append("--no-validate")
    cpu, started = _children_cpu(), time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=tree, check=False)
    wall = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"kg build --git failed: {result.stderr.strip()}")
    return wall, _children_cpu() - cpu, result.stdout.splitlines()[0]


def forget_since(cache: Path, moment: float) -> None:
    """Remove what the builds after ``moment`` added to the build cache (parses, release
    builds, chunks; not the mirror, nor the newest release's tree, which git keeps in step with
    its index), so that the commit they built is new again."""
    for path in sorted(cache.rglob("*"), reverse=True):  # files before their folders
        if {"repo.git", "newest-tree"} & set(path.relative_to(cache).parts):
            continue
        if path.is_dir():
            if not any(path.iterdir()):  # emptied now (the cache never keeps an empty one)
                path.rmdir()
        elif path.stat().st_mtime > moment:
            path.unlink()


def repeated(
    name: str, times: int, build: Callable[[], tuple[float, float, str]], before: Callable[[], None]
) -> tuple[str, float, float, str]:
    """The median wall and CPU time of ``times`` builds (``before`` each)."""
    runs = []
    for _ in range(times):
        before()
        runs.append(build())
    label = f"{name} (median of {times})" if times > 1 else name
    walls, cpus = [run[0] for run in runs], [run[1] for run in runs]
    return label, statistics.median(walls), statistics.median(cpus), runs[-1][2]


def release_tags(repo: Path) -> list[str]:
    """The release tags, oldest first."""
    return subprocess.run(
        ["git", "-C", str(repo), "tag", "--list", "v*", "--sort=v:refname"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def served_memory(dist: Path, tags: list[str]) -> str:
    """The memory of ``kg serve --dist`` on the history publication, after the pages that read
    the releases: ``/releases``, the diff of the first and last release, and a page as each
    release had it (recorded for bench/goals.py: the largest RSS per worker)."""
    paths = ["/releases", f"/diff/{tags[0]}..{tags[-1]}"]
    paths += [f"/id/urn:nl:ak:ver:aia-01?release={tag}" for tag in tags]
    with our_server(dist) as server:
        base = server.base
        statuses = []
        for path in paths * 2:  # each worker, most likely, answers some of them
            try:
                with urllib.request.urlopen(base + path, timeout=300) as response:
                    response.read()
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        rss = rss_mib(server.pid)
        each, total = proportional_mib(server.pid)
    record("history", {"rss per worker MiB": max(rss)})
    answered = sum(1 for status in statuses if status == 200)
    return (
        f"served (2 workers), after {len(statuses)} requests ({answered} answered 200): RSS per "
        f"worker {', '.join(f'{m:.0f}' for m in rss)} MiB; PSS per worker "
        f"{', '.join(f'{m:.0f}' for m in each)}, all processes together {total:.0f} MiB"
    )


def parse_sharing(repo: Path, cache: Path) -> str:
    """Files in all releases, distinct files (path and blob), parses the cache holds."""
    refs = subprocess.run(
        ["git", "-C", str(repo), "tag"], capture_output=True, text=True, check=True
    ).stdout.split()
    files = []
    for ref in [*refs, "HEAD"]:
        listing = subprocess.run(
            ["git", "-C", str(repo), "ls-tree", "-r", ref, "docs"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        files += [tuple(line.split()[2:]) for line in listing.splitlines() if line.endswith(".md")]
    parses = sum(1 for _ in cache.glob("??/*.pickle"))
    return (
        f"Markdown files in all releases: {len(files)}, distinct (path, blob): "
        f"{len(set(files))}; parses kept by the full build: {parses}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--validate", action="store_true", help="validate the newest release")
    parser.add_argument("--repeat", type=int, default=1, help="incremental builds per case")
    parser.add_argument("--tree", type=Path, default=REPO, help="run the kg package of this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        repo, out = Path(scratch) / "repo", Path(scratch) / "dist"
        subprocess.run(["git", "clone", "-q", str(args.bundle), str(repo)], check=True)
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard", "HEAD~1"], check=True)
        cache = out.with_name(f"{out.name}.cache")
        rows = [("full history (empty caches)", *timed_build(repo, out, args.validate, args.tree))]
        built = time.time()
        time.sleep(1.0)  # what the next builds write is newer (file times of a second or less)
        sharing = parse_sharing(repo, cache)

        def build() -> tuple[float, float, str]:
            return timed_build(repo, out, args.validate, args.tree)

        rows.append(repeated("rebuild, nothing new", args.repeat, build, lambda: None))
        subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard", head], check=True)
        forget = functools.partial(forget_since, cache, built)
        rows.append(repeated("one new commit", args.repeat, build, forget))
        sizes = {path.name: path.stat().st_size for path in sorted(out.glob("releases.*"))}
        memory = served_memory(out, release_tags(repo))
    print(f"{'build':<40} {'wall s':>7} {'CPU s':>7}  summary")
    for name, wall, cpu, summary in rows:
        print(f"{name:<40} {wall:7.2f} {cpu:7.2f}  {summary}")
    print(
        "dataset files: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes.items())
    )
    print(sharing)
    print(memory)


if __name__ == "__main__":
    main()
