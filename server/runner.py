"""``kg serve``: build (unless told to serve an existing publication), then run gunicorn.

The server adds this command to ``kg`` itself: :data:`COMMAND` is registered in the
entry-point group ``algoritmekader_kg.commands`` (``pyproject.toml``) and found by ``kg.cli``,
so the layers stay one-way (the server imports ``kg``, never the reverse). ``kg`` loads this
module only when ``serve`` is asked for (or for the help), so Flask and gunicorn cost a build
nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from kg.config import Settings
from kg.manifest import MANIFEST
from server import create_app

if TYPE_CHECKING:
    from kg.cli import Builder, Command

EXIT_ERROR = 2


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
        # A longer request line gets gunicorn's own 414; a header field over 8190 bytes, or more
        # than 100 of them, its 431 (server.http_policy refuses the rest of what is odd).
        self.cfg.set("limit_request_line", 8190)
        self.cfg.set("limit_request_field_size", 8190)
        self.cfg.set("limit_request_fields", 100)
        # Preloaded once; each worker then takes up a newer snapshot by itself (at its first
        # request, and when ``dist`` moves: server.services.dataset), so SIGHUP's new workers
        # serve the newest publication too.
        self.cfg.set("preload_app", True)

    def load(self) -> Any:
        return create_app(self.settings)


class Serve:
    """``kg serve [--content DIR | --dist DIR] [--host H] [--port P] [--workers N]
    [--query-timeout S] [--max-rows N]``: each flag sets the setting of its name."""

    help = "serve SPARQL, dumps and URN pages over HTTP"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--content",
            type=Path,
            help="content folder to build and serve (default: content/; KG_CONTENT)",
        )
        source.add_argument(
            "--dist", dest="out", type=Path, help="serve this publication folder as it is (KG_DIST)"
        )
        parser.add_argument("--host", help="address to listen on (default 127.0.0.1; KG_HOST)")
        parser.add_argument("--port", type=int, help="port (default 5000; KG_PORT)")
        parser.add_argument("--workers", type=int, help="gunicorn worker processes (KG_WORKERS)")
        parser.add_argument(
            "--query-timeout",
            type=float,
            help="seconds before a SPARQL query is stopped (KG_QUERY_TIMEOUT)",
        )
        parser.add_argument(
            "--max-rows",
            type=int,
            help="result rows per answer at most (default 10000; KG_MAX_ROWS)",
        )

    def run(self, settings: Settings, args: argparse.Namespace, build: Builder) -> int:
        return run_server(
            settings, build, serve_existing=args.content is None and args.out is not None
        )


def run_server(settings: Settings, build: Builder, serve_existing: bool) -> int:
    if not serve_existing:
        status = build(settings)
        if status == EXIT_ERROR:
            return status
    if not (settings.out / MANIFEST.name).is_file():
        print(f"kg: {settings.out}: no publication here (run 'kg build' first)", file=sys.stderr)
        return EXIT_ERROR
    print(f"serving {settings.out} on http://{settings.host}:{settings.port}/", flush=True)
    _Gunicorn(settings).run()
    return 0


COMMAND: Command = Serve()
