"""Front matter with line numbers.

python-frontmatter finds the ``---`` fences (its YAML handler's boundary); the YAML inside is
composed with PyYAML's safe loader so that every key and list item keeps its line. Scalars keep
the text as written: ``ARK: 2.20`` stays ``"2.20"`` (a float would lose the zero); only
booleans and nulls are converted.
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
class Matter:
    """A file split into front matter (entries in file order) and body."""

    entries: tuple[Entry, ...]
    body: str
    #: Line of the file on which the body starts.
    body_line: int

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
    entries = _parse_yaml(yaml_text, first_line=2)
    return Matter(entries, body, index + 2)


def _parse_yaml(text: str, first_line: int) -> tuple[Entry, ...]:
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = first_line + (mark.line if mark else 0)
        problem = error.problem or str(error)
        raise MatterError(f"malformed YAML front matter: {problem}", line) from None
    if node is None:
        return ()
    if not isinstance(node, yaml.MappingNode):
        raise MatterError("front matter is not a mapping of keys to values", first_line)
    entries = []
    for key_node, value_node in node.value:
        key = str(key_node.value)
        entries.append(
            Entry(key, first_line + key_node.start_mark.line, _located(value_node, first_line))
        )
    return tuple(entries)


def _located(node: yaml.Node, first_line: int) -> Located:
    line = first_line + node.start_mark.line
    if isinstance(node, yaml.SequenceNode):
        return Located([_located(item, first_line) for item in node.value], line)
    if isinstance(node, yaml.MappingNode):
        return Located({str(k.value): _located(v, first_line) for k, v in node.value}, line)
    scalar = str(node.value)
    if node.tag == "tag:yaml.org,2002:null":
        return Located(None, line)
    if node.tag == "tag:yaml.org,2002:bool":
        return Located(scalar.lower() in {"true", "yes", "on", "y"}, line)
    return Located(scalar, line)
