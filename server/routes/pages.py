"""The home page (what this is, counts, downloads, example queries) and the URN lookup box."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from kg.kind import KINDS, PAGINA
from kg.manifest import DUMPS, Manifest
from kg.namespace import AK_IRI
from server.services.addresses import find_urn, resource_url
from server.services.dataset import current_dataset
from server.services.examples import EXAMPLE_URN, EXAMPLES
from server.services.index import SiteIndex, current_index
from server.services.parameters import refuse_control, single_value
from server.services.search import lookup_answer

blueprint = Blueprint("pages", __name__)

_MAATREGEL = f"{AK_IRI}Maatregel"
_BEGRIP = f"{AK_IRI}Begrip"


@dataclass(frozen=True)
class KindCount:
    label: str
    count: int
    cls: str
    #: (title, page URL) of every member, for the table of contents.
    members: tuple[tuple[str, str], ...]


@blueprint.get("/")
def home() -> str:
    manifest = current_dataset().manifest
    index = current_index()
    return render_template(
        "home.html",
        manifest=manifest,
        kinds=[kind for kind in _counts(manifest, index) if kind.count],
        example=_example(index),
        examples=EXAMPLES,
        dumps=DUMPS,
    )


@blueprint.get("/lookup")
def lookup() -> BaseResponse:
    """The lookup box: any URN (or a link to one, or a short ``mtr:org-02``) to its page;
    text that names none (a code, file name, website page, title words) goes to
    :func:`server.services.search.lookup_answer`. ``?q=`` (the header's box) or ``?urn=``.

    White space around the text is dropped (a pasted line); a control character inside it
    (CR, LF, NUL) is a ``400``.
    """
    given = single_value(request.args, "q") or single_value(request.args, "urn") or ""
    text = refuse_control(given.strip(), "the URN")
    if not text:
        return redirect(url_for("pages.home"), 303)
    urn = find_urn(current_index(), text)
    if urn is None:
        return lookup_answer(text)
    return redirect(resource_url(urn), 303)


def _example(index: SiteIndex) -> str | None:
    """A URN to show on the home page: the README's example if it is here, else any."""
    if EXAMPLE_URN in index.resources:
        return EXAMPLE_URN
    return min(index.members(_MAATREGEL), default=None)


def _counts(manifest: Manifest, index: SiteIndex) -> list[KindCount]:
    """Documents per kind (by the manifest) and glossary terms, each with its members."""
    counted = [
        (str(kind.classes[0]), manifest.documents.get(kind.name, 0)) for kind in (*KINDS, PAGINA)
    ]
    counted.append((_BEGRIP, manifest.glossary_terms))
    return [
        KindCount(
            index.plural(cls),
            count,
            cls,
            tuple((index.label(urn), resource_url(urn)) for urn in index.members(cls)),
        )
        for cls, count in counted
    ]
