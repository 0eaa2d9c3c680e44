"""The ``kg`` command: ``build``, ``validate`` and ``applicable``, and the commands other packages
contribute.

``kg`` never imports the server: the server adds ``serve`` through the entry-point group
:data:`COMMANDS_GROUP` (``pyproject.toml``), an object that adds its flags and runs with the
settings (:class:`Command`). Only the command asked for is loaded, so ``kg build`` does not pay
for Flask and gunicorn.

Exit codes follow pySHACL's CLI: 0 all is well, 1 the content has errors (or violations),
2 the command itself failed (bad arguments, unreadable folder, broken shapes, crash). A failure
is one line on stderr, ``kg: <what>``; ``kg --debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from kg import decision_command, remote
from kg.config import Settings, build_cache, load_settings
from kg.decision_tree import tree_json
from kg.diagnostic import Diagnostic, Severity, count_by_severity, format_diagnostics
from kg.manifest import BESLISHULP
from kg.pipeline import Outcome, run_pipeline, run_pipeline_with
from kg.profile import GROUPS, answer_for_store, rule_sources
from kg.publication import ExtraFiles, Publication, corpus_files, publish_files, render_files
from kg.publication import describe as describe_publication

if TYPE_CHECKING:
    from kg.validation import ValidationResult

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2
#: Entry-point group of the commands other packages add to ``kg`` (name -> :class:`Command`).
COMMANDS_GROUP = "algoritmekader_kg.commands"
BUILTIN = ("build", "validate", "applicable", "beslishulp", "diff", "push", "query")

#: ``kg build`` with these settings, printing as it does; returns its exit code.
Builder = Callable[[Settings], int]


class Command(Protocol):
    """A subcommand contributed through :data:`COMMANDS_GROUP`."""

    help: str

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's flags, each named (``dest``) as the setting it sets."""

    def run(self, settings: Settings, args: argparse.Namespace, build: Builder) -> int:
        """Run with the settings; ``build`` is ``kg build``, for a command that builds first."""


class PublishError(OSError):
    """The publication could not be written (the previous one is left as it was)."""


def contributed_commands(wanted: str | None = None) -> dict[str, Command]:
    """The contributed commands: only ``wanted`` when it is one of them, none when it is a
    built-in command, else all (for the help and for the error of an unknown command)."""
    if wanted in BUILTIN:
        return {}
    from importlib.metadata import entry_points  # only when a contributed command may be run

    entries = {e.name: e for e in entry_points(group=COMMANDS_GROUP) if e.name not in BUILTIN}
    if wanted in entries:
        entries = {wanted: entries[wanted]}
    return {name: entry.load() for name, entry in sorted(entries.items())}


def make_parser(commands: Mapping[str, Command] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kg", description="Algoritmekader knowledge graph: build, validate, serve."
    )
    parser.add_argument(
        "--debug", action="store_true", help="on a crash, print the traceback as well"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = subparsers.add_parser("build", help="build the graph and write the dumps")
    _content_flag(build)
    build.add_argument("--out", type=Path, help="publication folder (default: dist/; KG_DIST)")
    _checking_flags(build)
    build.add_argument(
        "--beslishulp",
        type=Path,
        help="folder of the AI-Act decision aid (decision-tree.yaml, …) to add (KG_BESLISHULP)",
    )
    build.add_argument(
        "--cache", type=Path, help="parse cache folder (default: <out>.cache; KG_CACHE)"
    )
    build.add_argument(
        "--no-cache",
        dest="use_cache",
        action="store_false",
        default=None,
        help="parse every file again, without reading or writing the parse cache",
    )
    build.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        default=None,
        help="skip SHACL validation (no validation report is published)",
    )

    build.add_argument(
        "--git", metavar="REPO", help="build every release of this git repository (URL or path)"
    )
    build.add_argument(
        "--refs", metavar="PATTERN", help="with --git: the tags that are releases (default: v*)"
    )
    compare = subparsers.add_parser("diff", help="what changed between two releases")
    compare.add_argument("first", metavar="A", help="a release (tag) of the publication")
    compare.add_argument("second", metavar="B", help="a later release (tag)")
    compare.add_argument("--out", type=Path, help="publication folder (default: dist/; KG_DIST)")
    compare.add_argument("--json", action="store_true", help="as JSON (default: text)")

    check = subparsers.add_parser("validate", help="check the content against the SHACL shapes")
    _content_flag(check)
    _checking_flags(check)

    applicable = subparsers.add_parser(
        "applicable", help="the vereisten that apply to an AI-Act profile, as JSON"
    )
    _content_flag(applicable)
    decision_command.configure_source(applicable)  # --dist: read a publication; --cache
    for group, _ in GROUPS:
        applicable.add_argument(
            f"--{group}",
            dest=f"profile_{group}",
            action="append",
            metavar="V",
            help=f"a value of {group} (repeatable; none: the group is open)",
        )

    decision_command.configure(subparsers.add_parser("beslishulp", help="walk the decision aid"))
    remote.configure_push(subparsers.add_parser("push", help="load the publication into a store"))
    remote.configure_query(subparsers.add_parser("query", help="run a SPARQL query file"))
    for name, command in (contributed_commands() if commands is None else commands).items():
        command.configure(subparsers.add_parser(name, help=command.help))
    return parser


