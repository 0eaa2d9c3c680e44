"""Diagnostics: every located problem, reported compiler-style as
``path:line: severity: message [code]``.

One type for everything a run can find: a content problem of the loader or the builder (code
``yaml``, ``unresolved-reference`` …) and a SHACL finding (code: the rule, ``OnderwerpValue``,
with the Dutch message, focus node, property and value the report adds). One formatter and
one count, so ``kg build`` and ``kg validate`` print, sort and count them alike. Severities
are printed in one vocabulary, ``error``/``warning``/``info``: a SHACL ``sh:Violation`` is an
``error`` here (SHACL's own words stay in the SHACL report, ``validation.json``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    """How bad a problem is; the order is used to sort and to pick exit codes."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem, located at a file and line (line 0: the file as a whole)."""

    path: str
    line: int
    severity: Severity
    message: str
    #: What found it: a loader or builder check (``yaml``), or a SHACL rule (``UniqueId``).
    code: str = ""
    #: SHACL findings only: the rule's Dutch message, the focus node, the property path and
    #: the value the result names (empty when the finding has none).
    message_nl: str = ""
    focus: str = ""
    property: str = ""
    value: str = ""

    def format(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        tag = f" [{self.code}]" if self.code else ""
        return f"{where}: {self.severity.label}: {self.message}{tag}"

    def to_json(self) -> dict[str, object]:
        """As published in ``diagnostics.json``."""
        return {
            "path": self.path,
            "line": self.line,
            "severity": self.severity.label,
            "message": self.message,
            "code": self.code,
        }


def format_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[str]:
    """Sorted by file, line, severity and message, one line each."""
    return [d.format() for d in sorted(diagnostics)]


def count_by_severity(diagnostics: Iterable[Diagnostic]) -> dict[Severity, int]:
    counts = dict.fromkeys(Severity, 0)
    for diagnostic in diagnostics:
        counts[diagnostic.severity] += 1
    return counts
