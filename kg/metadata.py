"""Front matter with line numbers, read in bounded time and memory.

python-frontmatter finds the ``---`` fences (its YAML handler's boundary); the YAML inside is
composed with PyYAML's safe loader so that every key and list item keeps its line. Scalars keep
the text as written: ``ARK: 2.20`` stays ``"2.20"`` (a float would lose the zero); only
booleans and nulls are converted.

Front matter is content anyone can change upstream, so it is read within limits, per file:

* at most :data:`MAX_VALUES` (10,000) values: keys, scalars, lists and mappings, and every
  alias counted again as all the values it stands for. A few hundred bytes of nested aliases
  ("billion laughs") stand for 10⁹ values; they are stopped at the 10,001st, in milliseconds.
* at most :data:`MAX_DEPTH` (100) levels of lists and mappings, aliases followed (a recursive
  alias ``&a [*a]`` is infinitely deep). libyaml, the pure-Python parser and the walk below
  stay far from their own limits (libyaml's 1000, Python's recursion limit).

Upstream's largest front matter has 87 values, 2 levels deep. The YAML is first parsed as an
event stream (iterative in libyaml and in PyYAML), which checks the syntax and the limits
before anything is composed; the composed graph is then walked with the budget, so an alias is
never expanded past it. Beyond a limit, :class:`MatterError` at the line where it was crossed.
The file size is bounded before this by :mod:`kg.files`.

A key written twice (``hide:`` twice) is kept as written (both entries; :meth:`Matter.get`
gives the first) and listed in :attr:`Matter.duplicates`, for the caller to warn about.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from frontmatter.default_handlers import YAMLHandler

YamlValue = str | bool | None | list["Located"] | dict[str, "Located"]


@dataclass(frozen=True)
class Located:
    """A front-matter value and the line (1-based, in the file) it starts on."""

    value: YamlValue
    line: int

    def plain(self) -> object:
        """The value without line numbers."""
        if isinstance(self.value, list):
            return [item.plain() for item in self.value]
        if isinstance(self.value, dict):
            return {key: item.plain() for key, item in self.value.items()}
        return self.value


@dataclass(frozen=True)
class Entry:
    """One top-level front-matter key."""

    key: str
    line: int
    value: Located


@dataclass(frozen=True)
class Duplicate:
    """A key written again in the same mapping: on ``line``, first on ``first``."""

    key: str
    line: int
    first: int


@dataclass(frozen=True)
class Matter:
    """A file split into front matter (entries in file order) and body."""

    entries: tuple[Entry, ...]
    body: str
    #: Line of the file on which the body starts.
    body_line: int
    duplicates: tuple[Duplicate, ...] = ()

    def get(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None


class MatterError(ValueError):
    """The front matter cannot be read; ``line`` is where in the file."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


#: Values (keys, scalars, lists, mappings; aliases counted as what they stand for) per file.
MAX_VALUES = 10_000
#: Levels of lists and mappings (the top-level mapping is level 1), aliases followed.
MAX_DEPTH = 100

_BOUNDARY = YAMLHandler.FM_BOUNDARY
#: libyaml when PyYAML was built with it (several times faster), else the pure-Python parser.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def split_matter(text: str) -> Matter:
    """Split ``text`` into front matter and body; raise MatterError when the YAML is broken."""
    lines = text.splitlines(keepends=True)
    if not lines or not _BOUNDARY.match(lines[0]):
        return Matter((), text, 1)
    for index in range(1, len(lines)):
        if _BOUNDARY.match(lines[index]):
            break
    else:
        raise MatterError("front matter opened with '---' is never closed", 1)
    yaml_text = "".join(lines[1:index])
    body = "".join(lines[index + 1 :])
    walk = _Walk(first_line=2)
    entries = walk.entries(yaml_text)
    # A mapping reached through several aliases notes its duplicates once.
    return Matter(entries, body, index + 2, tuple(dict.fromkeys(walk.duplicates)))


def read_entries(text: str, first_line: int = 1) -> tuple[Entry, ...]:
    """A YAML mapping (``text``, its first line numbered ``first_line``) read into located
    :class:`Entry` values within the same bounds as front matter; :class:`MatterError` else."""
    return _Walk(first_line).entries(text)