def _content_flag(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    parser.add_argument(
        "--content",
        type=Path,
        help="content folder in the upstream layout, with docs/ (default: content/; KG_CONTENT)",
    )


def _checking_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict", action="store_true", default=None, help="treat warnings as errors"
    )
    parser.add_argument(
        "--shapes",
        type=Path,
        help="folder of SHACL shapes (*.ttl) to validate with (default: the package's; KG_SHAPES)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(arguments)
    except KeyboardInterrupt:
        print("kg: interrupted; nothing was published", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # every failure: one line, exit 2 (the traceback with --debug)
        if "--debug" in arguments[: _command_index(arguments)]:
            traceback.print_exc(file=sys.stderr)
        print(f"kg: {describe(error)}", file=sys.stderr)
        return EXIT_ERROR


def _dispatch(arguments: list[str]) -> int:
    index = _command_index(arguments)
    commands = contributed_commands(arguments[index] if index < len(arguments) else None)
    args = make_parser(commands).parse_args(arguments)
    flags = {key: value for key, value in vars(args).items() if key not in ("command", "debug")}
    settings = load_settings(flags)
    if args.command == "build" and settings.git is not None:
        return run_history(settings, settings.git)
    if args.command == "build":
        return run_build(settings, sys.stdout, sys.stderr)
    if args.command == "diff":
        from kg.diff import run_diff  # reads the published releases only

        return run_diff(settings.out, args.first, args.second, args.json, sys.stdout)
    if args.command == "validate":
        return run_validate(settings, sys.stdout, sys.stderr)
    if args.command == "applicable":
        return run_applicable(settings, _chosen(args), sys.stdout, args.out)
    if args.command == "beslishulp":
        return decision_command.run(settings, args, sys.stdout)
    if args.command in ("push", "query"):  # the password: from a variable --password-env names
        run = remote.run_push if args.command == "push" else remote.run_query
        return run(settings, args, os.environ, sys.stdout)
    return commands[args.command].run(
        settings, args, lambda chosen: run_build(chosen, sys.stdout, sys.stderr)
    )


def _command_index(arguments: Sequence[str]) -> int:
    """Where the command's name is: the first word that is not a flag (``kg`` takes none with
    a value)."""
    return next((i for i, word in enumerate(arguments) if not word.startswith("-")), len(arguments))


def describe(error: Exception) -> str:
    """One line for a failure: this project's errors and the system's (a folder that cannot be
    written) say what is wrong; anything else is a crash and is named by its type."""
    text = " ".join(str(error).split())
    if isinstance(error, OSError) or type(error).__module__.split(".")[0] == "kg":
        return text or type(error).__name__
    return f"{type(error).__name__}: {text} (kg --debug shows where)"


def exit_status(counted: Iterable[Diagnostic], strict: bool) -> int:
    """The one exit-code policy: 1 when ``counted`` holds an error (with ``strict``, a warning
    too), else 0. Which problems count is the command's choice."""
    worst = max((problem.severity for problem in counted), default=Severity.INFO)
    return EXIT_INVALID if worst >= (Severity.WARNING if strict else Severity.ERROR) else EXIT_OK


def run_build(settings: Settings, out: TextIO, err: TextIO) -> int:
    """Content problems on ``err``, the publication written, a summary on ``out``. SHACL
    findings are published (validation.ttl/.json) but fail a build only with --strict:
    `kg validate` is the gate that fails on them."""
    started = time.perf_counter()
    with collector_paused():
        # the pages, search index and ontology are made in a child while the triples are
        # built and written, the rest while the graph is validated in another (kg.pipeline)
        outcome, rendered = run_pipeline_with(
            replace(settings, cache=build_cache(settings)), render_files, corpus_files
        )
        for line in format_diagnostics(outcome.problems):
            print(line, file=err)
        publication = _publish(settings.out, outcome, rendered)
    _print_summary(outcome, publication, time.perf_counter() - started, out)
    counted = [*outcome.problems, *(outcome.findings if settings.strict else ())]
    return exit_status(counted, settings.strict)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a build runs: everything it makes lives until it
    ends (documents, terms, triples), and the collector's passes over those objects, which
    free nothing, cost a tenth of a build (measured: 0.27 s of the real corpus's rebuild)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_history(settings: Settings, repository: str) -> int:
    """``kg build --git``: every release built (:mod:`kg.releases`) and published; the exit
    code is ``kg build``'s for the newest release (its problems are in diagnostics.json)."""
    from kg.releases import run_history_build  # git and the history only when asked for

    try:
        published = run_history_build(settings, repository, sys.stdout, sys.stderr)
    except OSError as error:
        raise PublishError(f"cannot publish to {settings.out}: {error}") from error
    return exit_status(published.history.newest.problems, settings.strict)


def _publish(out: Path, outcome: Outcome, rendered: ExtraFiles) -> Publication:
    shacl = outcome.shacl
    files = {**rendered, **(shacl.files() if shacl is not None else {}), **_tree_files(outcome)}
    try:
        return publish_files(
            out,
            describe_publication(outcome.corpus, outcome.build),
            files,
            validation=shacl.counts() if shacl is not None else None,
        )
    except OSError as error:
        raise PublishError(f"cannot publish to {out}: {error.strerror or error}") from error


def _tree_files(outcome: Outcome) -> dict[str, bytes]:
    """``beslishulp.json`` when the build has a usable decision tree."""
    tree = outcome.beslishulp
    return {BESLISHULP.name: tree_json(tree)} if tree is not None and tree.tree else {}


def _print_summary(outcome: Outcome, publication: Publication, elapsed: float, out: TextIO) -> None:
    corpus = outcome.corpus
    documents = ", ".join(f"{n} {kind}" for kind, n in publication.manifest.documents.items())
    print(f"documents: {documents}; {len(corpus.terms)} glossary terms", file=out)
    print(f"triples: {len(outcome.build)}", file=out)
    if corpus.rejected:
        print(
            f"left out ({len(corpus.rejected)} files with errors): " + ", ".join(corpus.rejected),
            file=out,
        )
    counts = count_by_severity(outcome.problems)
    print(
        f"errors: {counts[Severity.ERROR]}, warnings: {counts[Severity.WARNING]}, "
        f"info: {counts[Severity.INFO]}",
        file=out,
    )
    if outcome.shacl is not None:
        print(f"shacl: {_shacl_summary(outcome.shacl)} (listed by kg validate)", file=out)
    print(f"published to {publication.path} in {elapsed:.2f} s", file=out)


def run_validate(settings: Settings, out: TextIO, err: TextIO) -> int:
    """Content problems and SHACL findings, sorted by file and line, on ``out``; exit 1 when
    there is a content error or a violation (with --strict: any warning too)."""
    outcome = run_pipeline(replace(settings, validate=True))
    assert outcome.shacl is not None
    for line in format_diagnostics([*outcome.problems, *outcome.findings]):
        print(line, file=out)
    content = count_by_severity(outcome.problems)
    print(
        f"content: {content[Severity.ERROR]} errors, {content[Severity.WARNING]} warnings; "
        f"shacl: {_shacl_summary(outcome.shacl)}",
        file=err,
    )
    return exit_status([*outcome.problems, *outcome.findings], settings.strict)


def _chosen(args: argparse.Namespace) -> dict[str, list[str]]:
    """The profile the flags give: group -> values (a group not given is left out)."""
    return {
        group: values for group, _ in GROUPS if (values := getattr(args, f"profile_{group}", None))
    }


def run_applicable(
    settings: Settings, chosen: Mapping[str, list[str]], out: TextIO, dist: Path | None = None
) -> int:
    """The publication ``dist`` read, or else the content built (not validated), into an
    Oxigraph store, the profile's query run on it, the answer printed as the API gives it
    (``GET /applicable?format=json``). Content errors are not printed (``kg validate`` does):
    the graph is what ``kg build`` publishes."""
    store, resources = decision_command.store_for(settings, dist)
    answer = answer_for_store(
        store, chosen, rule_sources(resources)
    )  # an unknown value: ProfileError, one line and exit 2 (main)
    json.dump(answer.to_json(), out, ensure_ascii=False, indent=2)
    print(file=out)
    return EXIT_OK


def _shacl_summary(result: ValidationResult) -> str:
    counts = result.counts()
    verdict = "conforms" if result.conforms else "does not conform"
    return (
        f"{verdict}: {counts['violation']} violations, {counts['warning']} warnings, "
        f"{counts['info']} info"
    )


if __name__ == "__main__":
    raise SystemExit(main())
