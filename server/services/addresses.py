"""Where a URN lives on this site, and what a typed or linked address means.

Every page address is made here with ``url_for`` (the ``resource.by_id`` endpoint), so the
``/id/`` prefix is spelled only by its route: property values, links in, the home page's
contents, lookups and the links inside rendered content all go through :func:`resource_url`.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import url_for

from kg.namespace import URN_PREFIX
from server.services.formats import Format
from server.services.index import SiteIndex

#: Schemes a link in content may keep as it is (``urn:`` ones become this site's pages).
EXTERNAL_SCHEMES = frozenset({"http", "https", "mailto"})
#: What a fragment may hold as it is (RFC 3986 §3.5; ``%`` keeps what is encoded already).
_FRAGMENT_SAFE = "!$&'()*+,;=:@/?-._~%"


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

    ``text`` may be a URN in any case, a link that contains one, or a short ``mtr:org-02``.
    """
    text = text.strip().strip("<>").strip()
    start = text.lower().find("urn:")
    candidates = [text[start:]] if start >= 0 else [text, URN_PREFIX + text.removeprefix(":")]
    for candidate in candidates:
        base, hash_sign, fragment = candidate.partition("#")
        urn = index.canonical(base)
        if urn is not None:
            return f"{urn}#{fragment}" if hash_sign and fragment else urn
    return None
