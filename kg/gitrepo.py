"""The content's git repository, as the release history reads it: a mirror in the build cache,
its release tags, a commit's files checked out, the files' dates.

git is run as a program (``subprocess``, never through a shell); a failure is one line,
:class:`HistoryError` with git's last line (exit code 2). A build holds the history cache's
lock while it uses these (:func:`kg.history.build_history`), so nothing here takes turns.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from kg.lineage import Release

_VERSION_PART = re.compile(r"\d+|\D+")


class HistoryError(Exception):
    """The repository cannot be fetched or read (exit code 2)."""


def git(git_dir: Path, *args: str, index: Path | None = None) -> str:
    """Run git on ``git_dir`` (with ``index`` as its index file); its output, or
    :class:`HistoryError` with git's last line."""
    environment = None if index is None else {**os.environ, "GIT_INDEX_FILE": str(index)}
    try:
        result = subprocess.run(
            ["git", f"--git-dir={git_dir}", *args],
            capture_output=True,
            check=False,
            env=environment,
        )
    except OSError as error:
        raise HistoryError(f"cannot run git: {error}") from None
    return _answer(args, result.returncode, result.stdout, result.stderr)


def git_started(git_dir: Path, *args: str) -> Callable[[], str]:
    """Start git on ``git_dir`` now, for work that goes on meanwhile; the function returned
    waits for it and gives :func:`git`'s answer. Its output goes to temporary files (a pipe
    nobody reads while the releases build could stop it)."""
    # Closed by the function returned (or below, when git cannot be started).
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
    try:
        process = subprocess.Popen(["git", f"--git-dir={git_dir}", *args], stdout=out, stderr=err)
    except OSError as error:
        out.close()
        err.close()
        raise HistoryError(f"cannot run git: {error}") from None

    def finished() -> str:
        with out, err:
            code = process.wait()
            out.seek(0)
            err.seek(0)
            return _answer(args, code, out.read(), err.read())

    return finished


def _answer(args: Sequence[str], code: int, stdout: bytes, stderr: bytes) -> str:
    if code != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"]
        command = next(arg for arg in args if not arg.startswith("-"))
        raise HistoryError(f"git {command}: {lines[-1]}")
    return stdout.decode("utf-8", "replace")


def file_dates(output: str) -> dict[str, list[str]]:
    """Path -> the dates of the commits that changed it (newest first), from the output of
    ``git log --format=%x00%cI --name-only``."""
    dates: dict[str, list[str]] = {}
    for block in output.split("\0")[1:]:
        date, *paths = block.strip("\n").split("\n")
        for path in paths:
            if path:
                dates.setdefault(path, []).append(date)
    return dates


def mirror(repository: str, cache: Path) -> Path:
    """A bare mirror of ``repository`` (URL, path or bundle) in ``cache``, fetched now."""
    git_dir = cache / "repo.git"
    source = str(Path(repository).resolve()) if Path(repository).exists() else repository
    if not (git_dir / "HEAD").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".repo-", dir=cache))
        try:
            git(staging, "clone", "--quiet", "--mirror", "--", source, str(staging))
        except HistoryError as error:
            raise HistoryError(f"cannot fetch {repository}: {error}") from None
        finally:
            if not (staging / "HEAD").is_file():
                shutil.rmtree(staging, ignore_errors=True)
        os.replace(staging, git_dir)
        return git_dir
    try:
        git(git_dir, "remote", "set-url", "origin", source)
        git(git_dir, "fetch", "--quiet", "--prune", "--force", "origin", "+refs/*:refs/*")
    except HistoryError as error:
        raise HistoryError(f"cannot fetch {repository}: {error}") from None
    return git_dir


def list_releases(git_dir: Path, pattern: str) -> tuple[Release, ...]:
    """The tags matching ``pattern`` (case ignored: upstream has ``V2.2.0`` beside
    ``v2.2.0``), oldest commit first, ties by version; then the branch head."""
    listing = git(
        git_dir, "for-each-ref", "--format=%(refname:strip=2)%09%(objectname)", "refs/tags"
    )
    tags = [line.split("\t") for line in listing.splitlines() if line]
    chosen = [(tag, ref) for tag, ref in tags if fnmatch.fnmatchcase(tag.lower(), pattern.lower())]
    try:
        head = git(git_dir, "symbolic-ref", "--short", "HEAD").strip()
    except HistoryError:  # a detached HEAD: the release is named so
        head = "HEAD"
    refs = [f"{ref}^{{commit}}" for _, ref in chosen] + ["HEAD^{commit}"]
    commits = git(git_dir, "rev-parse", *refs).split()
    dates = _dates(git_dir, commits)
    releases = [
        Release(tag, commit, dates[commit])
        for (tag, _), commit in zip(chosen, commits, strict=False)
    ]
    releases.sort(key=lambda release: (_instant(release.date), _version_key(release.tag)))
    return (*releases, Release(head, commits[-1], dates[commits[-1]], head=True))


def _dates(git_dir: Path, commits: Sequence[str]) -> dict[str, str]:
    unique = list(dict.fromkeys(commits))
    lines = git(git_dir, "log", "--no-walk=unsorted", "--format=%H %cI", *unique).split("\n")
    return dict(line.split(" ", 1) for line in lines if line)


def _instant(date: str) -> str:
    return datetime.fromisoformat(date).astimezone(UTC).isoformat()


def _version_key(tag: str) -> tuple[tuple[int, object], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in _VERSION_PART.findall(tag)
    )


def check_out(git_dir: Path, commit: str, folder: Path) -> Path:
    """The commit's files in ``folder / "tree"``, checked out by git with its own index
    (``folder / "index"``, never the mirror's): when the folder holds an earlier commit, only
    the files that differ are written or removed (``git read-tree --reset -u``, as ``git reset
    --hard``; git refuses paths outside the tree, and ``.git``). So a child that builds one
    release after another writes each release's changes only, and so does the newest release's
    build after the last one's (its folder is kept). A checkout that was stopped half-way (its
    mark is left) is started again from nothing: its index no longer tells what the files
    hold. The content folder."""
    folder = folder.resolve()  # git may change directory before it reads its index
    tree, unfinished = folder / "tree", folder / "unfinished"
    if unfinished.exists():
        shutil.rmtree(folder)
    tree.mkdir(parents=True, exist_ok=True)
    unfinished.touch()
    git(
        git_dir, f"--work-tree={tree}", "read-tree", "--reset", "-u", commit, index=folder / "index"
    )
    unfinished.unlink()
    return tree
