"""Charts as inline SVG, drawn on the server: a page with pictures needs no JavaScript.

Every chart is built as an element tree (:mod:`xml.etree.ElementTree`) and serialised by it, so
each label and address from the content is escaped by the serialiser, never pasted into markup.
Each chart says what it shows in its ``<title>`` and ``<desc>`` (named by ``aria-labelledby``);
each mark carries its own ``<title>`` and its number as ``data-count``, and every link in it is
a real ``<a href>`` a keyboard reaches. Colours come from classes (``site.css``, ``/* charts */``):
the page's CSP allows no inline styles.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from server.services.statistics import Count, HeatMap

SVG_NS = "http://www.w3.org/2000/svg"
#: Levels of the heat map's colour scale (classes ``heat-0`` … ``heat-5``).
HEAT_LEVELS = 5
#: Average width of one character of the charts' 13px text, for laying out labels.
CHAR_WIDTH = 7.9
#: kind -> (demonstrative, pronoun): de maatregel (hij), de vereiste (zij), het hulpmiddel.
_DEMONSTRATIVES = {
    "vereiste": ("deze", "zij"),
    "maatregel": ("deze", "hij"),
    "hulpmiddel": ("dit", "het"),
}


@dataclass(frozen=True)
class Node:
    """A resource in a neighbourhood graph."""

    urn: str
    label: str
    href: str
    #: ``vereiste``, ``maatregel`` or ``hulpmiddel`` (its CSS class ``node-<kind>``).
    kind: str
    #: The short code shown before the label (``org-02``), or "".
    code: str = ""

    @property
    def this(self) -> str:
        """``deze maatregel``, ``dit hulpmiddel``: the node's kind with its demonstrative."""
        return f"{_DEMONSTRATIVES.get(self.kind, ('deze', ''))[0]} {self.kind}"

    @property
    def pronoun(self) -> str:
        """``hij``, ``zij``, ``het``: how Dutch refers back to the kind."""
        return _DEMONSTRATIVES.get(self.kind, ("", "die"))[1]


def svg_markup(svg: ET.Element) -> Markup:
    """The element tree as HTML to embed: escaped by the serialiser, so safe."""
    return Markup(ET.tostring(svg, encoding="unicode"))  # safe: serialised, text escaped


def _svg(key: str, size: tuple[float, float], title: str, desc: str) -> ET.Element:
    width, height = size
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "class": f"chart chart-{key}",
            "viewBox": f"0 0 {width:g} {height:g}",
            "width": f"{width:g}",
            "height": f"{height:g}",
            "role": "group",
            "aria-labelledby": f"{key}-title {key}-desc",
        },
    )
    ET.SubElement(svg, "title", id=f"{key}-title").text = title
    ET.SubElement(svg, "desc", id=f"{key}-desc").text = desc
    return svg


def _text(
    parent: ET.Element, xy: tuple[float, float], text: str, cls: str = "", anchor: str = "start"
) -> ET.Element:
    attributes = {"x": f"{xy[0]:g}", "y": f"{xy[1]:g}", "text-anchor": anchor}
    if cls:
        attributes["class"] = cls
    element = ET.SubElement(parent, "text", attributes)
    element.text = text
    return element


def _mark(parent: ET.Element, href: str | None, title: str, count: int) -> ET.Element:
    """A group for one mark: a link when it has somewhere to go, always with its title."""
    if href:
        mark = ET.SubElement(parent, "a", {"href": href, "data-count": str(count)})
    else:
        mark = ET.SubElement(parent, "g", {"data-count": str(count)})
    ET.SubElement(mark, "title").text = title
    return mark


def _rect(parent: ET.Element, box: tuple[float, float, float, float], cls: str) -> None:
    x, y, width, height = box
    size = {"width": f"{width:g}", "height": f"{height:g}"}
    ET.SubElement(parent, "rect", {"x": f"{x:g}", "y": f"{y:g}", **size, "class": cls})


