"""The one HTML policy: what rendered content may hold, and the one place every ``href`` passes.

Content HTML is sanitised twice with this same policy: at build time, where relative links are
resolved to URNs (:mod:`kg.render`), and by the server before it shows a page, where URNs become
the site's addresses. Both call :func:`sanitize` with their own ``rewrite_href``; nh3 (ammonia)
does the parsing, so a link in raw HTML (``<a href="../ontwerp">``) is treated exactly as one
written in Markdown.

What survives: the structural and text tags of the content (no ``script``, ``style``, forms,
``img``: pages never load anything from elsewhere), ``id`` on headings and footnotes (section
anchors), classes that give meaning (admonition kinds, footnotes, tabs, task lists, mermaid),
``title`` on ``abbr`` (the glossary), and the classes of the lists the build makes from
list macros (``table.ak-list``, ``ul.ak-tags``, ``span.ak-chip``, :mod:`kg.lists`).
URL schemes: ``http``, ``https``, ``mailto`` and ``urn``
(internal links between build and server); everything else loses its ``href``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import nh3

#: ``rewrite_href(href)``: the address to keep (maybe changed), or None to drop the ``href``.
HrefRewriter = Callable[[str], str | None]

ADMONITION_KINDS: frozenset[str] = frozenset(
    {
        "note",
        "abstract",
        "summary",
        "tldr",
        "info",
        "todo",
        "tip",
        "hint",
        "important",
        "success",
        "check",
        "done",
        "question",
        "help",
        "faq",
        "warning",
        "caution",
        "attention",
        "failure",
        "fail",
        "missing",
        "danger",
        "error",
        "bug",
        "example",
        "quote",
        "cite",
        "expander",
    }
)
SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto", "urn"})
_TAGS = (frozenset(nh3.ALLOWED_TAGS) - {"area", "map", "center", "img"}) | {"section"}
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "hreflang", "title"},
    "abbr": {"title"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start"},
    "li": {"id", "value"},
    "sup": {"id"},
    "div": {"id"},
    "*": {"lang"},
    **{heading: {"id"} for heading in _HEADINGS},
}
#: Chips of the expanded list macros (:mod:`kg.lists`), one class per front-matter key.
_CHIP_CLASSES = {"ak-chip"} | {
    f"ak-chip-{key}"
    for key in (
        "id",
        "rollen",
        "levenscyclus",
        "onderwerp",
        "soort-toepassing",
        "risicogroep",
        "rol-ai-act",
        "systeemrisico",
        "transparantieverplichting",
    )
}
_BLOCK_CLASSES = ADMONITION_KINDS | {"admonition", "footnote", "tabbed-set", "tabbed-content"}
_CLASSES: dict[str, set[str]] = {
    "div": set(_BLOCK_CLASSES) | {"tabbed-labels", "tabbed-block", "admonition-title"},
    "details": set(_BLOCK_CLASSES) | {"ak-sparql"},
    "table": {"ak-list"},
    "span": _CHIP_CLASSES,
    "aside": set(_BLOCK_CLASSES),
    "p": {"admonition-title"},
    "pre": {"mermaid"},
    "ul": {"task-list", "ak-tags"},
    "li": {"task-list-item"},
    "a": {"footnote-ref", "footnote-backref"},
    "sup": {"footnote-ref"},
    "abbr": {"glossary"},
}


def sanitize(
    html: str, rewrite_href: HrefRewriter, heading_ids: Mapping[str, str] | None = None
) -> str:
    """``html`` cleaned by the policy, every ``href`` passed through ``rewrite_href`` and the
    ``id`` of each ``<h2>`` renamed by ``heading_ids`` (the build gives sections their anchors)."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "href":
            return rewrite_href(value)
        if heading_ids and attribute == "id" and tag == "h2":
            return heading_ids.get(value, value)
        return value

    return nh3.clean(
        html,
        tags=set(_TAGS),
        clean_content_tags={"script", "style", "template", "textarea"},
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        allowed_classes={tag: set(names) for tag, names in _CLASSES.items()},
        url_schemes=set(SCHEMES),
        link_rel="noopener noreferrer",
        attribute_filter=attribute_filter,
        strip_comments=True,
    )
