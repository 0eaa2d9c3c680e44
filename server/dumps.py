"""Downloads: the dumps, their checksums, the context, the ontology, the validation report, VoID.

Every file is served from the publication folder as it was built, with

* a strong ``ETag``: the file's SHA-256 from ``manifest.json`` (of the ``.gz`` file when that is
  what is sent), and ``Last-Modified``: the build time;
* ``304`` for a matching ``If-None-Match`` (or, without one, ``If-Modified-Since``), ``HEAD``,
  and byte ranges;
* ``Repr-Digest: sha-256=:…:`` (RFC 9530) and the older ``Digest: sha-256=…`` (RFC 3230);
* for the dumps, ``Content-Encoding: gzip`` (the prebuilt ``.gz``) when ``Accept-Encoding``
  allows it, with ``Vary: Accept-Encoding``.

``/.well-known/void`` describes the dataset in VoID and DCAT (:mod:`server.void`), in Turtle
or, by ``Accept`` / ``?format=``, JSON-LD, N-Triples or RDF/XML.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, Response, request, send_file

from kg.publication import CHECKSUMS, CONTEXT, ONTOLOGY
from server.dataset import current_dataset
from server.formats import GRAPH_FORMATS, choose_format, list_formats, serialize_triples
from server.void import DUMPS, describe_dataset

blueprint = Blueprint("dumps", __name__)

VALIDATION_TTL = "validation.ttl"
VALIDATION_JSON = "validation.json"


@dataclass(frozen=True)
class Served:
    """A publication file served as it is: its name, media type (text/* get charset=utf-8),
    and whether it has a .gz to send to clients that take gzip."""

    file: str
    media_type: str
    compressible: bool = False


#: Path (below /) -> the file served there.
SERVED: dict[str, Served] = {
    **{dump.path.lstrip("/"): Served(dump.file, dump.media_type, True) for dump in DUMPS},
    "SHA256SUMS": Served(CHECKSUMS, "text/plain"),
    "context.jsonld": Served(CONTEXT, "application/ld+json"),
    "ontology.ttl": Served(ONTOLOGY, "text/turtle"),
    "validation.ttl": Served(VALIDATION_TTL, "text/turtle"),
    "validation.json": Served(VALIDATION_JSON, "application/json"),
}


@blueprint.get(f"/<any({', '.join(SERVED)}):path>")
def publication_file(path: str) -> Response:
    served = SERVED[path]
    return send_publication_file(served.file, served.media_type, served.compressible)


def send_publication_file(name: str, media_type: str, compressible: bool) -> Response:
    """``name`` from the publication folder (its ``.gz`` when the client takes gzip)."""
    folder = current_dataset().path
    path = folder / name
    if not path.is_file():
        return _not_found(name)
    gzipped = compressible and accepts_gzip() and (folder / f"{name}.gz").is_file()
    if gzipped:
        path = folder / f"{name}.gz"
    digest = file_sha256(path)
    response = send_file(
        path,
        mimetype=media_type,
        etag=digest,
        last_modified=built_at(path),
        conditional=True,
        max_age=None,
    )
    if gzipped and response.status_code != 304:
        response.headers["Content-Encoding"] = "gzip"
    if compressible:
        response.vary.add("Accept-Encoding")
    encoded = base64.b64encode(bytes.fromhex(digest)).decode("ascii")
    response.headers["Repr-Digest"] = f"sha-256=:{encoded}:"
    response.headers["Digest"] = f"sha-256={encoded}"
    response.headers["Cache-Control"] = "public, no-cache"
    return response


def accepts_gzip() -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip``, ``x-gzip`` or ``*``, q > 0)."""
    encodings = request.accept_encodings
    return max(encodings["gzip"], encodings["x-gzip"]) > 0


def file_sha256(path: Path) -> str:
    """The file's SHA-256 (hex) from the manifest, or computed when the manifest lacks it (or
    records another size: the file is not the one built)."""
    recorded = current_dataset().manifest.get("files", {}).get(path.name, {})
    digest, size = recorded.get("sha256"), recorded.get("bytes")
    if isinstance(digest, str) and size == path.stat().st_size:
        return digest
    return hashlib.sha256(path.read_bytes()).hexdigest()


def built_at(path: Path) -> datetime:
    """When the publication was built (the manifest), else the file's modification time."""
    recorded = current_dataset().manifest.get("built_at")
    if isinstance(recorded, str):
        try:
            return datetime.fromisoformat(recorded)
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


@blueprint.get("/.well-known/void")
def void() -> Response:
    chosen = choose_format(request.accept_mimetypes, request.args.get("format"), GRAPH_FORMATS)
    if chosen is None:
        response = Response(
            "406 Not Acceptable: the dataset description is available as:\n"
            + list_formats(GRAPH_FORMATS),
            406,
            content_type="text/plain; charset=utf-8",
        )
    else:
        triples = describe_dataset(current_dataset(), request.host_url.rstrip("/"))
        response = Response(serialize_triples(triples, chosen), content_type=chosen.content_type)
    response.vary.add("Accept")
    return response


@blueprint.after_request
def _cors(response: Response) -> Response:
    """Any origin may download (GET, HEAD, and the preflight OPTIONS), and read the validators."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = (
        "Accept, Range, If-None-Match, If-Modified-Since"
    )
    response.headers["Access-Control-Expose-Headers"] = (
        "ETag, Last-Modified, Repr-Digest, Digest, Content-Length, Content-Encoding"
    )
    return response


def _not_found(name: str) -> Response:
    return Response(
        f"404 Not Found: this publication has no {name}\n",
        404,
        content_type="text/plain; charset=utf-8",
    )
