"""Where a document is published on the official Algoritmekader website.

Every resource of the graph states its page there (``foaf:page``), so that a reader of ours can
always go to the page the framework's editors maintain, and a pasted website address can be
looked up here. The address is derived from the source path exactly as MkDocs derives it:
upstream's ``mkdocs.yml`` has ``site_url: https://minbzk.github.io/Algoritmekader/``, the
default ``docs_dir: docs`` and the default ``use_directory_urls: true``, so
``docs/foo/bar.md`` is served at ``<site>/foo/bar/`` and ``docs/foo/index.md`` at ``<site>/foo/``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

from rdflib import URIRef

#: Upstream's ``site_url``.
SITE_URL = "https://minbzk.github.io/Algoritmekader/"
#: Upstream's ``docs_dir`` (MkDocs' default), relative to the content folder.
DOCS_DIR = "docs"


def website_page(path: str) -> URIRef:
    """The website address of the document at ``path`` (relative to the content folder, POSIX
    style, as :attr:`kg.document.Document.path`)."""
    relative = PurePosixPath(path)
    if relative.parts[:1] == (DOCS_DIR,):
        relative = relative.relative_to(DOCS_DIR)
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "index":
        parts.pop()  # MkDocs serves index.md as its folder
    address = "".join(f"{quote(part)}/" for part in parts)
    return URIRef(SITE_URL + address)
