"""The body of a document's page: the HTML the build rendered, passed once more through the policy.

The build renders every document's Markdown (``html.json``), resolves its relative links to
URNs and sanitises it with :mod:`kg.htmlpolicy`. The server parses no Markdown: it sanitises
that HTML again with the same policy, its ``href`` rewriter turning URNs into this site's
addresses (:func:`server.services.addresses.content_href`). The second pass is cheap and means a
``html.json`` edited by hand still cannot put a script on a page.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup

from kg.htmlpolicy import sanitize
from server.services.addresses import content_href


def page_body(pages: Mapping[str, str], urn: str) -> Markup | None:
    """The rendered body of document ``urn``, safe to show; None when the build made none."""
    html = pages.get(urn)
    if html is None or not html.strip():
        return None
    return Markup(sanitize(html, content_href))  # safe: sanitised by the policy
