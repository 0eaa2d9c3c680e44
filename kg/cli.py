"""The ``kg`` command: ``build``, ``validate`` and ``serve``.

Exit codes follow pySHACL's CLI: 0 all is well, 1 the content has errors (or violations),
2 the command itself failed (bad arguments, unreadable folder, crash).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from kg.config import Settings, SettingsError, load_settings
from kg.corpus import ContentFolderError, load_corpus
from kg.diagnostic import Diagnostic, Severity, count_by_severity, format_diagnostics
from kg.graph import build_graph
from kg.publication import write_publication

if TYPE_CHECKING:
    from kg.validation import Finding, ValidationResult

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kg", description="Algoritmekader knowledge graph: build, validate, serve."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build the graph and write the dumps")
    _content_flag(build)
    build.add_argument("--out", type=Path, help="publication folder (default: dist/; KG_DIST)")
    build.add_argument(
        "--strict", action="store_true", default=None, help="treat warnings as errors"
    )
    build.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        default=None,
        help="skip SHACL validation (no validation report is published)",
    )

    check = commands.add_parser("validate", help="check the content against the SHACL shapes")
    _content_flag(check)
    check.add_argument(
        "--strict", action="store_true", default=None, help="treat warnings as errors"
    )

    serve = commands.add_parser("serve", help="serve SPARQL, dumps and URN pages over HTTP")
    source = serve.add_mutually_exclusive_group()
    _content_flag(source)
    source.add_argument(
        "--dist", dest="out", type=Path, help="serve this publication folder as it is (KG_DIST)"
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; KG_HOST)")
    serve.add_argument("--port", type=int, help="port (default 5000; KG_PORT)")
    serve.add_argument("--workers", type=int, help="gunicorn worker processes (KG_WORKERS)")
    serve.add_argument(
        "--query-timeout",
        type=float,
        help="seconds before a SPARQL query is stopped (KG_QUERY_TIMEOUT)",
    )
    serve.add_argument(
        "--max-rows", type=int, help="result rows per answer at most (default 10000; KG_MAX_ROWS)"
    )
    return parser


def _content_flag(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    parser.add_argument(
        "--content",
        type=Path,
        help="content folder in the upstream layout, with docs/ (default: content/; KG_CONTENT)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    flags = {key: value for key, value in vars(args).items() if key != "command"}
    try:
        settings = load_settings(flags)
    except SettingsError as error:
        print(f"kg: {error}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if args.command == "build":
            return run_build(settings, sys.stdout, sys.stderr)
        if args.command == "validate":
            return run_validate(settings, sys.stdout, sys.stderr)
        if args.command == "serve":
            from server.runner import run_server  # the server is optional for building

            return run_server(
                settings, serve_existing=args.content is None and args.out is not None
            )
    except ContentFolderError as error:
        print(f"kg: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("kg: interrupted; nothing was published", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


def run_build(settings: Settings, out: TextIO, err: TextIO) -> int:
    started = time.perf_counter()
    corpus = load_corpus(settings.content)
    build = build_graph(corpus)
    diagnostics = [*corpus.diagnostics, *build.diagnostics]
    for line in format_diagnostics(diagnostics):
        print(line, file=err)
    # SHACL violations do not fail a build (only unreadable content does), except with --strict:
    # they are published in validation.ttl/.json, and `kg validate` is the gate that fails.
    shacl = None
    if settings.validate:
        from kg.validation import validate  # pySHACL is a heavy import: only when used

        shacl = validate(build.graph, build.sourcemap)
    publication = write_publication(
        settings.out,
        corpus,
        build,
        extra=shacl.files() if shacl else None,
        summary=(lambda m: {**m, "validation": shacl.counts()}) if shacl else None,
    )
    counts = count_by_severity(diagnostics)
    elapsed = time.perf_counter() - started
    documents = ", ".join(f"{n} {kind}" for kind, n in publication.manifest["documents"].items())
    print(f"documents: {documents}; {len(corpus.terms)} glossary terms", file=out)
    print(f"triples: {len(build)}", file=out)
    if corpus.rejected:
        print(
            f"left out ({len(corpus.rejected)} files with errors): " + ", ".join(corpus.rejected),
            file=out,
        )
    print(
        f"errors: {counts[Severity.ERROR]}, warnings: {counts[Severity.WARNING]}, "
        f"info: {counts[Severity.INFO]}",
        file=out,
    )
    if shacl is not None:
        print(f"shacl: {_shacl_summary(shacl)} (listed by kg validate)", file=out)
    print(f"published to {publication.path} in {elapsed:.2f} s", file=out)
    failing = counts[Severity.ERROR] + (counts[Severity.WARNING] if settings.strict else 0)
    if shacl is not None and settings.strict:
        failing += shacl.counts()["violation"] + shacl.counts()["warning"]
    return EXIT_INVALID if failing else EXIT_OK


def run_validate(settings: Settings, out: TextIO, err: TextIO) -> int:
    """Content problems and SHACL findings, sorted by file and line, on ``out``; exit 1 when
    there is a content error or a violation (with --strict: any warning too)."""
    corpus = load_corpus(settings.content)
    build = build_graph(corpus)
    from kg.validation import validate  # pySHACL is a heavy import: only when used

    try:
        shacl = validate(build.graph, build.sourcemap)
    except Exception as error:  # a broken shapes file or a pySHACL failure: the command failed
        print(f"kg: validation failed: {error}", file=err)
        return EXIT_ERROR
    problems: list[Diagnostic | Finding] = [*corpus.diagnostics, *build.diagnostics]
    for problem in sorted([*problems, *shacl.findings], key=lambda p: (p.path, p.line)):
        print(problem.format(), file=out)
    content = count_by_severity([*corpus.diagnostics, *build.diagnostics])
    print(
        f"content: {content[Severity.ERROR]} errors, {content[Severity.WARNING]} warnings; "
        f"shacl: {_shacl_summary(shacl)}",
        file=err,
    )
    counts = shacl.counts()
    failing = content[Severity.ERROR] + counts["violation"]
    if settings.strict:
        failing += content[Severity.WARNING] + counts["warning"]
    return EXIT_INVALID if failing else EXIT_OK


def _shacl_summary(result: ValidationResult) -> str:
    counts = result.counts()
    verdict = "conforms" if result.conforms else "does not conform"
    return (
        f"{verdict}: {counts['violation']} violations, {counts['warning']} warnings, "
        f"{counts['info']} info"
    )


if __name__ == "__main__":
    raise SystemExit(main())
