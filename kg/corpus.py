"""Loading a content folder (upstream layout: ``docs/`` and ``includes/``) into documents.

Every file is read through :mod:`kg.files` (regular files inside the folder only, bounded in
size), its front matter through :mod:`kg.metadata` (bounded in values and depth), and each
document (and the glossary) is parsed within :data:`PARSE_SECONDS` through
:mod:`kg.bounded` (Python-Markdown takes quadratic time or worse on some pages), so that no
file, however hostile, stops or stalls the others: each problem is an error at that file.
"""

from __future__ import annotations

import hashlib
import html
import os
import subprocess
from bisect import bisect_right
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import cast

from rdflib import URIRef

from kg.bounded import Failed, map_bounded
from kg.diagnostic import Diagnostic, Severity
from kg.document import Document, Engines, parse_document
from kg.files import list_markdown, read_file
from kg.glossary import GLOSSARY_PATH, Term, parse_glossary
from kg.identifier import slugify
from kg.kind import Placement, classify
from kg.parsecache import ParseCache

#: Seconds one document, or the glossary, may take to parse: upstream's slowest page takes
#: 0.03 s, so only a hostile one comes near; it is stopped and reported (``parse``).
PARSE_SECONDS = 10.0


@dataclass(frozen=True)
class Corpus:
    """Everything read from one content folder, and what could not be read."""

    root: Path
    documents: tuple[Document, ...]
    terms: tuple[Term, ...]
    diagnostics: tuple[Diagnostic, ...]
    #: Files that are not in the graph because of an error.
    rejected: tuple[str, ...]
    commit: str | None = None
    #: A digest of what the documents and terms were made from (each file parsed, by path and
    #: text, the glossary terms, the files left out, whether the glossary marks the pages):
    #: corpora of one digest hold the same documents and terms (:mod:`kg.pipeline` keeps what
    #: it makes from them under it).
    digest: str = ""


class ContentFolderError(Exception):
    """The folder given is not a content folder at all (exit code 2, not a content error)."""


@dataclass(frozen=True)
class _Source:
    """A document's file, read and decoded, waiting to be parsed."""

    path: str
    text: str
    placement: Placement


def load_corpus(
    root: Path,
    parse_seconds: float = PARSE_SECONDS,
    cache: Path | None = None,
    abbreviations: bool = True,
) -> Corpus:
    """The documents of ``root``; with ``cache``, a folder of earlier parse results
    (:mod:`kg.parsecache`), only the files not parsed before are parsed. Without
    ``abbreviations`` the glossary is not applied to the pages (it marks terms in their HTML
    and adds no triples: the older releases of a history are parsed so, and share more)."""
    docs = root / "docs"
    if not docs.is_symlink() and not docs.is_dir():
        raise ContentFolderError(f"{root}: not a content folder (it has no docs/ folder)")
    listing = list_markdown(root, "docs")
    diagnostics: list[Diagnostic] = list(listing.problems)
    rejected: list[str] = list(listing.refused)
    # The glossary's parses are kept apart (``glossary/``), beside the documents'.
    glossaries = ParseCache.open(cache / "glossary") if cache is not None else None
    terms = _load_glossary(root, diagnostics, rejected, parse_seconds, glossaries)
    sources: list[_Source] = []
    for relative in listing.files:
        text = _read_text(root, relative, diagnostics)
        if text is None:
            rejected.append(relative)
        else:
            placement = classify(PurePosixPath(relative).relative_to("docs"))
            sources.append(_Source(relative, text, placement))
    parses = ParseCache.open(cache) if cache is not None else None
    marked = terms if abbreviations else []
    documents = _parse_documents(sources, marked, parse_seconds, parses, diagnostics, rejected)
    return Corpus(
        root=root,
        documents=tuple(_settle_duplicate_urns(documents, diagnostics)),
        terms=tuple(terms),
        diagnostics=tuple(diagnostics),
        rejected=tuple(sorted(rejected)),
        commit=_git_commit(root),
        digest=_digest(sources, terms, sorted(rejected), abbreviations),
    )


