"""An independent link oracle: every ``<a href>`` upstream's site renders is a fact of the graph.

Each document of the latest content and of every release is rendered here with Python-Markdown
and pymdown-extensions configured as upstream's ``mkdocs.yml`` (written out below, not taken
from ``kg``), and every ``<a href>`` is collected with the standard library's HTML parser. Each
link must then be in the graph:

* ``http(s):``/``mailto:``: ``rdfs:seeAlso`` or ``dcterms:source`` from the document to it;
* a relative link that MkDocs resolves to a page of the content (``.md`` links relative to the
  file, other links relative to the page's address): ``dcterms:references`` to the URN of the
  page whose source file it is (a link to the page itself is within the page);
* anything else (a missing page, a download, another scheme): a problem reported at the
  document's ``path:line``, the line holding the link.

Fragment-only links (``#toelichting``, footnote references) stay within the page and are
counted apart. The glossary (``snippets: auto_append``) is left out: abbreviations make no links.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import frontmatter
import markdown
import pytest
from pymdownx.superfences import fence_code_format
from rdflib import URIRef
from rdflib.namespace import DCTERMS, RDFS

from kg.built import Build
from kg.corpus import Corpus, load_corpus
from kg.graph import build_graph
from kg.namespace import AK

pytestmark = [pytest.mark.corpus]

#: upstream mkdocs.yml, markdown_extensions (emoji left out: its index is mkdocs-material's,
#: and an emoji is never a link).
UPSTREAM_EXTENSIONS = [
    "pymdownx.tabbed",
    "pymdownx.superfences",
    "pymdownx.details",
    "admonition",
    "attr_list",
    "abbr",
    "md_in_html",
    "footnotes",
    "toc",
    "pymdownx.tasklist",
    "pymdownx.blocks.html",
]
UPSTREAM_CONFIG = {
    "pymdownx.tabbed": {"alternate_style": True},
    "pymdownx.superfences": {
        "custom_fences": [{"name": "mermaid", "class": "mermaid", "format": fence_code_format}]
    },
    "toc": {"toc_depth": 3},
    "pymdownx.tasklist": {"custom_checkbox": True, "clickable_checkbox": True},
}


class Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href is not None:
            self.hrefs.append(href)


def rendered_hrefs(
    engine: markdown.Markdown, file: Path, seen: dict[str, list[str]] | None = None
) -> list[str]:
    """The ``href`` of every ``<a>`` the page renders to; with ``seen`` (text -> hrefs), a
    text met before (the same file in another release) is not rendered again."""
    text = file.read_text(encoding="utf-8")
    if seen is not None and text in seen:
        return seen[text]
    engine.reset()
    parser = Hrefs()
    parser.feed(engine.convert(frontmatter.loads(text).content))
    if seen is not None:
        seen[text] = parser.hrefs
    return parser.hrefs


def mkdocs_targets(source: str, path: str) -> list[str]:
    """The files MkDocs (use_directory_urls) takes a relative link in ``source`` to mean. A
    path from ``/`` is taken from the content's root (upstream's site lives one folder deep, so
    the author meant that root, not the host's)."""
    folder, name = posixpath.split(source)
    if path.startswith("/"):
        joined = posixpath.normpath(posixpath.join("docs", path.lstrip("/")))
    elif path.endswith(".md"):
        return [posixpath.normpath(posixpath.join(folder, path))]
    else:
        page = folder if name == "index.md" else posixpath.join(folder, name[:-3])
        joined = posixpath.normpath(posixpath.join(page, path))
    if joined.endswith(".md"):
        return [joined]
    return [joined + ".md", joined + "/index.md", joined]


