"""Where each node and each fact of the graph comes from: file and line."""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib.term import Node


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

    def locate(self, subject: Node, predicate: Node, obj: Node) -> Location | None:
        """Where a fact comes from, else where its subject is defined."""
        return self.facts.get((subject, predicate, obj)) or self.resources.get(str(subject))

    def to_json(self) -> dict[str, object]:
        return {
            "resources": {s: [loc.path, loc.line] for s, loc in sorted(self.resources.items())},
            "facts": sorted(
                [str(s), str(p), o.n3(), loc.path, loc.line]
                for (s, p, o), loc in self.facts.items()
            ),
        }
