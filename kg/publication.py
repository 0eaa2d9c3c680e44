"""Publications: the dumps and their metadata, written into ``dist/`` all at once or not at all.

A build writes everything into a fresh sibling folder and only then swaps it in for the old
``dist/``; a build that fails or is interrupted before the swap leaves the previous publication
as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kg import __version__
from kg.corpus import Corpus
from kg.diagnostic import Severity, count_by_severity
from kg.graph import Build
from kg.serialization import (
    jsonld_context,
    oxigraph_triples,
    sorted_triples,
    write_jsonld,
    write_rdf,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY_FILE = PROJECT_ROOT / "ontology" / "algoritmekader.ttl"

#: Dump files: name -> media type. Each is also written gzipped (name + ".gz").
DUMPS: dict[str, str] = {
    "graph.ttl": "text/turtle",
    "graph.nt": "application/n-triples",
    "graph.jsonld": "application/ld+json",
}
MANIFEST = "manifest.json"
SOURCEMAP = "sourcemap.json"
DIAGNOSTICS = "diagnostics.json"
CONTEXT = "context.jsonld"
ONTOLOGY = "ontology.ttl"
CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class Publication:
    """What a build wrote: its folder and its manifest."""

    path: Path
    manifest: dict[str, Any]


#: Extra files a later stage adds to a publication (the validation report): name -> bytes.
ExtraFiles = dict[str, bytes]


def render_dumps(build: Build) -> dict[str, bytes]:
    triples = sorted_triples(build.triples)
    ox_triples = oxigraph_triples(triples)
    return {
        "graph.ttl": write_rdf(ox_triples, "turtle"),
        "graph.nt": write_rdf(ox_triples, "ntriples"),
        "graph.jsonld": write_jsonld(triples),
    }


def write_publication(
    out: Path,
    corpus: Corpus,
    build: Build,
    extra: ExtraFiles | None = None,
    summary: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Publication:
    """Write every file of the publication, then swap it in for ``out``."""
    files: dict[str, bytes] = render_dumps(build)
    # zlib lets go of the GIL: the three dumps compress side by side.
    with ThreadPoolExecutor(max_workers=len(DUMPS)) as pool:
        compressed = pool.map(lambda name: gzip.compress(files[name], 6, mtime=0), DUMPS)
        files.update({f"{name}.gz": data for name, data in zip(DUMPS, compressed, strict=True)})
    files[CONTEXT] = json.dumps(jsonld_context(), indent=1).encode("utf-8")
    files[SOURCEMAP] = json.dumps(build.sourcemap.to_json(), ensure_ascii=False).encode("utf-8")
    diagnostics = sorted((*corpus.diagnostics, *build.diagnostics))
    files[DIAGNOSTICS] = json.dumps(
        [
            {
                "path": d.path,
                "line": d.line,
                "severity": d.severity.label,
                "message": d.message,
                "code": d.code,
            }
            for d in diagnostics
        ],
        ensure_ascii=False,
    ).encode("utf-8")
    if ONTOLOGY_FILE.is_file():
        files[ONTOLOGY] = ONTOLOGY_FILE.read_bytes()
    files.update(extra or {})
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    files[CHECKSUMS] = "".join(f"{digest}  {name}\n" for name, digest in checksums.items()).encode()
    counts = count_by_severity(diagnostics)
    manifest: dict[str, Any] = {
        "generator": f"algoritmekader-kg {__version__}",
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "content": str(corpus.root),
        "commit": corpus.commit,
        "triples": len(build),
        "documents": dict(sorted(Counter(d.kind_name for d in corpus.documents).items())),
        "glossary_terms": len(corpus.terms),
        "rejected": list(corpus.rejected),
        "diagnostics": {severity.label: counts[severity] for severity in Severity},
        "files": {
            name: {"sha256": checksums[name], "bytes": len(files[name])} for name in checksums
        },
    }
    if summary is not None:
        manifest = summary(manifest)
    files[MANIFEST] = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
    _swap_in(out, files)
    return Publication(out, manifest)


def read_manifest(dist: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((dist / MANIFEST).read_text(encoding="utf-8"))
    return data


def _swap_in(out: Path, files: dict[str, bytes]) -> None:
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-new-", dir=out.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        os.chmod(staging, 0o755)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            os.rename(out, retired / out.name)
            try:
                os.rename(staging, out)
            except OSError:
                os.rename(retired / out.name, out)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
