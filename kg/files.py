"""Reading the content folder as hostile input: only regular files inside it, each bounded.

The content is a git checkout, and git stores symlinks: one merged upstream change can add a
``.md`` that points at ``/etc/passwd``, ``/proc/self/environ`` or ``/dev/zero``. So every file
is resolved (symlinks followed, as the site generator would) and read only when the result is
a regular file inside the content folder, of at most :data:`MAX_FILE_BYTES`. Anything else is
one error at that file (line 0: the file as a whole) with its own code, and the build goes on:

==================== ===========================================================
``outside-content``  a symlink (or a chain of them) that ends outside the folder
``dangling-symlink`` a symlink to nothing
``symlink-loop``     a symlink that never ends
``not-a-file``       a FIFO, socket, device or folder where a file was expected
``too-large``        a file over :data:`MAX_FILE_BYTES`
``file-name``        a name that is not UTF-8 or holds control or format characters
``unreadable``       any other error of the system (permissions, I/O)
==================== ===========================================================

A file is checked with ``stat`` before it is opened (so a device is never opened: opening
some has effects) and again with ``fstat`` on what was opened, which is the check that counts;
it is opened with ``O_NOFOLLOW`` and ``O_NONBLOCK`` (a FIFO swapped in cannot block) and read
to at most the limit plus one byte, whatever size it claims. Folders are walked without
following folder symlinks, so the walk cannot leave the folder or loop; such a symlink is a
warning (``symlink-folder``), never silently dropped. Paths in messages are the link targets
as written in the content, never resolved paths of the machine that builds.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kg.diagnostic import Diagnostic, Severity

#: Bytes a content file may have: 1 MiB, about 40 times upstream's largest (24 KB).
MAX_FILE_BYTES = 1 << 20
#: Characters a file name may not hold: control and format characters (``\n`` would split a
#: diagnostic line, U+202E reverses what a terminal shows), line separators, and lone
#: surrogates (how Python holds name bytes that are not UTF-8).
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


@dataclass(frozen=True)
class Listing:
    """The Markdown files found under a folder of the content, and what was refused."""

    #: Paths relative to the content folder (POSIX style), in path order.
    files: tuple[str, ...]
    problems: tuple[Diagnostic, ...]
    #: Files (as shown in ``problems``) that are not read because of an error.
    refused: tuple[str, ...]


class _Refused(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def shown(relative: str) -> str:
    """A path as it can be printed on one line: bytes that are not UTF-8 as ``\\xff``,
    control and format characters as ``\\n`` or ``\\u202e``."""
    text = os.fsencode(relative).decode("utf-8", "backslashreplace")
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in _NOT_IN_NAMES
        else char
        for char in text
    )


def list_markdown(root: Path, top: str) -> Listing:
    """Every ``*.md`` under ``root/top`` (not read yet: see :func:`read_file`). ``top`` may be
    a symlink to a folder inside ``root``; folders below it are walked only when they are
    real folders."""
    problems: list[Diagnostic] = []
    refused: list[str] = []
    files: list[str] = []
    try:
        where = _resolve(root, top)
        if not os.path.isdir(where):
            raise _Refused("not a folder", "not-a-file")
    except _Refused as refusal:
        return Listing((), (_error(top, refusal),), (top,))
    pending = [top]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(root / folder) as found:
                entries = sorted(found, key=lambda entry: entry.name)
        except OSError as error:
            problems.append(_error(folder, _Refused(_system(error), "unreadable")))
            refused.append(folder)
            continue
        for entry in entries:
            _sort_entry(f"{folder}/{entry.name}", entry, pending, files, problems, refused)
    return Listing(
        tuple(sorted(files, key=lambda path: PurePosixPath(path).parts)),
        tuple(problems),
        tuple(refused),
    )


def _sort_entry(
    relative: str,
    entry: os.DirEntry[str],
    pending: list[str],
    files: list[str],
    problems: list[Diagnostic],
    refused: list[str],
) -> None:
    """Put one entry of a folder where it belongs: a folder to walk, a file to read, a
    problem, or nothing (not content)."""
    kind = _entry_kind(entry)
    if kind == "other":
        return
    if any(unicodedata.category(char) in _NOT_IN_NAMES for char in entry.name):
        what = "folder" if kind == "folder" else "file"
        problems.append(_error(shown(relative), _bad_name(what)))
        refused.append(shown(relative))
    elif kind == "folder":
        pending.append(relative)
    elif kind == "folder-link":
        problems.append(_folder_link(relative))
    else:
        files.append(relative)


def read_file(root: Path, relative: str, limit: int = MAX_FILE_BYTES) -> bytes | Diagnostic:
    """The bytes of ``root/relative`` if it is, after symlinks, a regular file inside
    ``root`` of at most ``limit`` bytes; else the error that says why not."""
    try:
        return _read(_resolve(root, relative), limit)
    except _Refused as refusal:
        return _error(shown(relative), refusal)


def _entry_kind(entry: os.DirEntry[str]) -> str:
    """``folder`` (a real one, to walk), ``folder-link`` (a symlink to a folder, not
    followed), ``markdown`` (any entry named ``*.md`` that is not a real folder: what it is
    is checked when it is read), or ``other``."""
    try:
        if entry.is_dir(follow_symlinks=False):
            return "folder"
        if entry.name.endswith(".md"):
            return "markdown"
        if entry.is_symlink() and entry.is_dir():
            return "folder-link"
    except OSError:
        pass
    return "other"


def _resolve(root: Path, relative: str) -> str:
    """The real path of ``root/relative``, which must exist and lie inside ``root``."""
    path = root / relative
    try:
        real = os.path.realpath(path, strict=True)
        inside = os.path.realpath(root, strict=True)
    except OSError as error:
        raise _link_problem(root, path, error) from None
    if os.path.commonpath([inside, real]) != inside:
        raise _Refused(
            f"symlink to {_target(root, path)} ends outside the content folder; not read",
            "outside-content",
        )
    return real


def _link_problem(root: Path, path: Path, error: OSError) -> _Refused:
    if error.errno == errno.ELOOP:
        return _Refused(f"symlink loop ({_target(root, path)}); not read", "symlink-loop")
    if error.errno in (errno.ENOENT, errno.ENOTDIR) and _first_link(root, path) is not None:
        return _Refused(
            f"symlink to {_target(root, path)}, which does not exist; not read",
            "dangling-symlink",
        )
    return _Refused(_system(error), "unreadable")


def _first_link(root: Path, path: Path) -> Path | None:
    """The symlink on the way from ``root`` to ``path`` nearest to ``path``, if any."""
    for link in (path, *path.parents):
        if link == root:
            return None
        if link.is_symlink():
            return link
    return None


def _target(root: Path, path: Path) -> str:
    """Where the symlink on the way to ``path`` points, as written in the content."""
    link = _first_link(root, path)
    return repr(shown(os.readlink(link))) if link is not None else "?"


def _read(real: str, limit: int) -> bytes:
    try:
        _require_regular(os.stat(real).st_mode)
        descriptor = os.open(real, _OPEN_FLAGS)
    except OSError as error:
        raise _Refused(_system(error), "unreadable") from None
    try:
        status = os.fstat(descriptor)
        _require_regular(status.st_mode)
        if status.st_size > limit:
            raise _too_large(limit)
        data = _read_at_most(descriptor, limit + 1)
    except OSError as error:
        raise _Refused(_system(error), "unreadable") from None
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _read_at_most(descriptor: int, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = os.read(descriptor, min(remaining, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _require_regular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    kind = next((name for test, name in kinds if test(mode)), "not a file")
    raise _Refused(f"not a regular file but {kind}; not read", "not-a-file")


def _too_large(limit: int) -> _Refused:
    return _Refused(f"larger than {limit:,} bytes; not read", "too-large")


def _bad_name(what: str) -> _Refused:
    return _Refused(
        f"{what} name is not UTF-8 or holds control characters (shown escaped); not read",
        "file-name",
    )


def _folder_link(relative: str) -> Diagnostic:
    return Diagnostic(
        shown(relative),
        0,
        Severity.WARNING,
        "symlink to a folder; not followed (its files are not read)",
        "symlink-folder",
    )


def _system(error: OSError) -> str:
    return f"cannot read: {error.strerror or type(error).__name__}"


def _error(shown_path: str, refusal: _Refused) -> Diagnostic:
    return Diagnostic(shown_path, 0, Severity.ERROR, refusal.message, refusal.code)
