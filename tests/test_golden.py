"""Golden graph: the five seed documents give exactly the reviewed Turtle in tests/golden/.

To regenerate after a deliberate change: ``python tests/test_golden.py`` (then review the diff).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import graph_diff, isomorphic, to_isomorphic

from kg.corpus import load_corpus
from kg.graph import build_graph

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"
GOLDEN = Path(__file__).parent / "golden" / "seeds.ttl"
#: Where each seed would live upstream (its kind), judged by its content.
PLACES = {
    "000_def21c840992674c.txt": "docs/voldoen-aan-wetten-en-regels/maatregelen",  # no id
    "001_52a7792d5671504d.txt": "docs/voldoen-aan-wetten-en-regels/maatregelen",  # no id
    "002_b7d5c93d3ddb4049.txt": "docs/voldoen-aan-wetten-en-regels/maatregelen",  # id, version
    "003_f565235fca4a4f22.txt": "docs/vereisten",  # early vereiste: rekenregels, bouwblok
    "004_c6a47a30886a3f53.txt": "docs/onderwerpen",  # topic page
}


def build_seed_graph(content: Path) -> Graph:
    for seed, folder in PLACES.items():
        target = content / folder / (Path(seed).stem + ".md")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SEEDS / seed, target)
    corpus = load_corpus(content)
    assert not corpus.rejected
    return build_graph(corpus).graph


def describe_difference(expected: Graph, actual: Graph) -> str:
    _, only_expected, only_actual = graph_diff(to_isomorphic(expected), to_isomorphic(actual))
    lines = ["only in golden:"]
    lines += sorted(f"  - {s.n3()} {p.n3()} {o.n3()}" for s, p, o in only_expected)
    lines += ["only in build:"]
    lines += sorted(f"  + {s.n3()} {p.n3()} {o.n3()}" for s, p, o in only_actual)
    return "\n".join(lines)


def test_seed_graph_equals_golden(tmp_path: Path) -> None:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is not here")
    assert sorted(p.name for p in SEEDS.iterdir()) == sorted(PLACES)
    actual = build_seed_graph(tmp_path)
    expected = Graph().parse(GOLDEN, format="turtle")
    assert isomorphic(expected, actual), describe_difference(expected, actual)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        graph = build_seed_graph(Path(tmp))
        GOLDEN.write_text(graph.serialize(format="turtle"), encoding="utf-8")
    print(f"wrote {GOLDEN} ({len(graph)} triples)", file=sys.stderr)