def shorten(text: str, width: float) -> str:
    """``text`` cut to what fits in ``width`` pixels, with an ellipsis when cut."""
    room = max(4, int(width / CHAR_WIDTH))
    return text if len(text) <= room else text[: room - 1].rstrip() + "…"


def wrap(text: str, width: float, lines: int = 2) -> list[str]:
    """``text`` broken at spaces into at most ``lines`` lines of ``width`` pixels (the last
    one shortened if it must be)."""
    room = max(4, int(width / CHAR_WIDTH))
    out: list[str] = []
    for word in text.split():
        if out and len(out[-1]) + 1 + len(word) <= room:
            out[-1] += f" {word}"
        else:
            out.append(word)
    kept = [*out[: lines - 1], " ".join(out[lines - 1 :])] if len(out) > lines else out
    return [shorten(line, width) for line in kept]


def heat_level(count: int, peak: int) -> int:
    return 0 if count <= 0 or peak <= 0 else max(1, math.ceil(HEAT_LEVELS * count / peak))


# -- heat map -------------------------------------------------------------------------------

_LABEL_WIDTH = 290.0
_CELL = (130.0, 34.0)
_HEAD = 52.0


def heatmap_svg(heatmap: HeatMap, href: Callable[[str, str], str]) -> Markup:
    """Maatregelen per phase (rows) × role (columns), each cell linking to ``href(row, col)``;
    a last column and row give the totals (distinct maatregelen per phase, per role)."""
    width = _LABEL_WIDTH + _CELL[0] * (len(heatmap.columns) + 1)
    height = _HEAD + _CELL[1] * (len(heatmap.rows) + 1)
    svg = _svg(
        "heatmap",
        (width, height),
        "Maatregelen per fase van de levenscyclus en per rol",
        f"Een heatmap van {len(heatmap.rows)} fasen (rijen) bij {len(heatmap.columns)} rollen "
        "(kolommen): elk vak telt de maatregelen met die fase en die rol; hoe donkerder, hoe "
        "meer. De laatste kolom en rij tellen per fase en per rol. De getallen staan ook in de "
        "tabel onder de figuur.",
    )
    for number, column in enumerate(heatmap.columns):
        x = _LABEL_WIDTH + _CELL[0] * (number + 0.5)
        lines = wrap(column.label, _CELL[0] - 4)
        head = _text(svg, (x, _HEAD - 10 - 14 * (len(lines) - 1)), "", "axis", "middle")
        for line_number, line in enumerate(lines):
            ET.SubElement(
                head, "tspan", {"x": f"{x:g}", "dy": "14" if line_number else "0"}
            ).text = line
    total_x = _LABEL_WIDTH + _CELL[0] * (len(heatmap.columns) + 0.5)
    _text(svg, (total_x, _HEAD - 10), "Totaal", "axis total", "middle")
    for number, row in enumerate(heatmap.rows):
        y = _HEAD + _CELL[1] * number
        _text(svg, (_LABEL_WIDTH - 8, y + 22), shorten(row.label, _LABEL_WIDTH - 12), "axis", "end")
        for place, column in enumerate(heatmap.columns):
            count = heatmap.count(row.key, column.key)
            title = f"{row.label} × {column.label}: {count} maatregelen"
            _cell(svg, (place, y), (count, heatmap.peak), title, href(row.key, column.key))
        total = heatmap.row_totals.get(row.key, 0)
        _total(svg, (len(heatmap.columns), y), total, f"{row.label}: {total} maatregelen")
    y = _HEAD + _CELL[1] * len(heatmap.rows)
    _text(svg, (_LABEL_WIDTH - 8, y + 22), "Totaal", "axis total", "end")
    for place, column in enumerate(heatmap.columns):
        total = heatmap.column_totals.get(column.key, 0)
        _total(svg, (place, y), total, f"{column.label}: {total} maatregelen")
    return svg_markup(svg)


