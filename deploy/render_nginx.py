"""Render deploy/nginx.conf.template into an nginx configuration (printed, or written).

Why a script and not sed: the upstream list is one line per web node and the paths are made
absolute; tests/test_nginx.py and bench/dumps.py render it the same way.

Usage: python deploy/render_nginx.py --dist DIR --listen ADDR --upstream HOST:PORT
       [--upstream HOST:PORT …] --state DIR [--user NAME] [--out FILE]
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("nginx.conf.template")
PLACEHOLDERS = ("@DIST@", "@LISTEN@", "@UPSTREAMS@", "@STATE@", "@USER@")


class RenderError(ValueError):
    pass


def render(
    dist: Path, listen: str, upstreams: Sequence[str], state: Path, user: str | None = None
) -> str:
    """The configuration: ``dist`` served, the rest proxied to ``upstreams``."""
    if not upstreams:
        raise RenderError("at least one --upstream HOST:PORT")
    text = TEMPLATE.read_text(encoding="utf-8")
    values = {
        "@DIST@": str(Path(dist).absolute()),
        "@LISTEN@": listen,
        "@UPSTREAMS@": "\n        ".join(f"server {address};" for address in upstreams),
        "@STATE@": str(Path(state).absolute()),
        "@USER@": user or getpass.getuser(),
    }
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, values[placeholder])
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, required=True, help="the publication (dist link)")
    parser.add_argument("--listen", required=True, help="address:port nginx listens on")
    parser.add_argument("--upstream", action="append", default=[], help="a web node HOST:PORT")
    parser.add_argument("--state", type=Path, required=True, help="pid, logs, temporary files")
    parser.add_argument("--user", help="user of the workers (default: the current user)")
    parser.add_argument("--out", type=Path, help="write here (default: standard output)")
    args = parser.parse_args(argv)
    try:
        text = render(args.dist, args.listen, args.upstream, args.state, args.user)
    except RenderError as error:
        print(f"render_nginx: {error}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
