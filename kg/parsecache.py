"""A cache of parsed documents, so that a rebuild parses only the files that changed.

Parsing (Python-Markdown with pymdown-extensions, the sections, the links) is most of the
time of a build, and it depends on nothing but the file's path and text, the glossary terms
it uses (the glossary is applied as abbreviations, and a term can only be marked where the
page's text holds it) and the code that parses. So each parse result is kept under a key
hashed from exactly those: the file's path and text, every glossary term (with its
definition) whose text occurs in the file's, compared without case and entities, and a
fingerprint of this package's source and of the versions of the libraries that render. A
change to any of them is a different key, so a stale entry is never read; an edit to one file
re-parses that file alone, an edit to one term's definition the pages that hold the term, and
the releases of a history share the parses of the files they have in common even when the
glossary grew in between.

Entries are pickles of the results the parse children send back (the same frozen records),
written atomically (a temporary file renamed into place), so a killed build leaves no torn
entry; an entry that cannot be read is treated as missing. The folder belongs to whoever
builds, like the publication beside it (``dist.cache/`` next to ``dist``): whoever can write
it could as well write the publication, so reading pickles from it trusts no one new. Results
that did not finish (a parse stopped at its time limit) are never kept.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

#: Libraries whose behaviour decides what a parse produces.
_RENDERERS = ("markdown", "pymdown-extensions", "nh3", "PyYAML", "python-frontmatter")
_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def code_fingerprint() -> str:
    """A digest of this package's source files and of the renderers' versions, worked out
    once per process (a build opens a cache for each of its stages; the code that runs is
    what the process loaded, whatever is installed after)."""
    digest = hashlib.sha256()
    add_files(digest, sorted(_PACKAGE.glob("*.py")))
    add_versions(digest, _RENDERERS)
    return digest.hexdigest()


def add_files(digest: hashlib._Hash, paths: Iterable[Path]) -> None:
    """Each file's name and the SHA-256 of its bytes into ``digest`` (one way for every key
    made of files: this cache's, the validation cache's, the kept ontology's)."""
    for path in paths:
        digest.update(f"{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def add_versions(digest: hashlib._Hash, names: Iterable[str]) -> None:
    """The installed version of each distribution ``names`` names (``?``: not installed)."""
    for name in names:
        digest.update(f"\0{name}={_version(name)}".encode())


@functools.cache
def _version(name: str) -> str:
    """The installed version of ``name`` (``?``: not installed), read once per process: each
    read parses the distribution's metadata (about a millisecond), a build asks for a few
    dozen."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


@dataclass(frozen=True)
class ParseCache:
    """Parse results in ``folder``, keyed under ``salt`` (the code and the glossary)."""

    folder: Path
    salt: str

    @classmethod
    def open(cls, folder: Path, *context: str) -> ParseCache | None:
        """A cache in ``folder`` (created) for parses that also depend on ``context``; None
        when the folder cannot be made (then everything is parsed: it only costs time)."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        digest = hashlib.sha256(code_fingerprint().encode())
        for part in context:
            digest.update(b"\0" + part.encode("utf-8", "surrogatepass"))
        return cls(folder, digest.hexdigest())

    def within(self, name: str) -> ParseCache | None:
        """A cache in the subfolder ``name`` (created), under the same key; None when it
        cannot be made."""
        try:
            (self.folder / name).mkdir(exist_ok=True)
        except OSError:
            return None
        return ParseCache(self.folder / name, self.salt)

    def key(self, path: str, text: str, *context: str) -> str:
        """The key of one file's parse: its path and text, and what else it depends on."""
        digest = hashlib.sha256(self.salt.encode())
        for part in (path, text, *context):
            digest.update(b"\0" + part.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def _file(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pickle"

    def get(self, key: str) -> object | None:
        try:
            data = self._file(key).read_bytes()
        except OSError:
            return None
        try:
            value: object = pickle.loads(data)  # written by this package (module docstring)
        except Exception:  # a torn or foreign entry is a miss, never a failure
            return None
        return value

    def put_only(self, key: str, value: object) -> None:
        """``value`` kept under ``key`` as the folder's only entry: for large values of which
        only the newest is asked for again (what a build makes from its whole corpus)."""
        self.put(key, value)
        for path in self.folder.glob("*/*.pickle"):
            if path != self._file(key):
                path.unlink(missing_ok=True)

    def put(self, key: str, value: object) -> None:
        target = self._file(key)
        try:  # a cache that cannot be written only costs time
            target.parent.mkdir(exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, target)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
