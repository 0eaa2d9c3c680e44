"""``kg serve``: build (unless told to serve an existing publication), then run gunicorn."""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from kg.config import Settings
from kg.publication import MANIFEST
from server import create_app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.settings.host}:{self.settings.port}")
        self.cfg.set("workers", self.settings.workers)
        # A worker is killed if a request hangs well past the query timeout.
        self.cfg.set("timeout", int(self.settings.query_timeout) + 20)
        self.cfg.set("accesslog", "-")
        # GET /sparql?query=… up to gunicorn's largest request line; longer queries are POSTed.
        self.cfg.set("limit_request_line", 8190)
        self.cfg.set("preload_app", True)

    def load(self) -> Any:
        return create_app(self.settings)


def run_server(settings: Settings, serve_existing: bool) -> int:
    if not serve_existing:
        from kg.cli import EXIT_ERROR, run_build

        status = run_build(settings, sys.stdout, sys.stderr)
        if status == EXIT_ERROR:
            return status
    if not (settings.out / MANIFEST).is_file():
        print(f"kg: {settings.out}: no publication here (run 'kg build' first)", file=sys.stderr)
        return 2
    print(f"serving {settings.out} on http://{settings.host}:{settings.port}/", flush=True)
    _Gunicorn(settings).run()
    return 0
