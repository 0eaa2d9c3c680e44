"""Markdown to HTML in the source's own dialect, and what the graph reads from that HTML.

Upstream writes for Python-Markdown with pymdown-extensions, configured in its ``mkdocs.yml``
(admonition, details, superfences with mermaid fences, tabbed, attr_list, abbr with the
glossary appended, md_in_html, footnotes, toc, tasklist, blocks.html, emoji). This module
configures the same library the same way, so a page here means what it means on the website,
and the build takes its headings and links from that one parse: pages and graph cannot
disagree. Differences, on purpose: emoji become their text (no images from elsewhere), the
glossary is given as abbreviations directly (what ``snippets: auto_append`` achieves upstream),
and toc ids are this project's slugs (section URNs use them).

:func:`render` gives the HTML (raw: the caller resolves links and sanitises with
:mod:`kg.htmlpolicy`) with the level-2 headings and the ``<a href>`` of the document, in order,
read back with the standard library's HTML parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import Element

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from pymdownx.emoji import to_alt
from pymdownx.superfences import fence_code_format

from kg.identifier import slugify

#: Extensions and their settings, as upstream's mkdocs.yml (see the module docstring).
EXTENSIONS: tuple[str, ...] = (
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
    "pymdownx.emoji",
    "pymdownx.blocks.html",
)


def _extension_configs(glossary: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    return {
        "pymdownx.tabbed": {"alternate_style": True},
        "pymdownx.superfences": {
            "custom_fences": [{"name": "mermaid", "class": "mermaid", "format": fence_code_format}]
        },
        "toc": {"toc_depth": 3, "slugify": _slug},
        "pymdownx.tasklist": {"custom_checkbox": True, "clickable_checkbox": True},
        "pymdownx.emoji": {"emoji_generator": to_alt, "emoji_index": _emoji_index},
        "abbr": {"glossary": dict(glossary)},
        "footnotes": {"BACKLINK_TITLE": "Terug naar voetnoot %d in de tekst"},
    }


def _emoji_index(options: object, md: markdown.Markdown) -> dict[str, Any]:
    """The extension's default index (EmojiOne) as its ``emojione`` gives it, but not
    deep-copied for each converter (40 ms each, a fifth of making one): it is only read."""
    from pymdownx import emoji1_db

    return {"name": emoji1_db.name, "emoji": emoji1_db.emoji, "aliases": emoji1_db.aliases}


def _slug(value: str, separator: str) -> str:
    return slugify(value)


class _DropTitle(Treeprocessor):
    """The page shows the document's title itself: a leading ``# Title`` is not repeated (its
    text is kept in ``title``, for pages without a front-matter title)."""

    title: str | None = None

    def run(self, root: Element) -> None:
        first = next(iter(root), None)
        self.title = None
        if first is not None and first.tag == "h1":
            self.title = " ".join("".join(first.itertext()).split()) or None
            root.remove(first)


class _DropTitleExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_DropTitle(md), "ak-drop-title", 1)


def markdown_engine(glossary: Mapping[str, str] | None = None) -> markdown.Markdown:
    """A converter configured as upstream's site; ``glossary``: term -> definition.
    Reusable (``render`` resets it); making one costs a few milliseconds."""
    return markdown.Markdown(
        extensions=[*EXTENSIONS, _DropTitleExtension()],
        extension_configs=_extension_configs(glossary or {}),
        output_format="html",
    )


def heading_engine() -> markdown.Markdown:
    """A converter for single heading lines: only what changes a heading's text (attribute
    lists, emoji) — several times faster than the full one, and ids are not needed."""
    return markdown.Markdown(
        extensions=["attr_list", "pymdownx.emoji", _DropTitleExtension()],
        extension_configs={
            "pymdownx.emoji": {"emoji_generator": to_alt, "emoji_index": _emoji_index}
        },
    )


@dataclass(frozen=True)
class Heading:
    """A level-2 heading of the rendered document: its text and the id toc gave it."""

    text: str
    id: str


@dataclass(frozen=True)
class Anchor:
    """An ``<a href>`` of the rendered document, after ``headings_before`` level-2 headings."""

    href: str
    headings_before: int


@dataclass(frozen=True)
class Rendered:
    html: str
    #: The text of a leading ``# Title`` (removed from ``html``).
    title: str | None
    headings: tuple[Heading, ...]
    anchors: tuple[Anchor, ...]
    #: ``html`` as a reader sees it: tags gone, entities decoded, comments (list macros) and
    #: scripts left out, a space where an element starts or ends; read in the same pass as
    #: the headings.
    text: str


def render(text: str, engine: markdown.Markdown) -> Rendered:
    engine.reset()
    html = engine.convert(text)
    reader = _Reader()
    reader.feed(html)
    reader.close()
    title = engine.treeprocessors["ak-drop-title"]
    assert isinstance(title, _DropTitle)
    return Rendered(
        html, title.title, tuple(reader.headings), tuple(reader.anchors), reader.plain_text()
    )


def heading_text(line: str, engine: markdown.Markdown) -> str | None:
    """The text of the level-2 heading ``line`` (one line, or two for a setext heading) makes
    on its own, else None."""
    rendered = render(line, engine)
    if len(rendered.headings) == 1:
        return rendered.headings[0].text
    return None


_NOT_TEXT = frozenset({"script", "style", "template"})


class _Reader(HTMLParser):
    """In one pass (the standard library's parser is a tenth of a parse): the level-2
    headings (text, id) and links, in document order, and the text (``Rendered.text``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[Heading] = []
        self.anchors: list[Anchor] = []
        self.parts: list[str] = []
        self._heading: tuple[str, list[str]] | None = None
        self._hidden = 0  # inside script or style: not text anyone reads

    def plain_text(self) -> str:
        return " ".join("".join(self.parts).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")
        if tag in _NOT_TEXT:
            self._hidden += 1
        elif tag == "h2":
            self._heading = (dict(attrs).get("id") or "", [])
        elif tag == "a" and (href := dict(attrs).get("href")) is not None:
            self.anchors.append(Anchor(href, len(self.headings)))

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(" ")
        if tag in _NOT_TEXT:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "h2" and self._heading is not None:
            heading_id, parts = self._heading
            self.headings.append(Heading(" ".join("".join(parts).split()), heading_id))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)
            if self._heading is not None:
                self._heading[1].append(data)
