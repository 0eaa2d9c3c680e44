"""Where a link in a document goes, by the rules of the site it was written for (MkDocs).

* ``https://…``, ``mailto:…``: outside the content;
* ``#anchor``: within the same page;
* a path ending in ``.md`` (``../hulpmiddelen/IAMA.md#toelichting``): a file, relative to the
  file the link is in (MkDocs rewrites these);
* any other relative path (``../ontwerp``, ``rollen/``; raw HTML links are like this): an
  address relative to the *page's* address, which for ``docs/a/b.md`` is ``a/b/`` and for
  ``docs/a/index.md`` is ``a/`` (``use_directory_urls``); it names ``<path>.md`` or
  ``<path>/index.md``;
* a path starting with ``/``: relative to the site's root (``docs/``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from rdflib import URIRef

from kg.diagnostic import Severity
from kg.identifier import mint_urn, safe_iri, slugify
from kg.kind import PAGINA, classify

PAGES_ROOT = "docs"
#: Schemes of links that are kept as links out of the content.
EXTERNAL_SCHEMES = frozenset({"http", "https", "mailto"})


class LinkKind(Enum):
    EXTERNAL = "external"
    IN_PAGE = "in-page"
    CONTENT = "content"
    #: A scheme a published page does not link to (``javascript:``, ``file:``, ``data:`` …).
    REFUSED = "refused"


@dataclass(frozen=True)
class Target:
    kind: LinkKind
    #: CONTENT: the pages (``.md`` files relative to the content folder) the link may mean,
    #: best first; none for a link to a file that is not a page.
    candidates: tuple[str, ...] = ()
    fragment: str = ""


def link_target(source: str, href: str) -> Target:
    """What ``href``, written in the file ``source`` (``docs/…``), points at."""
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc:
        scheme = parts.scheme.lower()
        return Target(LinkKind.EXTERNAL if scheme in EXTERNAL_SCHEMES else LinkKind.REFUSED)
    path = unquote(parts.path)
    if not path:
        return Target(LinkKind.IN_PAGE, fragment=parts.fragment)
    if path.startswith("/"):
        joined = posixpath.normpath(posixpath.join(PAGES_ROOT, path.lstrip("/")))
    elif path.endswith(".md"):
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
    else:
        joined = posixpath.normpath(posixpath.join(page_folder(source), path))
    if joined.endswith(".md"):
        candidates: tuple[str, ...] = (joined,)
    elif posixpath.splitext(joined)[1]:
        candidates = ()  # a file with another extension: a download or an image, not a page
    else:
        candidates = (f"{joined}.md", f"{joined}/index.md")
    return Target(LinkKind.CONTENT, candidates, parts.fragment)


def missing_page_urn(target: Target) -> URIRef | None:
    """The URN a link to a page that is not there names, by the minting rules (its folder
    gives the kind); None when the link is not to a page (a download, an image)."""
    path = target.candidates[0] if target.candidates else ""
    if not path.endswith(".md") or not path.startswith(f"{PAGES_ROOT}/"):
        return None
    placement = classify(PurePosixPath(path).relative_to(PAGES_ROOT))
    if placement.kind is PAGINA:
        return mint_urn(placement.kind, placement.name)
    return placement.kind.urn(slugify(placement.name))


def page_folder(source: str) -> str:
    """The folder a page's address stands for: ``docs/a/b.md`` -> ``docs/a/b``."""
    folder, name = posixpath.split(source)
    stem = name.removesuffix(".md")
    return folder if stem == "index" else posixpath.join(folder, stem)


#: A link that points nowhere in the graph: (severity, message, code).
Problem = tuple[Severity, str, str]
BROKEN: Problem = (Severity.WARNING, "link to a missing page", "broken-link")
NOT_A_PAGE: Problem = (Severity.INFO, "link to a file that is not a page", "not-a-page")
REFUSED: Problem = (Severity.WARNING, "link with a scheme pages do not follow", "refused-link")


@dataclass(frozen=True)
class LinkResolver:
    """Links of the documents of one corpus, resolved against its pages (source file -> URN):
    for the graph (:meth:`resolve`) and for the pages' HTML (:meth:`rewrite`), alike."""

    by_path: Mapping[str, URIRef]

    def page(self, target: Target) -> URIRef | None:
        """The document a link to content names, if it is one."""
        return next((self.by_path[c] for c in target.candidates if c in self.by_path), None)

    def resolve(self, target: Target, href: str) -> tuple[URIRef | None, Problem | None]:
        """The node a link is a fact about (None: within the page, or nowhere) and, for a
        link that goes nowhere in the graph, the problem to report."""
        if target.kind is LinkKind.IN_PAGE:
            return None, None
        if target.kind is LinkKind.EXTERNAL:
            return safe_iri(href), None
        if target.kind is LinkKind.REFUSED:
            return None, REFUSED
        urn = self.page(target)
        if urn is not None:
            return urn, None
        urn = missing_page_urn(target)
        return urn, NOT_A_PAGE if urn is None else BROKEN

    def rewrite(self, source: str, href: str) -> str | None:
        """Where a link of the page at ``source`` goes: as written when outside the content or
        within the page; the URN of the page it names (``#fragment`` kept); None when nowhere."""
        target = link_target(source, href)
        if target.kind in (LinkKind.IN_PAGE, LinkKind.EXTERNAL):
            return href
        if target.kind is LinkKind.REFUSED:
            return None
        urn = self.page(target) or missing_page_urn(target)
        if urn is None:
            return None
        return f"{urn}#{target.fragment}" if target.fragment else str(urn)