class _Walk:
    """One front matter read into :class:`Entry` values, with the budget of values it has
    left (counted down at every value visited, an alias's values at each of its uses)."""

    def __init__(self, first_line: int) -> None:
        self.first_line = first_line
        self.budget = MAX_VALUES
        self.duplicates: list[Duplicate] = []

    def entries(self, text: str) -> tuple[Entry, ...]:
        node = self.compose(text)
        if node is None:
            return ()
        if not isinstance(node, yaml.MappingNode):
            raise MatterError("front matter is not a mapping of keys to values", self.first_line)
        return tuple(
            Entry(key, self.line(key_node), self.located(value_node, 2))
            for key, key_node, value_node in self.pairs(node)
        )

    def compose(self, text: str) -> yaml.Node | None:
        """The node graph of ``text``, after the event stream has been checked against the
        limits (so composing is bounded too); syntax errors as :class:`MatterError`."""
        try:
            self.check_events(text)
            return yaml.compose(text, Loader=_LOADER)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = self.first_line + (mark.line if mark else 0)
            problem = error.problem or str(error)
            raise MatterError(f"malformed YAML front matter: {problem}", line) from None
        except yaml.reader.ReaderError as error:
            raise self.bad_character(text, error) from None

    def check_events(self, text: str) -> None:
        depth = values = 0
        for event in yaml.parse(text, Loader=_LOADER):
            line = self.first_line + (event.start_mark.line if event.start_mark else 0)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise self.too_deep(line)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                values += 1
                if values > MAX_VALUES:
                    raise self.too_many(line)

    def located(self, node: yaml.Node, depth: int) -> Located:
        self.spend(node)
        line = self.line(node)
        if isinstance(node, yaml.SequenceNode | yaml.MappingNode) and depth > MAX_DEPTH:
            raise self.too_deep(line)
        if isinstance(node, yaml.SequenceNode):
            return Located([self.located(item, depth + 1) for item in node.value], line)
        if isinstance(node, yaml.MappingNode):
            pairs = self.pairs(node)
            return Located({key: self.located(v, depth + 1) for key, _, v in pairs}, line)
        scalar = str(node.value)
        if node.tag == "tag:yaml.org,2002:null":
            return Located(None, line)
        if node.tag == "tag:yaml.org,2002:bool":
            return Located(scalar.lower() in {"true", "yes", "on", "y"}, line)
        return Located(scalar, line)

    def pairs(self, node: yaml.MappingNode) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """The keys (text) and values of a mapping; a key written twice is noted."""
        first: dict[str, int] = {}
        pairs: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            self.spend(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                raise MatterError(
                    "a front-matter key must be text, not a list or mapping", self.line(key_node)
                )
            key = str(key_node.value)
            line = self.line(key_node)
            if key in first:
                self.duplicates.append(Duplicate(key, line, first[key]))
            first.setdefault(key, line)
            pairs.append((key, key_node, value_node))
        return pairs

    def bad_character(self, text: str, error: yaml.reader.ReaderError) -> MatterError:
        """A character YAML does not allow (a control character): reported on the line of its
        first occurrence, which is the one the reader stopped at."""
        character = error.character if isinstance(error.character, int) else None
        at = text.find(chr(character)) if character is not None else -1
        what = f"character #x{character:04x}" if character is not None else "a character"
        return MatterError(
            f"malformed YAML front matter: {what} is not allowed in YAML",
            self.first_line + (text.count("\n", 0, at) if at >= 0 else 0),
        )

    def spend(self, node: yaml.Node) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self.too_many(self.line(node))

    def line(self, node: yaml.Node) -> int:
        return self.first_line + node.start_mark.line

    def too_many(self, line: int) -> MatterError:
        return MatterError(
            f"front matter has more than {MAX_VALUES:,} values (aliases counted as the values "
            "they stand for); not read",
            line,
        )

    def too_deep(self, line: int) -> MatterError:
        return MatterError(
            f"front matter is nested more than {MAX_DEPTH} levels deep (aliases followed); "
            "not read",
            line,
        )
