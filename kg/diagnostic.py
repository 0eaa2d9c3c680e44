"""Diagnostics: content problems reported compiler-style as ``path:line: severity: message``."""

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
    """One problem in the content, located at a file and line (line 0: the file as a whole)."""

    path: str
    line: int
    severity: Severity
    message: str
    code: str = ""

    def format(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        tag = f" [{self.code}]" if self.code else ""
        return f"{where}: {self.severity.label}: {self.message}{tag}"


def format_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[str]:
    """Sorted by file and line, one line each."""
    return [d.format() for d in sorted(diagnostics)]


def count_by_severity(diagnostics: Iterable[Diagnostic]) -> dict[Severity, int]:
    counts = dict.fromkeys(Severity, 0)
    for diagnostic in diagnostics:
        counts[diagnostic.severity] += 1
    return counts
