"""Documents: one Markdown file of the content, split into front matter and ``##`` sections."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from rdflib import URIRef

from kg.diagnostic import Diagnostic, Severity
from kg.identifier import URN_PATTERNS, mint_urn
from kg.kind import PAGINA, Placement
from kg.metadata import Matter, MatterError, split_matter

_HEADING = re.compile(r"^(#{1,2})[ \t]+(.*?)[ \t]*$")
_ATTRIBUTES = re.compile(r"\s*\{[^{}]*\}\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(?P<target>https?://[^>\s]+)>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def link_candidates(source: str, target: str) -> tuple[str, ...]:
    """The files (relative to the content folder) a relative link in ``source`` may mean:
    ``../hulpmiddelen/IAMA.md``, ``../rollen/`` (its ``index.md``) or ``jurist`` (``.md``)."""
    path = unquote(urlsplit(target).path)
    if not path:
        return ()
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
    if joined.endswith(".md"):
        return (joined,)
    return (joined, f"{joined}.md", f"{joined}/index.md")


@dataclass(frozen=True)
class Link:
    target: str
    line: int


@dataclass(frozen=True)
class Section:
    """A ``##`` section: its heading (attribute lists such as ``{ data-search-exclude }``
    removed) and its Markdown, heading line excluded."""

    heading: str
    markdown: str
    line: int
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Document:
    path: str  # relative to the content folder, POSIX style
    placement: Placement
    urn: URIRef
    matter: Matter
    #: Text before the first ``##`` (the page's ``#`` title and introduction), if any.
    introduction: str
    introduction_links: tuple[Link, ...]
    sections: tuple[Section, ...]

    @property
    def kind_name(self) -> str:
        return self.placement.kind.name

    def title(self) -> str:
        """The front-matter title, else the first ``#`` heading, else the file name."""
        entry = self.matter.get("title")
        if entry and isinstance(entry.value.value, str) and entry.value.value.strip():
            return entry.value.value.strip()
        for line in self.introduction.splitlines():
            match = _HEADING.match(line)
            if match and len(match.group(1)) == 1:
                return match.group(2)
        return self.placement.name.rsplit("/", 1)[-1]


def parse_document(
    path: str, text: str, placement: Placement
) -> tuple[Document | None, list[Diagnostic]]:
    """Parse one file. A document that cannot stand in the graph comes back as None with
    the errors that say why; warnings come with a document."""
    diagnostics: list[Diagnostic] = []
    if not text.strip():
        return None, [Diagnostic(path, 0, Severity.ERROR, "empty file", "empty")]
    try:
        matter = split_matter(text)
    except MatterError as error:
        return None, [Diagnostic(path, error.line, Severity.ERROR, str(error), "yaml")]
    title = matter.get("title")
    if title is None or not isinstance(title.value.value, str) or not title.value.value.strip():
        line = title.line if title else 1
        if placement.kind is not PAGINA:
            return None, [Diagnostic(path, line, Severity.ERROR, "document has no title", "title")]
        diagnostics.append(
            Diagnostic(
                path, line, Severity.INFO, "page has no title; using its '#' heading", "title"
            )
        )
    urn = _urn(path, matter, placement, diagnostics)
    intro, intro_links, sections = _split_sections(matter.body, matter.body_line)
    document = Document(
        path=path,
        placement=placement,
        urn=urn,
        matter=matter,
        introduction=intro,
        introduction_links=intro_links,
        sections=sections,
    )
    return document, diagnostics


def _urn(path: str, matter: Matter, placement: Placement, diagnostics: list[Diagnostic]) -> URIRef:
    minted = mint_urn(placement.kind, placement.name)
    entry = matter.get("id")
    if entry is None:
        return minted
    declared = entry.value.value
    pattern = URN_PATTERNS.get(placement.kind.name)
    if isinstance(declared, str) and pattern is not None and pattern.match(declared.strip()):
        return URIRef(declared.strip())
    diagnostics.append(
        Diagnostic(
            path,
            entry.line,
            Severity.WARNING,
            f"id {declared!r} is not a {placement.kind.name} URN; using {minted}",
            "id",
        )
    )
    return minted


def _split_sections(
    body: str, first_line: int
) -> tuple[str, tuple[Link, ...], tuple[Section, ...]]:
    lines = body.splitlines()
    starts: list[tuple[int, str]] = []
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match and len(match.group(1)) == 2:
            starts.append((index, _ATTRIBUTES.sub("", match.group(2)).strip()))
    end_of_intro = starts[0][0] if starts else len(lines)
    intro = "\n".join(lines[:end_of_intro]).strip()
    if not _COMMENT.sub("", intro).strip():
        intro = ""
    sections = []
    for number, (start, heading) in enumerate(starts):
        end = starts[number + 1][0] if number + 1 < len(starts) else len(lines)
        markdown = "\n".join(lines[start + 1 : end]).strip("\n")
        heading_line = first_line + start
        links = _links(lines[start + 1 : end], heading_line + 1)
        sections.append(Section(heading, markdown, heading_line, links))
    return intro, _links(lines[:end_of_intro], first_line), tuple(sections)


def _links(lines: list[str], first_line: int) -> tuple[Link, ...]:
    found = []
    for offset, line in enumerate(lines):
        for pattern in (_LINK, _AUTOLINK):
            for match in pattern.finditer(line):
                target = match.group("target").strip("<>")
                found.append(Link(target, first_line + offset))
    return tuple(found)