class Oracle:
    """What the graph says about one built corpus, read for the checks."""

    def __init__(self, root: Path, corpus: Corpus, build: Build) -> None:
        self.root = root
        self.by_file = {
            str(o): s for s, o in build.graph.subject_objects(AK.bronbestand) if "#" not in s
        }
        self.facts = set(build.graph)
        self.graph = build.graph
        self.problems = [*corpus.diagnostics, *build.diagnostics]

    def reported(self, path: str, href: str) -> bool:
        lines = (self.root / path).read_text(encoding="utf-8").splitlines()
        return any(
            p.path == path and href in p.message and 0 < p.line <= len(lines) for p in self.problems
        )

    def check(self, path: str, href: str) -> str:
        """The kind of link, or ``missing: …`` when the graph does not have it."""
        urn = self.by_file[path]
        parts = urlsplit(href)
        if parts.scheme in ("http", "https", "mailto"):
            wanted = unquote(href.strip())
            found = any(
                (urn, p, o) in self.facts and unquote(str(o)) == wanted
                for p in (RDFS.seeAlso, DCTERMS.source)
                for o in {URIRef(href.strip()), *self._objects(urn)}
            )
            return "external" if found else f"missing: {path}: {href}"
        if not parts.scheme and not parts.netloc and not parts.path:
            return "in-page"
        if not parts.scheme and not parts.netloc:
            pages = [t for t in mkdocs_targets(path, unquote(parts.path)) if t in self.by_file]
            if pages and self.by_file[pages[0]] == urn:
                return "in-page"
            if pages and (urn, DCTERMS.references, self.by_file[pages[0]]) in self.facts:
                return "internal"
        return "reported" if self.reported(path, href) else f"missing: {path}: {href}"

    def _objects(self, urn: URIRef) -> set[URIRef]:
        """The IRIs ``urn`` links to as a source or see-also (the graph's own index)."""
        return {
            o
            for p in (RDFS.seeAlso, DCTERMS.source)
            for o in self.graph.objects(urn, p)
            if isinstance(o, URIRef)
        }


def check_corpus(
    root: Path, corpus: Corpus, build: Build, seen: dict[str, list[str]] | None = None
) -> Counter[str]:
    engine = markdown.Markdown(extensions=UPSTREAM_EXTENSIONS, extension_configs=UPSTREAM_CONFIG)
    oracle = Oracle(root, corpus, build)
    counts: Counter[str] = Counter()
    for document in corpus.documents:
        for href in rendered_hrefs(engine, root / document.path, seen):
            counts[oracle.check(document.path, href)] += 1
    return counts


def missing(counts: Counter[str]) -> list[str]:
    return sorted(key for key in counts if key.startswith("missing"))


def test_every_link_of_the_latest_content_is_in_the_graph(real_corpus: Path) -> None:
    corpus = load_corpus(real_corpus)
    counts = check_corpus(real_corpus, corpus, build_graph(corpus))
    assert missing(counts) == []
    # what the cases of the issue need: raw-HTML links (over-de-levenscyclus: 9 phases), links
    # with spaces inside the parentheses, URLs with parentheses
    assert counts["internal"] > 700 and counts["external"] > 900, counts
    lifecycle = Oracle(real_corpus, corpus, build_graph(corpus))
    urn = lifecycle.by_file["docs/levenscyclus/over-de-levenscyclus.md"]
    phases = {o for s, p, o in lifecycle.facts if s == urn and p == DCTERMS.references}
    assert len({o for o in phases if str(o).startswith("urn:nl:ak:lcf:")}) >= 8


@pytest.mark.slow
def test_every_link_of_every_release_is_in_the_graph(
    releases: dict[str, Path], built: dict[str, tuple[Corpus, Build]]
) -> None:
    total: Counter[str] = Counter()
    seen: dict[str, list[str]] = {}  # a file unchanged since an earlier release: its hrefs
    for tag, (corpus, build) in built.items():
        counts = check_corpus(releases[tag], corpus, build, seen)
        assert missing(counts) == [], tag
        total.update(counts)
    assert total["internal"] > 5_000 and total["external"] > 5_000, total
