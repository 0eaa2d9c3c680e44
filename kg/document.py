"""Documents: one Markdown file of the content: front matter, body, and its ``##`` sections.

The body is parsed once, by :mod:`kg.render` (the source's own Markdown dialect): the level-2
headings and the links of a document are those of its rendered HTML. The source map still
needs lines, so each heading the render found is looked up in the source (the first line from
the previous heading on that renders, on its own, to that heading), and each link at the first
line of its section that holds its address. A section's Markdown is the source between its
heading line and the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import unquote

from rdflib import URIRef

from kg.diagnostic import Diagnostic, Severity
from kg.htmlpolicy import sanitize
from kg.identifier import URN_PATTERNS, mint_urn, slugify
from kg.kind import PAGINA, Placement
from kg.metadata import Matter, MatterError, split_matter

if TYPE_CHECKING:  # Python-Markdown is imported when a file is parsed, not when a parse is read
    import markdown

    from kg.render import Heading, Rendered


@dataclass(frozen=True)
class Engines:
    """The two converters a corpus is parsed with: the full one (glossary included) for
    documents, a plain one to recognise a single heading line. The headings a line makes are
    remembered for the corpus: most documents repeat the same few (``## Toelichting``)."""

    document: markdown.Markdown
    line: markdown.Markdown
    headings: dict[str, str | None] = field(default_factory=dict)
    #: Whether a text renders to anything but comments, likewise (most introductions are the
    #: same ``<!-- tags -->``).
    texts: dict[str, bool] = field(default_factory=dict)

    def heading(self, source: str) -> str | None:
        """The text of the level-2 heading ``source`` makes on its own, else None."""
        if source not in self.headings:
            from kg.render import heading_text

            self.headings[source] = heading_text(source, self.line)
        return self.headings[source]

    def has_text(self, source: str) -> bool:
        """Whether Markdown ``source`` renders to anything but comments and white space."""
        if source not in self.texts:
            self.texts[source] = _has_text(source, self.line)
        return self.texts[source]


@dataclass(frozen=True)
class Link:
    """An ``<a href>`` of the rendered document, at the source line that holds it."""

    target: str
    line: int


@dataclass(frozen=True)
class Section:
    """A ``##`` section: its heading as rendered (text only), the anchor of its URN
    (``<document>#anchor``, also the ``id`` of its ``<h2>``), its Markdown (heading line
    excluded) and the links in it."""

    heading: str
    anchor: str
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
    #: The body rendered (raw: links as written, not yet sanitised), leading ``# Title`` removed.
    html: str
    #: ``id`` the renderer gave a section's ``<h2>`` -> the section's anchor.
    heading_ids: tuple[tuple[str, str], ...]
    #: The text of the leading ``# Title``, if there is one.
    heading_title: str | None = None
    #: The body as plain text, as a reader sees it (``kg.render.Rendered.text``): what the
    #: search index holds, worked out here once per parse (and kept by the parse cache).
    text: str = ""

    @property
    def kind_name(self) -> str:
        return self.placement.kind.name

    def title(self) -> str:
        """The front-matter title, else the first ``#`` heading, else the file name."""
        entry = self.matter.get("title")
        if entry and isinstance(entry.value.value, str) and entry.value.value.strip():
            return entry.value.value.strip()
        return self.heading_title or self.placement.name.rsplit("/", 1)[-1]


def parse_document(
    path: str, text: str, placement: Placement, engines: Engines
) -> tuple[Document | None, list[Diagnostic]]:
    """Parse one file. A document that cannot stand in the graph comes back as None with
    the errors that say why; warnings come with a document."""
    from kg.render import render

    diagnostics: list[Diagnostic] = []
    if not text.strip():
        return None, [Diagnostic(path, 0, Severity.ERROR, "empty file", "empty")]
    try:
        matter = split_matter(text)
    except MatterError as error:
        return None, [Diagnostic(path, error.line, Severity.ERROR, str(error), "yaml")]
    matter = _check_keys(path, matter, diagnostics)
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
    rendered = render(matter.body, engines.document)
    lines = matter.body.splitlines()
    starts = _locate_headings(lines, rendered.headings, engines)
    sections, intro_links = _sections(lines, matter.body_line, rendered, starts)
    first = min((line for line in starts if line is not None), default=len(lines))
    intro = "\n".join(lines[:first]).strip()
    document = Document(
        path=path,
        placement=placement,
        urn=urn,
        matter=matter,
        introduction=intro if engines.has_text(intro) else "",
        introduction_links=intro_links,
        sections=sections,
        html=rendered.html,
        heading_ids=_heading_ids(rendered.headings, starts, sections),
        heading_title=rendered.title,
        text=rendered.text,
    )
    return document, diagnostics


def _check_keys(path: str, matter: Matter, diagnostics: list[Diagnostic]) -> Matter:
    """A key written twice is a warning. A key becomes the name of a property in the graph
    (an unknown ``foo-bar`` is ``ak:fooBar``), so a key that is not a name (letters, digits,
    ``-``, ``_``, ``.`` and spaces), such as YAML's merge key ``<<`` or ``a<b>``, cannot be
    one: it is left out, with a warning, instead of breaking the publication."""
    for duplicate in matter.duplicates:
        message = (
            f"front-matter key {duplicate.key!r} written again (first on line {duplicate.first})"
        )
        diagnostics.append(
            Diagnostic(path, duplicate.line, Severity.WARNING, message, "duplicate-key")
        )
    names = [entry for entry in matter.entries if _is_name(entry.key)]
    for entry in matter.entries:
        if not _is_name(entry.key):
            message = (
                f"front-matter key {entry.key!r} is not a name (letters, digits, '-', '_', '.' "
                "and spaces); left out"
            )
            diagnostics.append(Diagnostic(path, entry.line, Severity.WARNING, message, "key-name"))
    return matter if len(names) == len(matter.entries) else replace(matter, entries=tuple(names))


def _is_name(key: str) -> bool:
    return bool(key.strip()) and all(char.isalnum() or char in "-_. " for char in key)


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


def _has_text(markdown_text: str, engine: markdown.Markdown) -> bool:
    """Whether Markdown renders to anything but comments and white space."""
    if "<!--" not in markdown_text:
        return bool(markdown_text.strip())
    from kg.render import render

    return bool(sanitize(render(markdown_text, engine).html, lambda href: href).strip())


def _locate_headings(
    lines: list[str], headings: tuple[Heading, ...], engines: Engines
) -> list[int | None]:
    """For each rendered ``<h2>``, the index of the body line that writes it at the start of a
    line (None: it is nested, in a list item or a block, and starts no section)."""
    found: list[int | None] = []
    start = 0
    for heading in headings:
        at = next(
            (
                index
                for index in range(start, len(lines))
                if (source := _heading_source(lines, index)) is not None
                and engines.heading(source) == heading.text
            ),
            None,
        )
        found.append(at)
        if at is not None:
            start = at + 1
    return found


def _heading_source(lines: list[str], index: int) -> str | None:
    """The source of a heading that may start at ``lines[index]``: an ATX line (``## …``), or
    a line underlined with ``---`` (setext); None when it cannot be one."""
    line = lines[index]
    if line.lstrip(" ").startswith("##"):
        return line
    following = lines[index + 1].strip() if index + 1 < len(lines) else ""
    if line.strip() and not line.startswith((" ", "\t")) and following and set(following) == {"-"}:
        return f"{line}\n{lines[index + 1]}"
    return None


def _heading_ids(
    headings: tuple[Heading, ...], starts: list[int | None], sections: tuple[Section, ...]
) -> tuple[tuple[str, str], ...]:
    located = [heading for heading, at in zip(headings, starts, strict=True) if at is not None]
    return tuple(
        (heading.id, section.anchor) for heading, section in zip(located, sections, strict=True)
    )


def _sections(
    lines: list[str], first_line: int, rendered: Rendered, starts: list[int | None]
) -> tuple[tuple[Section, ...], tuple[Link, ...]]:
    """The sections (with their links) and the links of the introduction."""
    located = [(h, at) for h, at in zip(rendered.headings, starts, strict=True) if at is not None]
    bounds = [at for _, at in located] + [len(lines)]
    links = _links_by_section(lines, first_line, rendered, starts, bounds)
    sections: list[Section] = []
    used: set[str] = set()
    for number, (heading, at) in enumerate(located, start=1):
        name = slugify(heading.text)
        if name in used:
            name = f"{name}-{number}"
        used.add(name)
        text = "\n".join(lines[at + 1 : bounds[number]]).strip("\n")
        sections.append(Section(heading.text, name, text, first_line + at, links[number]))
    return tuple(sections), links[0]


def _links_by_section(
    lines: list[str],
    first_line: int,
    rendered: Rendered,
    starts: list[int | None],
    bounds: list[int],
) -> list[tuple[Link, ...]]:
    """The links of the introduction ([0]) and of each section, each at its source line.
    A link belongs to the section of the last heading before it that starts one."""
    owner: list[int] = []  # rendered heading number -> section number
    current = 0
    for at in starts:
        current += at is not None
        owner.append(current)
    found: list[list[Link]] = [[] for _ in bounds]
    for anchor in rendered.anchors:
        number = owner[anchor.headings_before - 1] if anchor.headings_before else 0
        low = bounds[number - 1] if number else 0
        line = _line_of(lines, anchor.href, low, bounds[number])
        found[number].append(Link(anchor.href, first_line + line))
    return [tuple(links) for links in found]


def _line_of(lines: list[str], href: str, low: int, high: int) -> int:
    """The first line in ``lines[low:high]`` holding ``href`` (as written or decoded), else the
    first of the whole body, else ``low``: where a link's fact is located."""
    for needle in dict.fromkeys((href, unquote(href))):
        for window in ((low, high), (0, len(lines))):
            for index in range(*window):
                if needle in lines[index]:
                    return index
    return low
