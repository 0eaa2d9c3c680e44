"""Settings: command-line flag, else ``KG_*`` environment variable, else default.

Read once, here, at start-up, and passed down; nothing else reads the environment. A base
module: it imports nothing of the pipeline, so reading the settings costs no stage's imports.
Folders are relative to the working directory (``content/``, ``dist/``), as for any command
installed on the path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    content: Path = Path("content")
    out: Path = Path("dist")
    #: A folder of SHACL shapes (``*.ttl``) to validate with; None: the package's own.
    shapes: Path | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    #: Seconds a SPARQL query may run before it is stopped.
    query_timeout: float = 10.0
    #: Result rows (or triples) a query answer holds at most.
    max_rows: int = 10_000
    #: Bytes a request body (or query string) may have.
    max_request_bytes: int = 64 * 1024
    strict: bool = False
    validate: bool = True


#: setting name -> (environment variable, converter)
_ENVIRONMENT: dict[str, tuple[str, type]] = {
    "content": ("KG_CONTENT", Path),
    "out": ("KG_DIST", Path),
    "shapes": ("KG_SHAPES", Path),
    "host": ("KG_HOST", str),
    "port": ("KG_PORT", int),
    "workers": ("KG_WORKERS", int),
    "query_timeout": ("KG_QUERY_TIMEOUT", float),
    "max_rows": ("KG_MAX_ROWS", int),
    "max_request_bytes": ("KG_MAX_REQUEST_BYTES", int),
}


class SettingsError(ValueError):
    pass


def load_settings(
    flags: Mapping[str, object], environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags given (None: not given), the environment, and defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, (variable, convert) in _ENVIRONMENT.items():
        if variable in environ and environ[variable] != "":
            try:
                values[name] = convert(environ[variable])
            except ValueError as error:
                raise SettingsError(f"{variable}={environ[variable]!r}: {error}") from None
    for name, value in flags.items():
        if value is not None and name in Settings.__dataclass_fields__:
            values[name] = value
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.query_timeout <= 0 or settings.max_rows <= 0 or settings.max_request_bytes <= 0:
        raise SettingsError("query timeout, row cap and request size must be positive")
    return settings
