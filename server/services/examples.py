"""Examples: the SPARQL queries on the home page and the query form (the tests run them), and the
URN the home page and VoID show as an example resource."""

from __future__ import annotations

from dataclasses import dataclass

from kg.namespace import PREFIXES

#: The README's example; shown when the graph has it.
EXAMPLE_URN = "urn:nl:ak:mtr:org-02"


@dataclass(frozen=True)
class Example:
    title: str
    query: str


def _prefixes(*names: str) -> str:
    return "".join(f"PREFIX {name}: <{PREFIXES[name]}>\n" for name in names)


_PREFIXES = _prefixes("ak", "dcterms", "skos")

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
