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
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from kg import __version__
from kg.corpus import Corpus
from kg.diagnostic import Severity, count_by_severity
from kg.graph import Build
from kg.manifest import (
    CHECKSUMS,
    CONTEXT,
    DIAGNOSTICS,
    DUMPS,
    GRAPH_JSONLD,
    GRAPH_NT,
    GRAPH_TTL,
    MANIFEST,
    ONTOLOGY,
    PAGES,
    SOURCEMAP,
    FileRecord,
    Manifest,
)
from kg.resources import ontology_files
from kg.serialization import (
    jsonld_context,
    oxigraph_triples,
    rdflib_triples,
    sorted_triples,
    write_jsonld,
    write_rdf,
)


@dataclass(frozen=True)
class Publication:
    """What a build wrote: its folder and its manifest."""

    path: Path
    manifest: Manifest


#: Extra files a later stage adds to a publication (the validation report): name -> bytes.
ExtraFiles = dict[str, bytes]


def render_dumps(build: Build) -> dict[str, bytes]:
    triples = sorted_triples(build.triples)
    ox_triples = oxigraph_triples(triples)
    return {
        GRAPH_TTL.name: write_rdf(ox_triples, "turtle"),
        GRAPH_NT.name: write_rdf(ox_triples, "ntriples"),
        GRAPH_JSONLD.name: write_jsonld(triples),
    }


def render_ontology() -> bytes:
    """The ontology and the labels of the terms it uses, as one sorted Turtle file. Its blank
    nodes (``owl:unionOf`` lists) are named canonically (RDFC, by Oxigraph), so the same files
    give the same bytes."""
    dataset = ox.Dataset()
    for path in ontology_files():
        for triple in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE):
            dataset.add(ox.Quad(triple.subject, triple.predicate, triple.object))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    triples = sorted_triples(rdflib_triples(quad.triple for quad in dataset))
    return write_rdf(oxigraph_triples(triples), "turtle")


def write_publication(
    out: Path,
    corpus: Corpus,
    build: Build,
    extra: ExtraFiles | None = None,
    validation: Mapping[str, int] | None = None,
) -> Publication:
    """Write every file of the publication, then swap it in for ``out``."""
    files: dict[str, bytes] = render_dumps(build)
    # zlib lets go of the GIL: the three dumps compress side by side.
    names = [dump.name for dump in DUMPS]
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        compressed = pool.map(lambda name: gzip.compress(files[name], 6, mtime=0), names)
        files.update({f"{name}.gz": data for name, data in zip(names, compressed, strict=True)})
    files[CONTEXT.name] = json.dumps(jsonld_context(), indent=1).encode("utf-8")
    files[SOURCEMAP.name] = _json(build.sourcemap.to_json())
    diagnostics = sorted((*corpus.diagnostics, *build.diagnostics))
    files[DIAGNOSTICS.name] = _json([d.to_json() for d in diagnostics])
    files[PAGES.name] = _json(dict(sorted((str(urn), html) for urn, html in build.pages.items())))
    files[ONTOLOGY.name] = render_ontology()
    files.update(extra or {})
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    files[CHECKSUMS.name] = "".join(
        f"{digest}  {name}\n" for name, digest in checksums.items()
    ).encode()
    counts = count_by_severity(diagnostics)
    manifest = Manifest(
        generator=f"algoritmekader-kg {__version__}",
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        content=str(corpus.root),
        commit=corpus.commit,
        triples=len(build),
        documents=dict(sorted(Counter(d.kind_name for d in corpus.documents).items())),
        glossary_terms=len(corpus.terms),
        rejected=corpus.rejected,
        diagnostics={severity.label: counts[severity] for severity in Severity},
        files={name: FileRecord(checksums[name], len(files[name])) for name in checksums},
        validation=validation,
    )
    files[MANIFEST.name] = manifest.dumps()
    _swap_in(out, files)
    return Publication(out, manifest)


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


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