def _cell(
    svg: ET.Element, at: tuple[int, float], count: tuple[int, int], title: str, href: str
) -> None:
    place, y = at
    level = heat_level(*count)
    mark = _mark(svg, href if count[0] else None, title, count[0])
    x = _LABEL_WIDTH + _CELL[0] * place
    _rect(mark, (x + 1, y + 1, _CELL[0] - 2, _CELL[1] - 2), f"heat heat-{level}")
    cls = "count light" if level >= HEAT_LEVELS - 1 else "count"  # contrast >= 4.5
    _text(mark, (x + _CELL[0] / 2, y + 22), str(count[0]), cls, "middle")


def _total(svg: ET.Element, at: tuple[int, float], count: int, title: str) -> None:
    place, y = at
    mark = _mark(svg, None, title, count)
    x = _LABEL_WIDTH + _CELL[0] * place
    _rect(mark, (x + 1, y + 1, _CELL[0] - 2, _CELL[1] - 2), "heat total")
    _text(mark, (x + _CELL[0] / 2, y + 22), str(count), "count total", "middle")


# -- bar chart ------------------------------------------------------------------------------

_BAR_LABEL = 300.0
_BAR_AREA = 380.0
_BAR_ROW = 26.0


@dataclass(frozen=True)
class BarChart:
    key: str
    title: str
    desc: str
    #: What ``Count.value`` and ``Count.part`` count ("vereisten", "zonder maatregelen").
    unit: str
    part_unit: str = ""


def bar_svg(
    chart: BarChart, counts: Sequence[Count], href: Callable[[Count], str | None]
) -> Markup:
    """Horizontal bars, one per count, longest first as given; ``part`` drawn inside its bar."""
    legend = _BAR_ROW if chart.part_unit else 0.0
    width = _BAR_LABEL + _BAR_AREA + 60
    svg = _svg(chart.key, (width, legend + _BAR_ROW * len(counts) + 8), chart.title, chart.desc)
    if chart.part_unit:
        _legend(svg, chart)
    peak = max((count.value for count in counts), default=0) or 1
    for number, count in enumerate(counts):
        y = legend + _BAR_ROW * number
        title = f"{count.name or count.category.label}: {count.value} {chart.unit}"
        if chart.part_unit:
            title += f", waarvan {count.part} {chart.part_unit}"
        mark = _mark(svg, href(count), title, count.value)
        label = shorten(count.category.label, _BAR_LABEL - 12)
        _text(mark, (_BAR_LABEL - 8, y + 17), label, "axis", "end")
        length = _BAR_AREA * count.value / peak
        _rect(mark, (_BAR_LABEL, y + 4, max(length, 1), _BAR_ROW - 8), "bar")
        if chart.part_unit and count.part:
            mark.set("data-part", str(count.part))
            part = _BAR_AREA * count.part / peak
            _rect(mark, (_BAR_LABEL + length - part, y + 4, part, _BAR_ROW - 8), "bar part")
        _text(mark, (_BAR_LABEL + length + 6, y + 17), str(count.value), "count")
    return svg_markup(svg)


def _legend(svg: ET.Element, chart: BarChart) -> None:
    _rect(svg, (_BAR_LABEL, 6, 14, 14), "bar")
    _text(svg, (_BAR_LABEL + 20, 18), chart.unit, "legend")
    offset = _BAR_LABEL + 40 + CHAR_WIDTH * len(chart.unit)
    _rect(svg, (offset, 6, 14, 14), "bar part")
    _text(svg, (offset + 20, 18), chart.part_unit, "legend")


# -- neighbourhood graph --------------------------------------------------------------------

_NODE = (250.0, 26.0)
_GAP = 8.0
_COLUMN_HEAD = 26.0
_COLUMNS = (10.0, 330.0, 650.0)


