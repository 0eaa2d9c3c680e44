"""What a publication holds: the one table of its files, and its typed manifest.

Every stage that names a published file (the writer, the server's downloads, VoID, the
checksums) takes it from :data:`FILES`; nobody else spells a file name. ``manifest.json`` is
read back into :class:`Manifest`, a frozen record, so readers use attributes, not defensive
``dict.get`` chains; a manifest that does not have the shape written here is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class PublishedFile:
    """One file of a publication."""

    name: str
    media_type: str
    title: str
    #: Served to the public at ``/<served_as>`` (None: read by the server only).
    served_as: str | None
    #: Also written gzipped (``name + ".gz"``) and sent as ``Content-Encoding: gzip``.
    gzipped: bool = False
    #: A dump of the whole graph (listed in VoID/DCAT as a distribution).
    dump: bool = False
    #: Written by every build (False: only when a stage produced it, e.g. validation).
    always: bool = True


GRAPH_TTL = PublishedFile("graph.ttl", "text/turtle", "Turtle", "dump.ttl", True, True)
GRAPH_NT = PublishedFile("graph.nt", "application/n-triples", "N-Triples", "dump.nt", True, True)
GRAPH_JSONLD = PublishedFile(
    "graph.jsonld", "application/ld+json", "JSON-LD", "dump.jsonld", True, True
)
CONTEXT = PublishedFile(
    "context.jsonld", "application/ld+json", "JSON-LD context", "context.jsonld"
)
ONTOLOGY = PublishedFile("ontology.ttl", "text/turtle", "Ontology", "ontology.ttl")
SOURCEMAP = PublishedFile("sourcemap.json", "application/json", "Source map", None)
DIAGNOSTICS = PublishedFile("diagnostics.json", "application/json", "Content problems", None)
#: Document URN -> its Markdown rendered to sanitised HTML, links resolved to URNs.
PAGES = PublishedFile("html.json", "application/json", "Rendered pages", None)
#: The full-text search index (SQLite FTS5, :mod:`kg.search`), read by the server only.
SEARCH = PublishedFile("search.sqlite", "application/vnd.sqlite3", "Search index", None)
#: The AI-Act decision tree as checked (``kg build --beslishulp``), read by the server only.
BESLISHULP = PublishedFile(
    "beslishulp.json", "application/json", "Beslishulp AI-verordening", None, always=False
)
VALIDATION_TTL = PublishedFile(
    "validation.ttl", "text/turtle", "SHACL report", "validation.ttl", always=False
)
VALIDATION_JSON = PublishedFile(
    "validation.json", "application/json", "SHACL findings", "validation.json", always=False
)
#: Every release of the content in its named graph, with their description and lineage
#: (``kg build --git``, :mod:`kg.releases`); the newest release is also the default graph.
RELEASES_TRIG = PublishedFile(
    "releases.trig", "application/trig", "TriG (all releases)", "dump.trig", True, always=False
)
RELEASES_NQ = PublishedFile(
    "releases.nq", "application/n-quads", "N-Quads (all releases)", "dump.nq", True, always=False
)
CHECKSUMS = PublishedFile("SHA256SUMS", "text/plain", "Checksums", "SHA256SUMS")
MANIFEST = PublishedFile("manifest.json", "application/json", "Manifest", None)

#: Every file a publication may hold, in the order a reader meets them.
FILES: tuple[PublishedFile, ...] = (
    GRAPH_TTL,
    GRAPH_NT,
    GRAPH_JSONLD,
    CONTEXT,
    ONTOLOGY,
    SOURCEMAP,
    DIAGNOSTICS,
    PAGES,
    SEARCH,
    BESLISHULP,
    VALIDATION_TTL,
    VALIDATION_JSON,
    RELEASES_TRIG,
    RELEASES_NQ,
    CHECKSUMS,
    MANIFEST,
)
DUMPS: tuple[PublishedFile, ...] = tuple(file for file in FILES if file.dump)


class ManifestError(ValueError):
    """``manifest.json`` is missing or not what a build writes."""


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``: what was built, from what, when, and the checksum of every file."""

    generator: str
    built_at: str
    content: str
    commit: str | None
    triples: int
    #: Documents per kind (``vereiste`` -> 63).
    documents: Mapping[str, int]
    glossary_terms: int
    rejected: tuple[str, ...]
    #: Content problems per severity label.
    diagnostics: Mapping[str, int]
    files: Mapping[str, FileRecord] = field(default_factory=dict)
    #: SHACL findings per severity (violation, warning, info); None: not validated.
    validation: Mapping[str, int] | None = None
    #: The snapshot folder the build wrote (``dist.snapshots/<snapshot>``); None: a publication
    #: from before snapshots.
    snapshot: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["documents"] = dict(self.documents)
        data["diagnostics"] = dict(self.diagnostics)
        data["rejected"] = list(self.rejected)
        data["files"] = {name: asdict(record) for name, record in self.files.items()}
        if self.validation is None:
            del data["validation"]
        else:
            data["validation"] = dict(self.validation)
        if self.snapshot is None:
            del data["snapshot"]
        return data

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        try:
            validation = data.get("validation")
            snapshot = data.get("snapshot")
            return cls(
                generator=str(data["generator"]),
                built_at=str(data["built_at"]),
                content=str(data["content"]),
                commit=None if data["commit"] is None else str(data["commit"]),
                triples=int(data["triples"]),
                documents=_counts(data["documents"]),
                glossary_terms=int(data["glossary_terms"]),
                rejected=tuple(str(path) for path in data["rejected"]),
                diagnostics=_counts(data["diagnostics"]),
                files=MappingProxyType(
                    {
                        str(name): FileRecord(str(record["sha256"]), int(record["bytes"]))
                        for name, record in data["files"].items()
                    }
                ),
                validation=None if validation is None else _counts(validation),
                snapshot=None if snapshot is None else str(snapshot),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ManifestError(f"manifest is not what a build writes: {error!r}") from None

    def sha256(self, name: str) -> str | None:
        record = self.files.get(name)
        return record.sha256 if record else None


def _counts(data: Mapping[str, Any]) -> Mapping[str, int]:
    return MappingProxyType({str(key): int(value) for key, value in data.items()})


def read_manifest(dist: Path) -> Manifest:
    path = dist / MANIFEST.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestError(f"{path}: {error}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: not a JSON object")
    return Manifest.from_json(data)
