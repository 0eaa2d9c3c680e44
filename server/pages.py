"""The home page (what this is, counts, downloads, example queries) and the URN lookup box."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from kg.namespace import URN_PREFIX
from server.dataset import current_dataset
from server.index import SiteIndex, current_index, install_index
from server.resource import not_found, resource_url

blueprint = Blueprint("pages", __name__)

AK = "urn:nl:ak:def:"

#: The other parts of the site, by path (served by other blueprints).
SPARQL = "/sparql"
DUMPS: tuple[tuple[str, str], ...] = (
    ("/dump.ttl", "Turtle"),
    ("/dump.nt", "N-Triples"),
    ("/dump.jsonld", "JSON-LD"),
)
VOID = "/.well-known/void"
EXAMPLE_URN = "urn:nl:ak:mtr:org-02"
HEALTH = "/health"


@dataclass(frozen=True)
class KindCount:
    label: str
    count: int
    cls: str
    #: (title, page URL) of every member, for the table of contents.
    members: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Example:
    title: str
    query: str

    @property
    def url(self) -> str:
        return f"{SPARQL}?{urlencode({'query': self.query})}"


#: Manifest document kinds (and glossary terms): Dutch plural, class.
_KINDS: tuple[tuple[str, str, str], ...] = (
    ("vereiste", "Vereisten", f"{AK}Vereiste"),
    ("maatregel", "Maatregelen", f"{AK}Maatregel"),
    ("hulpmiddel", "Hulpmiddelen", f"{AK}Hulpmiddel"),
    ("onderwerp", "Onderwerpen", f"{AK}Onderwerp"),
    ("rol", "Rollen", f"{AK}Rol"),
    ("levenscyclusfase", "Levenscyclusfasen", f"{AK}Levenscyclusfase"),
    ("pagina", "Overige pagina's", f"{AK}Pagina"),
    ("glossary_terms", "Begrippen", f"{AK}Begrip"),
)
_PREFIXES = (
    "PREFIX ak: <urn:nl:ak:def:>\n"
    "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
    "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
)
EXAMPLES: tuple[Example, ...] = (
    Example(
        "Aantal resources per klasse",
        "SELECT ?klasse (COUNT(?s) AS ?aantal)\nWHERE { ?s a ?klasse }\n"
        "GROUP BY ?klasse ORDER BY DESC(?aantal)",
    ),
    Example(
        "Maatregelen en de vereisten die ze ondersteunen",
        _PREFIXES + "SELECT ?maatregel ?titel ?vereiste ?vereisteTitel WHERE {\n"
        "  ?maatregel a ak:Maatregel ; dcterms:title ?titel ; ak:vereiste ?vereiste .\n"
        "  OPTIONAL { ?vereiste dcterms:title ?vereisteTitel }\n} ORDER BY ?maatregel",
    ),
    Example(
        "Vereisten met het aantal maatregelen",
        _PREFIXES + "SELECT ?vereiste ?titel (COUNT(?maatregel) AS ?maatregelen) WHERE {\n"
        "  ?vereiste a ak:Vereiste ; dcterms:title ?titel .\n"
        "  OPTIONAL { ?maatregel ak:vereiste ?vereiste }\n"
        "} GROUP BY ?vereiste ?titel ORDER BY DESC(?maatregelen)",
    ),
    Example(
        "Alles over een onderwerp (governance)",
        _PREFIXES + "SELECT ?document ?titel WHERE {\n"
        "  ?document ak:onderwerp <urn:nl:ak:ond:governance> ; dcterms:title ?titel .\n"
        "} ORDER BY ?document",
    ),
    Example(
        "Begrippen met hun definitie",
        _PREFIXES + "SELECT ?begrip ?term ?definitie WHERE {\n"
        "  ?begrip a ak:Begrip ; skos:prefLabel ?term .\n"
        "  OPTIONAL { ?begrip skos:definition ?definitie }\n} ORDER BY LCASE(?term)",
    ),
)


def _setup(state: BlueprintSetupState) -> None:
    install_index(state.app)


blueprint.record_once(_setup)


@blueprint.get("/")
def home() -> str:
    manifest = current_dataset().manifest
    index = current_index()
    kinds = [kind for kind in _counts(manifest, index) if kind.count]
    return render_template(
        "home.html",
        manifest=manifest,
        kinds=kinds,
        example=_example(index),
        examples=EXAMPLES,
        sparql=SPARQL,
        dumps=DUMPS,
        void=VOID,
        health=HEALTH,
    )


@blueprint.get("/lookup")
def lookup() -> BaseResponse:
    """The lookup box: any URN (or a link to one, or a short ``mtr:org-02``) to its page."""
    text = request.args.get("urn", "").strip()
    if not text:
        return redirect(url_for("pages.home"), 303)
    urn = find_urn(current_index(), text)
    if urn is None:
        return not_found(text)
    return redirect(resource_url(urn), 303)


def find_urn(index: SiteIndex, text: str) -> str | None:
    """The URN (``#fragment`` kept) that ``text`` names, if the graph has it."""
    text = text.strip().strip("<>").strip()
    start = text.lower().find("urn:")
    candidates = [text[start:]] if start >= 0 else [text, URN_PREFIX + text.removeprefix(":")]
    for candidate in candidates:
        base, hash_sign, fragment = candidate.partition("#")
        urn = index.canonical(base)
        if urn is not None:
            return f"{urn}#{fragment}" if hash_sign and fragment else urn
    return None


def _example(index: SiteIndex) -> str | None:
    """A URN to show on the home page: the README's example if it is here, else any."""
    if EXAMPLE_URN in index.resources:
        return EXAMPLE_URN
    return min(index.members(f"{AK}Maatregel"), default=None)


def _counts(manifest: dict[str, object], index: SiteIndex) -> list[KindCount]:
    documents = manifest.get("documents")
    counts = dict(documents) if isinstance(documents, dict) else {}
    counts["glossary_terms"] = manifest.get("glossary_terms", 0)
    found: list[KindCount] = []
    for name, label, cls in _KINDS:
        count = counts.get(name, 0)
        members = tuple((index.label(urn), resource_url(urn)) for urn in index.members(cls))
        found.append(KindCount(label, count if isinstance(count, int) else 0, cls, members))
    return found
