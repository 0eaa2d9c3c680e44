"""Document kinds, and how a file's place in the upstream layout decides its kind.

Upstream moved folders between releases; every layout seen in the history is listed here:

=====================  ==========================================================
kind                   folders (relative to ``docs/``)
=====================  ==========================================================
vereiste               ``vereisten/``, ``voldoen-aan-wetten-en-regels/vereisten/``
maatregel              ``maatregelen/``, ``voldoen-aan-wetten-en-regels/maatregelen/``
hulpmiddel             ``instrumenten/``, ``voldoen-aan-wetten-en-regels/hulpmiddelen/``
onderwerp              ``onderwerpen/``, ``bouwblokken/`` (also ``<topic>/index.md``)
rol                    ``rollen/``
levenscyclusfase       ``levenscyclus/``
pagina                 every other Markdown page under ``docs/``
=====================  ==========================================================

An ``index.md`` directly in a kind's folder is an overview page, not a document of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from rdflib import URIRef
from rdflib.namespace import SKOS

from kg.namespace import AK, CCCEV, DPV


@dataclass(frozen=True)
class Kind:
    """A kind of document: its URN code, its classes, and for tag kinds the concept scheme."""

    name: str
    code: str
    folders: tuple[str, ...]
    classes: tuple[URIRef, ...]
    #: Tag kinds (topics, roles, phases) are also SKOS concepts of this scheme.
    scheme: URIRef | None = None

    def urn(self, local: str) -> URIRef:
        return URIRef(f"urn:nl:ak:{self.code}:{local}")


VEREISTE = Kind(
    "vereiste",
    "ver",
    ("vereisten", "voldoen-aan-wetten-en-regels/vereisten"),
    (AK.Vereiste, CCCEV.Requirement),
)
MAATREGEL = Kind(
    "maatregel",
    "mtr",
    ("maatregelen", "voldoen-aan-wetten-en-regels/maatregelen"),
    (AK.Maatregel, DPV.TechnicalOrganisationalMeasure),
)
HULPMIDDEL = Kind(
    "hulpmiddel",
    "hlp",
    ("instrumenten", "voldoen-aan-wetten-en-regels/hulpmiddelen"),
    (AK.Hulpmiddel,),
)
ONDERWERP = Kind(
    "onderwerp",
    "ond",
    ("onderwerpen", "bouwblokken"),
    (AK.Onderwerp, SKOS.Concept),
    URIRef("urn:nl:ak:ond"),
)
ROL = Kind("rol", "rol", ("rollen",), (AK.Rol, SKOS.Concept), URIRef("urn:nl:ak:rol"))
LEVENSCYCLUSFASE = Kind(
    "levenscyclusfase",
    "lcf",
    ("levenscyclus",),
    (AK.Levenscyclusfase, SKOS.Concept),
    URIRef("urn:nl:ak:lcf"),
)
PAGINA = Kind("pagina", "pag", (), (AK.Pagina,))

KINDS: tuple[Kind, ...] = (VEREISTE, MAATREGEL, HULPMIDDEL, ONDERWERP, ROL, LEVENSCYCLUSFASE)


@dataclass(frozen=True)
class Placement:
    """What a file's path says: its kind and the name it is known by (stem or topic folder)."""

    kind: Kind
    name: str


def classify(relative: PurePosixPath) -> Placement:
    """The kind of ``docs/<relative>`` and the name its references use."""
    parent = relative.parent.as_posix()
    stem = relative.stem
    for kind in KINDS:
        for folder in kind.folders:
            if parent == folder and stem != "index":
                return Placement(kind, stem)
            # Early releases: a topic is a folder with an index.md (``bouwblokken/data/index.md``).
            if (
                kind is ONDERWERP
                and stem == "index"
                and relative.parent.parent.as_posix() == folder
            ):
                return Placement(kind, relative.parent.name)
    return Placement(PAGINA, relative.with_suffix("").as_posix())
