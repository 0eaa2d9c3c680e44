"""A release history's dataset file joined from its chunks (kg/chunks.py ``Joined``): the bytes
written and the checksum are those of the parts one after the other, whether the kernel copies
the chunk files (``copy_file_range``) or, where it cannot, Python does."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from kg.chunks import Joined


def _parts(folder: Path) -> tuple[tuple[bytes | Path, ...], bytes]:
    first, empty, large = folder / "a.nq", folder / "empty.nq", folder / "large.nq"
    first.write_bytes(b"<urn:a> <urn:p> <urn:b> <urn:g1> .\n")
    empty.write_bytes(b"")
    large.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # more than one copy or read block
    parts: tuple[bytes | Path, ...] = (b"head\n", first, empty, b"", large, b"tail\n")
    expected = b"".join(p if isinstance(p, bytes) else p.read_bytes() for p in parts)
    return parts, expected


def test_joined_writes_and_hashes_the_parts_in_order(tmp_path: Path) -> None:
    parts, expected = _parts(tmp_path)
    joined = Joined(parts)
    joined.write(tmp_path / "releases.nq")
    assert (tmp_path / "releases.nq").read_bytes() == expected
    assert joined.size() == len(expected)
    assert joined.sha256() == hashlib.sha256(expected).hexdigest()
    with pytest.raises(FileExistsError):  # never over a file that is there
        joined.write(tmp_path / "releases.nq")


@pytest.mark.parametrize("code", [errno.EXDEV, errno.ENOSYS])
def test_joined_copies_without_the_kernel_where_it_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    parts, expected = _parts(tmp_path)
    calls = []

    def refuse(*args: object) -> int:
        calls.append(args)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    Joined(parts).write(tmp_path / "out.nq")
    assert calls and (tmp_path / "out.nq").read_bytes() == expected


def test_joined_does_not_hide_other_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts, _ = _parts(tmp_path)

    def full(*args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "copy_file_range", full, raising=False)
    with pytest.raises(OSError, match="No space"):
        Joined(parts).write(tmp_path / "out.nq")
