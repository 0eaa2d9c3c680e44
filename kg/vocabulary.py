"""How each front-matter key becomes triples: the one place that lists every key.

Keys fall in a few shapes:

* text: a ``@nl`` literal (title, toelichting, summary);
* tags: each list item an IRI in a vocabulary (a SKOS concept scheme);
* references: each list item names another document by file name, resolved to its URN;
* audit codes (``sources``, older ``bronnen``): ``{ADR: SV.8, ARK: [2.20]}`` -> SKOS concepts;
* applicability tables of early vereisten (``rekenregels: [{impactvol: Ja}]``);
* AI-Act exceptions (``uitzondering``): kept as written, and parsed (:mod:`kg.applicability`);
* plain literals (``id``, ``version``, ``version_date``, ``index`` ...).

``SKIPPED_KEYS`` are pure site-layout keys that carry no meaning for the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from rdflib import URIRef
from rdflib.namespace import DCTERMS, OWL, XSD

from kg.kind import HULPMIDDEL, LEVENSCYCLUSFASE, MAATREGEL, ONDERWERP, ROL, VEREISTE, Kind
from kg.namespace import AK

#: MkDocs layout switches: which navigation/toc to hide, search exclusion, the page icon.
SKIPPED_KEYS: frozenset[str] = frozenset({"hide", "search", "icon"})


class Shape(Enum):
    TEXT = "text"
    TAG = "tag"
    REFERENCE = "reference"
    AUDIT = "audit"
    APPLICABILITY = "applicability"
    EXCEPTION = "exception"
    LITERAL = "literal"


@dataclass(frozen=True)
class KeyRule:
    """What one front-matter key means."""

    key: str
    shape: Shape
    predicate: URIRef
    #: TAG: the kind whose pages define the values, or else the vocabulary's URN code.
    target_kind: Kind | None = None
    vocabulary: str = ""
    #: LITERAL: the datatype (None: plain string).
    datatype: URIRef | None = None


def _tag(key: str, predicate: URIRef, vocabulary: str = "") -> KeyRule:
    return KeyRule(key, Shape.TAG, predicate, vocabulary=vocabulary or key)


RULES: dict[str, KeyRule] = {
    rule.key: rule
    for rule in (
        KeyRule("title", Shape.TEXT, DCTERMS.title),
        KeyRule("summary", Shape.TEXT, DCTERMS.abstract),
        KeyRule("toelichting", Shape.TEXT, AK.toelichting),
        KeyRule("id", Shape.LITERAL, DCTERMS.identifier),
        KeyRule("levenscyclus", Shape.TAG, AK.levenscyclusfase, target_kind=LEVENSCYCLUSFASE),
        KeyRule("rollen", Shape.TAG, AK.rol, target_kind=ROL),
        KeyRule("onderwerp", Shape.TAG, AK.onderwerp, target_kind=ONDERWERP),
        KeyRule("bouwblok", Shape.TAG, AK.bouwblok, target_kind=ONDERWERP),
        KeyRule("vereiste", Shape.REFERENCE, AK.vereiste, target_kind=VEREISTE),
        KeyRule("maatregel", Shape.REFERENCE, AK.maatregel, target_kind=MAATREGEL),
        KeyRule("hulpmiddel", Shape.REFERENCE, AK.hulpmiddel, target_kind=HULPMIDDEL),
        _tag("categorie", AK.categorie),
        _tag("soort-toepassing", AK.soortToepassing),
        _tag("risicogroep", AK.risicogroep),
        _tag("rol-ai-act", AK.rolAiAct),
        _tag("transparantieverplichting", AK.transparantieverplichting),
        _tag("systeemrisico", AK.systeemrisico),
        _tag("open-source", AK.openSource),
        _tag("publicatiecategorie", AK.publicatiecategorie),
        _tag("status_vereiste", AK.statusVereiste, "status-vereiste"),
        KeyRule("sources", Shape.AUDIT, AK.auditnorm),
        KeyRule("bronnen", Shape.AUDIT, AK.auditnorm),
        KeyRule("rekenregels", Shape.APPLICABILITY, AK.toepasbaarheid, vocabulary="rekenregels"),
        KeyRule(
            "machine-learning",
            Shape.APPLICABILITY,
            AK.toepasbaarheid,
            vocabulary="machine-learning",
        ),
        KeyRule(
            "generatieve-ai", Shape.APPLICABILITY, AK.toepasbaarheid, vocabulary="generatieve-ai"
        ),
        KeyRule("uitzondering", Shape.EXCEPTION, AK.uitzondering),
        KeyRule("version", Shape.LITERAL, OWL.versionInfo),
        KeyRule("version_date", Shape.LITERAL, AK.versiedatum, datatype=XSD.date),
        KeyRule("index", Shape.LITERAL, AK.volgnummer, datatype=XSD.integer),
        KeyRule("allow_excel_export", Shape.LITERAL, AK.excelExport, datatype=XSD.boolean),
    )
}

#: The AI-Act tag keys of vereisten: the groups of an AI-Act profile and of the labels in
#: ``uitzondering`` expressions (kg.applicability, kg.profile take them from here).
AI_ACT_KEYS: tuple[str, ...] = (
    "soort-toepassing",
    "risicogroep",
    "rol-ai-act",
    "transparantieverplichting",
    "systeemrisico",
    "open-source",
)

#: Tag vocabularies that are SKOS concept schemes ``urn:nl:ak:<vocabulary>`` in the ontology.
TAG_VOCABULARIES: tuple[str, ...] = tuple(
    rule.vocabulary for rule in RULES.values() if rule.shape is Shape.TAG and rule.vocabulary
)
#: Audit frameworks whose codes ``sources`` cites.
AUDIT_SCHEME_LABELS: dict[str, tuple[str, str]] = {
    "adr": ("Onderzoekskader algoritmes Auditdienst Rijk", "Audit framework of the ADR"),
    "ark": (
        "Toetsingskader algoritmes Algemene Rekenkamer",
        "Assessment framework of the Netherlands Court of Audit",
    ),
}
#: Values of the applicability tables, read case-insensitively.
YES_NO: dict[str, bool] = {"ja": True, "nee": False}


def vocabulary_scheme(vocabulary: str) -> URIRef:
    return URIRef(f"urn:nl:ak:{vocabulary}")


# -- laws -------------------------------------------------------------------------------------
# Upstream's lists name the law of a vereiste by the code prefix of its ``id``
# (``urn:nl:ak:ver:avg-13`` -> ``AVG``), with the glossary's definition of that code as its
# name; a few laws are shown abbreviated, their name on hover. One home for the rule: the
# expanded lists (kg.lists), the browse pages and the statistics use it.

#: The law column: upstream's column key and heading.
LAW_KEY = "wetcode"
LAW_LABEL = "Wetgeving"
#: Law codes upstream shows abbreviated (with the glossary's definition as title).
ABBREVIATED_LAWS = frozenset({"AVG", "BIO", "BZK", "WOO", "AWB"})
#: ``id`` up to the code: ``urn:nl:ak:ver:``.
ID_PREFIX_LENGTH = len(VEREISTE.urn(""))


def law_code(identifier: str) -> str:
    """The law of a vereiste from its ``id`` (``urn:nl:ak:ver:avg-13`` -> ``AVG``); "" when
    the id has no code."""
    return identifier[ID_PREFIX_LENGTH:].split("-")[0].upper()
