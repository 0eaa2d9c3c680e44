"""Downloads: the dumps, their checksums, the context, the ontology, the validation report, VoID.

What is served, and where, is :data:`kg.manifest.FILES` (every file with a ``served_as``).

Every file is served from the folder of the snapshot this request is answered from
(:func:`server.services.dataset.pin_snapshot`), as it was built, with

* a strong ``ETag``: the file's SHA-256 from that snapshot's ``manifest.json`` (of the ``.gz``
  file when that is what is sent), and ``Last-Modified``: the build time;
* ``304`` for a matching ``If-None-Match`` (or, without one, ``If-Modified-Since``), ``HEAD``,
  and one byte range (``206``; ``416`` when it starts past the end). A ``Range`` of several
  ranges, or one that cannot be read, is ignored and the whole file sent with ``200``, as
  RFC 9110 §14.2 allows: the files are a few megabytes, no client we know of asks for several
  ranges of them, and ``multipart/byteranges`` would be code to get wrong for nobody (RFC 9110
  also warns that many small or overlapping ranges are a way to make a server work hard);
* ``Repr-Digest: sha-256=:…:`` (RFC 9530) and the older ``Digest: sha-256=…`` (RFC 3230);
* for the dumps, ``Content-Encoding: gzip`` (the prebuilt ``.gz``) when ``Accept-Encoding``
  allows it, with ``Vary: Accept-Encoding``.

Every answer with a file is marked as one that can be kept (:func:`mark_kept`): a plain request
of the same kind (no range, no condition but the file's own ETag) is then answered by
:class:`server.services.kept_files.KeptFiles` with the same status and headers, without Flask
(installed by :func:`server.create_app`).

``/.well-known/void`` describes the dataset in VoID and DCAT (:mod:`server.services.void`), in
Turtle or, by ``Accept`` / ``?format=``, JSON-LD, N-Triples or RDF/XML.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.utils import send_file
from werkzeug.wrappers import Response as BaseResponse

from kg.manifest import FILES, Manifest, PublishedFile
from server.services.dataset import current_dataset
from server.services.formats import GRAPH_FORMATS, choose_format, serialize_triples
from server.services.kept_files import mark_kept, takes_gzip
from server.services.responses import error_page, not_acceptable
from server.services.void import describe_dataset

blueprint = Blueprint("dumps", __name__)

#: Path (below /) -> the publication file served there.
SERVED: dict[str, PublishedFile] = {file.served_as: file for file in FILES if file.served_as}


@blueprint.get(f"/<any({', '.join(SERVED)}):path>")
def publication_file(path: str) -> BaseResponse:
    return send_publication_file(SERVED[path])


def send_publication_file(file: PublishedFile) -> BaseResponse:
    """``file`` from the publication folder (its ``.gz`` when the client takes gzip)."""
    dataset = current_dataset()
    folder = dataset.path
    path = folder / file.name
    if not path.is_file():
        return error_page(404, "Not Found", f"this publication has no {file.name}")
    gzipped = file.gzipped and accepts_gzip() and (folder / f"{file.name}.gz").is_file()
    if gzipped:
        path = folder / f"{file.name}.gz"
    digest = file_sha256(dataset.manifest, path)
    response = send_file(
        path,
        _environ_for_send_file(),
        mimetype=file.media_type,
        etag=digest,
        last_modified=built_at(dataset.manifest, path),
        conditional=True,
        max_age=None,
        response_class=current_app.response_class,
    )
    if gzipped and response.status_code != 304:
        response.headers["Content-Encoding"] = "gzip"
    if file.gzipped:
        response.vary.add("Accept-Encoding")
    encoded = base64.b64encode(bytes.fromhex(digest)).decode("ascii")
    response.headers["Repr-Digest"] = f"sha-256=:{encoded}:"
    response.headers["Digest"] = f"sha-256={encoded}"
    response.headers["Cache-Control"] = "public, no-cache"
    mark_kept(request.environ, dataset, str(path))
    return response


def _environ_for_send_file() -> dict[str, object]:
    """The request's WSGI environment, without ``Range`` unless it is one byte range."""
    ranges = request.range
    if ranges is not None and ranges.units == "bytes" and len(ranges.ranges) == 1:
        return request.environ
    return {name: value for name, value in request.environ.items() if name != "HTTP_RANGE"}


def accepts_gzip() -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip``, ``x-gzip`` or ``*``, q > 0)."""
    return takes_gzip(request.environ.get("HTTP_ACCEPT_ENCODING"))


def file_sha256(manifest: Manifest, path: Path) -> str:
    """The file's SHA-256 (hex) from the manifest, or computed when the manifest lacks it (or
    records another size: the file is not the one built)."""
    record = manifest.files.get(path.name)
    if record is not None and record.bytes == path.stat().st_size:
        return record.sha256
    return hashlib.sha256(path.read_bytes()).hexdigest()


def built_at(manifest: Manifest, path: Path) -> datetime:
    """When the publication was built (the manifest), else the file's modification time."""
    try:
        return datetime.fromisoformat(manifest.built_at)
    except ValueError:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)


@blueprint.get("/.well-known/void")
def void() -> Response:
    chosen = choose_format(request.accept_mimetypes, request.args.get("format"), GRAPH_FORMATS)
    if chosen is None:
        return not_acceptable(GRAPH_FORMATS, lambda fmt: url_for("dumps.void", format=fmt.key))
    triples = describe_dataset(current_dataset())
    response = Response(serialize_triples(triples, chosen), content_type=chosen.content_type)
    response.vary.add("Accept")
    return response
