"""The Turtle files the package needs at run time: the ontology (with the labels of the terms
it uses) and the SHACL shapes.

They live at the top of the repository (``ontology/``, ``shapes/``: part of the design, edited
there) and travel inside the wheel as ``kg/ontology/`` and ``kg/shapes/`` (``pyproject.toml``
maps them in). Installed, the copy in the package is used; in a checkout, the folder at the
top. No folder found, or a folder without its files, is an error: a validation that silently
checks nothing would be worse than none.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: The ontology proper, and the labels of the standard terms the graph uses (Dutch and
#: English ``rdfs:label``, plurals of classes): both published in ``ontology.ttl``.
ONTOLOGY_FILES: tuple[str, ...] = ("algoritmekader.ttl", "labels.ttl")


class ResourceMissing(FileNotFoundError):
    """A data folder of the package is not where it should be (a broken install)."""


def data_dir(name: str) -> Path:
    """``ontology`` or ``shapes``: the packaged copy, else the checkout's top-level folder."""
    packaged = Path(str(files("kg"))) / name
    checkout = Path(__file__).resolve().parent.parent / name
    for folder in (packaged, checkout):
        if folder.is_dir() and any(folder.glob("*.ttl")):
            return folder
    raise ResourceMissing(f"no {name}/*.ttl in {packaged} or {checkout}: the package is broken")


def ontology_files() -> tuple[Path, ...]:
    folder = data_dir("ontology")
    found = tuple(folder / name for name in ONTOLOGY_FILES)
    missing = [str(path) for path in found if not path.is_file()]
    if missing:
        raise ResourceMissing(f"ontology files missing: {', '.join(missing)}")
    return found


def shape_files() -> tuple[Path, ...]:
    return tuple(sorted(data_dir("shapes").glob("*.ttl")))
