"""Where a URN lives on this site, and what a typed or linked address means.

Every page address is made here with ``url_for`` (the ``resource.by_id`` endpoint), so the
``/id/`` prefix is spelled only by its route: property values, links in, the home page's
contents, lookups and the links inside rendered content all go through :func:`resource_url`.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from flask import url_for

from kg.kind import KINDS
from kg.namespace import URN_PREFIX
from server.services.formats import Format
from server.services.index import SiteIndex

#: Schemes a link in content may keep as it is (``urn:`` ones become this site's pages).
EXTERNAL_SCHEMES = frozenset({"http", "https", "mailto"})
#: What a fragment may hold as it is (RFC 3986 §3.5; ``%`` keeps what is encoded already).
_FRAGMENT_SAFE = "!$&'()*+,;=:@/?-._~%"
#: A bare code (``aia-01``, ``org-02``), or a maatregel's file prefix (``0-org-02``).
_CODE = re.compile(r"(?:[0-9]+-)?([a-z]{3}-[0-9]{2})")


def resource_url(iri: str, fmt: Format | None = None) -> str:
    """The site address of a URN (``#fragment`` kept), optionally of one format."""
    urn, _, fragment = iri.partition("#")
    return with_fragment(
        url_for("resource.by_id", urn=urn, format=fmt.key if fmt else None), fragment
    )


def with_fragment(url: str, fragment: str) -> str:
    """``url#fragment``, the fragment percent-encoded where it must be (a space, a quote, a
    control character: a ``Location`` holds none of them); ``url`` when it is empty."""
    return f"{url}#{quote(fragment, safe=_FRAGMENT_SAFE)}" if fragment else url


def content_href(href: str) -> str | None:
    """Where a link in rendered content points on this site; None drops the link.

    The build left three kinds: ``urn:nl:ak:…[#fragment]`` (another page of the framework),
    ``http(s):``/``mailto:`` (elsewhere) and ``#fragment`` (this page). Anything else is not
    linked.
    """
    if href.startswith("#"):
        return href
    if href.lower().startswith(URN_PREFIX):
        return resource_url(href)
    scheme = urlsplit(href).scheme.lower()
    return href if scheme in EXTERNAL_SCHEMES and not href.startswith("//") else None


def find_urn(index: SiteIndex, text: str) -> str | None:
    """The URN (``#fragment`` kept) that ``text`` names, if the graph has it.

    ``text`` may be a URN in any case, a link that contains one, a short ``mtr:org-02``, or a
    bare code that one document has (:func:`code_urns`).
    """
    text = text.strip().strip("<>").strip()
    start = text.lower().find("urn:")
    candidates = [text[start:]] if start >= 0 else [text, URN_PREFIX + text.removeprefix(":")]
    for candidate in candidates:
        base, hash_sign, fragment = candidate.partition("#")
        urn = index.canonical(base)
        if urn is not None:
            return f"{urn}#{fragment}" if hash_sign and fragment else urn
    by_code = code_urns(index, text)
    return by_code[0] if len(by_code) == 1 else None


def code_urns(index: SiteIndex, text: str) -> list[str]:
    """The documents a bare code names (``org-02``, ``0-org-02``, ``aia-01``), of every kind
    that has one by that code (``dat-01`` is a vereiste and a maatregel)."""
    match = _CODE.fullmatch(text.strip().lower())
    if match is None:
        return []
    found = (index.canonical(str(kind.urn(match.group(1)))) for kind in KINDS)
    return [urn for urn in found if urn is not None]
