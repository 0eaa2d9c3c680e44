"""URNs: the identifiers every resource of the graph is keyed on.

Upstream declares ``id: urn:nl:ak:ver:aia-01`` on vereisten and maatregelen of recent releases.
Everything else gets a URN minted under ``urn:nl:ak:`` by these rules (also in the README):

* vereiste without ``id``: file ``aia-01-ai-geletterdheid.md`` -> ``urn:nl:ak:ver:aia-01``;
  a name without such a prefix (early releases) -> ``urn:nl:ak:ver:<slug of file name>``.
* maatregel without ``id``: file ``0-org-02-beleid.md`` -> ``urn:nl:ak:mtr:org-02``; else slug.
* hulpmiddel, onderwerp, rol, levenscyclusfase: ``urn:nl:ak:{hlp,ond,rol,lcf}:<slug>``.
* other pages: ``urn:nl:ak:pag:<slug of each path segment, joined by ':'>``.
* tag values: ``urn:nl:ak:<vocabulary>:<slug of the value>`` (see :mod:`kg.vocabulary`).
* glossary terms: ``urn:nl:ak:begrip:<slug of the term>``.
* audit codes: ``urn:nl:ak:auditnorm:<adr|ark>:<code as written>``.

A slug is lower case ASCII letters, digits and hyphens: accents are dropped, anything else
becomes a hyphen.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from rdflib import URIRef

from kg.kind import MAATREGEL, PAGINA, VEREISTE, Kind

_VEREISTE_PREFIX = re.compile(r"^([a-z]{3}-[0-9]{2})(?:-|$)")
_MAATREGEL_PREFIX = re.compile(r"^[0-9]+-([a-z]{3}-[0-9]{2})(?:-|$)")
_NON_SLUG = re.compile(r"[^a-z0-9]+")
_HEX_PAIR = re.compile(r"[0-9A-Fa-f]{2}")
#: What an upstream ``id`` must look like for a kind to be taken as the document's URN.
URN_PATTERNS: dict[str, re.Pattern[str]] = {
    VEREISTE.name: re.compile(r"^urn:nl:ak:ver:[a-z]{3}-[0-9]{2}$"),
    MAATREGEL.name: re.compile(r"^urn:nl:ak:mtr:[a-z]{3}-[0-9]{2}$"),
}


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_SLUG.sub("-", ascii_text.lower()).strip("-") or "leeg"


def prefix_code(kind: Kind, name: str) -> str | None:
    """The ``xxx-00`` code a file name starts with (``aia-01``, ``org-02``), if any."""
    pattern = {VEREISTE.name: _VEREISTE_PREFIX, MAATREGEL.name: _MAATREGEL_PREFIX}.get(kind.name)
    if pattern is None:
        return None
    match = pattern.match(name.lower())
    return match.group(1) if match else None


def mint_urn(kind: Kind, name: str) -> URIRef:
    """The URN of a document of ``kind`` known by ``name`` (file stem or topic folder)."""
    if kind is PAGINA:
        return kind.urn(":".join(slugify(part) for part in name.split("/")))
    code = prefix_code(kind, name)
    return kind.urn(code if code else slugify(name))


def term_urn(vocabulary: str, value: str) -> URIRef:
    return URIRef(f"urn:nl:ak:{vocabulary}:{slugify(value)}")


def safe_iri(url: str) -> URIRef:
    """An external link as an IRI: characters IRIs may not hold are percent-encoded, and so is
    a ``%`` that does not start an escape (``%zz``), which no IRI parser would take."""
    text = url.strip()
    parts = text.split("%")
    fixed = parts[0] + "".join(
        f"%{part}" if _HEX_PAIR.match(part) else f"%25{part}" for part in parts[1:]
    )
    return URIRef(quote(fixed, safe="/:?#@!$&'()*+,;=%-._~"))


def release_urn(tag: str, part: str = "") -> URIRef:
    """A release of the content (a git tag, or the branch head): ``urn:nl:ak:release:v2.0``,
    also the name of the release's named graph; with ``part``, a part of its description
    (``urn:nl:ak:release:v2.0#vereiste``). The tag is kept as written (``V2.2.0`` and
    ``v2.2.0`` are two tags); characters a URN may not hold are percent-encoded."""
    fragment = f"#{slugify(part)}" if part else ""
    return URIRef(f"urn:nl:ak:release:{quote(tag, safe='-._~+')}{fragment}")


def lineage_urn(tag: str, what: str, urn: str) -> URIRef:
    """A lineage event: ``what`` happened to ``urn`` in release ``tag``
    (``urn:nl:ak:lineage:v1.6:move:ver:aia-37``)."""
    local = urn.removeprefix("urn:nl:ak:")
    return URIRef(f"urn:nl:ak:lineage:{quote(tag, safe='-._~+')}:{what}:{local}")


def commit_urn(commit: str) -> URIRef:
    """A git commit of the content: ``urn:nl:ak:commit:<40 hex digits>``."""
    return URIRef(f"urn:nl:ak:commit:{commit}")