def _digest(sources: list[_Source], terms: list[Term], rejected: list[str], marks: bool) -> str:
    """What the documents and terms are a function of (given this package's code): a parse
    that did not finish leaves its file among ``rejected``, so it is in the digest too."""
    digest = hashlib.sha256(b"marks\0" if marks else b"plain\0")
    for term in terms:
        digest.update(f"{term.term}\0{term.definition}\0{term.line}\0{term.urn}\0".encode())
    for source in sources:
        digest.update(f"\1{source.path}\0{len(source.text)}\0".encode())
        digest.update(source.text.encode("utf-8", "surrogatepass"))
    digest.update("\1".join(("", *rejected)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _parse_documents(
    sources: list[_Source],
    terms: list[Term],
    seconds: float,
    cache: ParseCache | None,
    diagnostics: list[Diagnostic],
    rejected: list[str],
) -> list[Document]:
    documents: list[Document] = []
    for source, result in zip(sources, _parse_all(sources, terms, seconds, cache), strict=True):
        if isinstance(result, Failed):
            diagnostics.append(_parse_failed(source.path, result))
            rejected.append(source.path)
            continue
        document, found = result
        diagnostics.extend(found)
        if document is None:
            rejected.append(source.path)
        else:  # the placement (kinds are compared by identity) as this process has it
            documents.append(replace(document, placement=source.placement))
    return documents


_Parsed = tuple[Document | None, list[Diagnostic]]


def _parse_all(
    sources: list[_Source], terms: list[Term], seconds: float, cache: ParseCache | None
) -> list[_Parsed | Failed]:
    """Each source parsed, in order: from the cache where it has the result, else in the
    bounded children (whose finished results are then kept in the cache)."""
    folded = [(t.term.casefold(), f"{t.term}\0{t.definition}") for t in terms]
    keys = []
    results: list[_Parsed | Failed | None] = [None] * len(sources)
    if cache is not None:
        keys = _keys(cache, sources, folded)
        results = [cast("_Parsed | None", cache.get(key)) for key in keys]
    missing = [index for index, result in enumerate(results) if result is None]
    if missing:
        from kg.render import heading_engine, markdown_engine  # Python-Markdown: when parsing

        # The glossary applies to every page as abbreviations, as upstream's site appends it.
        glossary = {t.term: t.definition for t in terms}
        engines = Engines(markdown_engine(glossary), heading_engine())

        def parse(source: _Source) -> _Parsed:
            return parse_document(source.path, source.text, source.placement, engines)

        todo = [sources[index] for index in missing]
        # shared among the children by length, so that they finish together (measured: the
        # real corpus's first half takes 40 % longer than its second)
        parsed = map_bounded(parse, todo, seconds, 0, [len(source.text) for source in todo])
        for index, result in zip(missing, parsed, strict=True):
            results[index] = result
            if cache is not None and not isinstance(result, Failed):
                cache.put(keys[index], result)
    return cast("list[_Parsed | Failed]", results)


def _keys(cache: ParseCache, sources: list[_Source], terms: list[tuple[str, str]]) -> list[str]:
    """Each source's key in ``cache``. Finding the terms a text holds is most of the work, so
    the keys of a whole corpus are kept too (``keys/``, the newest only), under a digest of
    every source and term: a rebuild of unchanged content looks for none."""
    digest = hashlib.sha256()
    for _, entry in terms:
        digest.update(f"{entry}\1".encode("utf-8", "surrogatepass"))
    for source in sources:
        digest.update(f"\2{source.path}\0{len(source.text)}\0".encode("utf-8", "surrogatepass"))
        digest.update(source.text.encode("utf-8", "surrogatepass"))
    index = cache.within("keys")
    name = cache.key("keys", digest.hexdigest())  # under the code's fingerprint too
    found = index.get(name) if index is not None else None
    if isinstance(found, list) and len(found) == len(sources):
        return cast("list[str]", found)
    held = _terms_in([s.text for s in sources], terms)
    keys = [cache.key(s.path, s.text, *t) for s, t in zip(sources, held, strict=True)]
    if index is not None:
        index.put_only(name, keys)
    return keys


def _terms_in(texts: list[str], terms: list[tuple[str, str]]) -> list[list[str]]:
    """For each text, the glossary terms (with their definitions; ``terms``: each term
    case-folded, and that) whose text occurs in it, compared without case and with entities
    decoded: a superset of the terms its render can mark. Each term is looked for in all
    the texts joined by NUL (a term without one cannot span two), from each text it is found
    in on to the next (two thirds of the time of looking in every text apart)."""
    folded = [html.unescape(text).casefold() for text in texts]
    starts, position = [], 0
    for text in folded:
        starts.append(position)
        position += len(text) + 1
    starts.append(position)  # the end: where a text after the last would start
    joined = "\0".join(folded)
    found: list[list[str]] = [[] for _ in texts]
    for term, entry in terms:
        if not term or "\0" in term:  # could span two texts: looked for in each
            holders = [index for index, text in enumerate(folded) if term in text]
        else:
            holders, at = [], joined.find(term)
            while at >= 0:
                holders.append(bisect_right(starts, at) - 1)
                at = joined.find(term, starts[holders[-1] + 1])
        for index in holders:
            found[index].append(entry)
    return found


def _load_glossary(
    root: Path,
    diagnostics: list[Diagnostic],
    rejected: list[str],
    seconds: float,
    cache: ParseCache | None = None,
) -> list[Term]:
    if not os.path.lexists(root / GLOSSARY_PATH):
        return []
    text = _read_text(root, GLOSSARY_PATH, diagnostics)
    if text is None:
        rejected.append(GLOSSARY_PATH)
        return []
    key = cache.key(GLOSSARY_PATH, text) if cache is not None else ""
    found = cache.get(key) if cache is not None else None
    result = cast("tuple[list[Term], list[Diagnostic]] | Failed | None", found)
    if result is None:
        [result] = map_bounded(partial(parse_glossary, GLOSSARY_PATH), [text], seconds)
        if cache is not None and not isinstance(result, Failed):
            cache.put(key, result)
    if isinstance(result, Failed):
        diagnostics.append(_parse_failed(GLOSSARY_PATH, result))
        rejected.append(GLOSSARY_PATH)
        return []
    terms, found = result
    diagnostics.extend(found)
    return terms


def _parse_failed(path: str, failure: Failed) -> Diagnostic:
    return Diagnostic(
        path, 0, Severity.ERROR, f"could not be parsed ({failure.reason}); left out", "parse"
    )


def _read_text(root: Path, relative: str, diagnostics: list[Diagnostic]) -> str | None:
    """The file as text, or None with the error that says why not (see :mod:`kg.files`)."""
    data = read_file(root, relative)
    if isinstance(data, Diagnostic):
        diagnostics.append(data)
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        diagnostics.append(
            Diagnostic(
                relative,
                line,
                Severity.ERROR,
                f"not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}",
                "encoding",
            )
        )
        return None
    return text.removeprefix("\ufeff")


def _settle_duplicate_urns(
    documents: list[Document], diagnostics: list[Diagnostic]
) -> list[Document]:
    """Two files claiming one URN is an error, but neither file is lost: the first (by path)
    keeps the URN, each other one is published under a URN minted from its full file name
    (``urn:nl:ak:mtr:2-owp-09-multidisciplinair-inkoopteam``) and named in the error."""
    claimed: dict[URIRef, Document] = {}
    taken = {document.urn for document in documents}
    settled = []
    for document in documents:
        first = claimed.setdefault(document.urn, document)
        if first is document:
            settled.append(document)
            continue
        kind = document.placement.kind
        fallback = kind.urn(slugify(document.placement.name))
        number = 2
        while fallback in taken:
            fallback = kind.urn(f"{slugify(document.placement.name)}-{number}")
            number += 1
        taken.add(fallback)
        entry = document.matter.get("id")
        diagnostics.append(
            Diagnostic(
                document.path,
                entry.line if entry else 1,
                Severity.ERROR,
                f"duplicate URN {document.urn}: {first.path} has it too; "
                f"this document is published as {fallback}",
                "duplicate-urn",
            )
        )
        settled.append(replace(document, urn=fallback))
    return settled


def _git_commit(root: Path) -> str | None:
    """The commit of the checkout the content comes from, if it is a git work tree."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None
