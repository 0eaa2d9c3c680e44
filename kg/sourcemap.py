"""Where each node and each fact of the graph comes from: file and line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import URIRef
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
    facts: dict[tuple[str, str, str], Location] = field(default_factory=dict)

    def add_resource(self, subject: Node, location: Location) -> None:
        self.resources.setdefault(str(subject), location)

    def add_fact(self, subject: Node, predicate: Node, obj: Node, location: Location) -> None:
        self.facts.setdefault((str(subject), str(predicate), obj.n3()), location)

    def locate(
        self, subject: Node, predicate: Node | None = None, obj: Node | None = None
    ) -> Location | None:
        """The most precise location known: the fact, else any fact of that property,
        else the resource."""
        if predicate is not None and obj is not None:
            found = self.facts.get((str(subject), str(predicate), obj.n3()))
            if found:
                return found
        if predicate is not None:
            lines = [
                loc
                for (s, p, _), loc in self.facts.items()
                if s == str(subject) and p == str(predicate)
            ]
            if lines:
                return min(lines)
        return self.resources.get(str(subject))

    def to_json(self) -> dict[str, object]:
        return {
            "resources": {s: [loc.path, loc.line] for s, loc in sorted(self.resources.items())},
            "facts": [[s, p, o, loc.path, loc.line] for (s, p, o), loc in sorted(self.facts.items())],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SourceMap:
        resources = data.get("resources", {})
        facts = data.get("facts", [])
        assert isinstance(resources, dict) and isinstance(facts, list)
        return cls(
            {s: Location(str(p), int(n)) for s, (p, n) in resources.items()},
            {(s, p, o): Location(path, int(line)) for s, p, o, path, line in facts},
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> SourceMap:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