def graph_svg(
    center: Node, incoming: Sequence[Node], outgoing: Sequence[Node], more: int
) -> Markup:
    """The resource in the middle; what refers to it on the left, what it refers to on the
    right (hulpmiddel → maatregel → vereiste reads left to right), each node a link to its page;
    ``more`` not shown is said below the columns."""
    rows = max(len(incoming), len(outgoing), 1) + (1 if more else 0)
    height = _COLUMN_HEAD + rows * (_NODE[1] + _GAP) + _GAP
    svg = _svg(
        "samenhang",
        (_COLUMNS[2] + _NODE[0] + 10, height),
        f"Samenhang van {center.label}",
        f"{len(incoming)} documenten verwijzen naar {center.this}; {center.pronoun} verwijst "
        f"zelf naar {len(outgoing)} documenten"
        + (f" (nog {more} niet getoond)." if more else ".")
        + " Elke resource is een link naar haar pagina.",
    )
    middle = _COLUMN_HEAD + (rows - (1 if more else 0) - 1) * (_NODE[1] + _GAP) / 2
    if incoming:
        _text(svg, (_COLUMNS[0], 16), "Verwijzen hiernaar", "axis")
    if outgoing:
        _text(svg, (_COLUMNS[2], 16), "Verwijst naar", "axis")
    _kinds(svg, (_COLUMNS[1], 4))
    edges = ET.SubElement(svg, "g", {"class": "edges", "aria-hidden": "true"})
    for number, node in enumerate(incoming):
        y = _COLUMN_HEAD + number * (_NODE[1] + _GAP)
        _edge(edges, (_COLUMNS[0] + _NODE[0], y), (_COLUMNS[1], middle))
        _node(svg, node, (_COLUMNS[0], y))
    for number, node in enumerate(outgoing):
        y = _COLUMN_HEAD + number * (_NODE[1] + _GAP)
        _edge(edges, (_COLUMNS[1] + _NODE[0], middle), (_COLUMNS[2], y))
        _node(svg, node, (_COLUMNS[2], y))
    _node(svg, center, (_COLUMNS[1], middle), current=True)
    if more:
        y = height - _GAP - 8
        _text(svg, (_COLUMNS[1] + _NODE[0] / 2, y), f"+{more} meer", "more", "middle")
    return svg_markup(svg)


def _kinds(svg: ET.Element, at: tuple[float, float]) -> None:
    """The legend of the node colours (each node's kind is in its title too)."""
    legend = ET.SubElement(svg, "g", {"class": "legend", "aria-hidden": "true"})
    x, y = at
    for kind in ("hulpmiddel", "maatregel", "vereiste"):
        group = ET.SubElement(legend, "g", {"class": f"node node-{kind}"})
        _rect(group, (x, y + 2, 12, 12), "box")
        _text(group, (x + 16, y + 12), kind, "legend")
        x += 28 + CHAR_WIDTH * len(kind)


def _edge(parent: ET.Element, start: tuple[float, float], end: tuple[float, float]) -> None:
    (x1, y1), (x2, y2) = start, end
    y1, y2 = y1 + _NODE[1] / 2, y2 + _NODE[1] / 2
    bend = (x2 - x1) / 2
    ET.SubElement(
        parent,
        "path",
        {"d": f"M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2:g},{y2:g}"},
    )


def _node(svg: ET.Element, node: Node, at: tuple[float, float], current: bool = False) -> None:
    x, y = at
    kind = f"{node.kind[:1].upper()}{node.kind[1:]}"
    title = f"{kind} {node.code}: {node.label}" if node.code else f"{kind}: {node.label}"
    if current:
        mark = ET.SubElement(svg, "g", {"class": f"node node-{node.kind} current"})
        ET.SubElement(mark, "title").text = title
    else:
        mark = _mark(svg, node.href, title, 1)
        mark.set("class", f"node node-{node.kind}")
    mark.set("data-urn", node.urn)
    _rect(mark, (x, y, _NODE[0], _NODE[1]), "box")
    text = f"{node.code} {node.label}" if node.code else node.label
    _text(mark, (x + 8, y + 17), shorten(text, (_NODE[0] - 14) / (1.12 if current else 1)))
