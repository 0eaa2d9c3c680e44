"""Where each node and each fact of the graph comes from: file and line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import URIRef
from rdflib.term import Node
from rdflib.util import from_n3


@dataclass(frozen=True, order=True)
class Location:
    path: str
    line: int

    def format(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class SourceMap:
    """Locations of resources (subject -> where it is defined) and facts (triple -> line)."""

    resources: dict[str, Location] = field(default_factory=dict)
    #: Keyed by the terms themselves; N3 text only when written out.
    facts: dict[tuple[Node, Node, Node], Location] = field(default_factory=dict)

    def add_resource(self, subject: Node, location: Location) -> None:
        self.resources.setdefault(str(subject), location)

    def add_fact(self, subject: Node, predicate: Node, obj: Node, location: Location) -> None:
        self.facts.setdefault((subject, predicate, obj), location)

    def locate(
        self, subject: Node, predicate: Node | None = None, obj: Node | None = None
    ) -> Location | None:
        """The most precise location known: the fact, else any fact of that property,
        else the resource."""
        if predicate is not None and obj is not None:
            found = self.facts.get((subject, predicate, obj))
            if found:
                return found
        if predicate is not None:
            lines = [
                loc for (s, p, _), loc in self.facts.items() if s == subject and p == predicate
            ]
            if lines:
                return min(lines)
        return self.resources.get(str(subject))

    def to_json(self) -> dict[str, object]:
        return {
            "resources": {s: [loc.path, loc.line] for s, loc in sorted(self.resources.items())},
            "facts": sorted(
                [str(s), str(p), o.n3(), loc.path, loc.line]
                for (s, p, o), loc in self.facts.items()
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SourceMap:
        resources = data.get("resources", {})
        facts = data.get("facts", [])
        assert isinstance(resources, dict) and isinstance(facts, list)
        return cls(
            {s: Location(str(p), int(n)) for s, (p, n) in resources.items()},
            {
                (URIRef(s), URIRef(p), _term(o)): Location(path, int(line))
                for s, p, o, path, line in facts
            },
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> SourceMap:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def _term(n3: str) -> Node:
    term = from_n3(n3)
    assert isinstance(term, Node)
    return term
