"""The package works when installed, not only in the checkout.

The wheel is built from the checkout and installed into a fresh virtualenv outside it (pip
fetches the dependencies, from its cache when it can). Run from an unrelated working
directory, the installed ``kg validate`` must find exactly what the checkout's finds in the
real content (so the shapes and the ontology travel in the wheel), and ``kg build`` must
publish the ontology. :func:`kg.resources.data_dir` is also tested on its own: the packaged
copy first, then the checkout's folder, else an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

import kg.resources
from kg.resources import ResourceMissing, data_dir, ontology_files, shape_files
from tests.conftest import REPO

CHECKOUT_KG = Path(sys.executable).parent / "kg"


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A child process with none of this environment's ``KG_*`` or ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_") and k != "PYTHONPATH"}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(REPO)], out)
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("algoritmekader_kg-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin/`` of a fresh virtualenv with the wheel installed."""
    venv = tmp_path_factory.mktemp("venv")
    assert run([sys.executable, "-m", "venv", str(venv)], venv).returncode == 0
    bin_dir = venv / "bin"
    result = run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)], venv)
    assert result.returncode == 0, result.stderr
    return bin_dir


def test_the_wheel_holds_the_ontology_and_the_shapes(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ontology_files():
        assert f"kg/ontology/{path.name}" in names
    for path in shape_files():
        assert f"kg/shapes/{path.name}" in names
    queries = sorted((REPO / "queries").glob("*.rq"))  # the example library
    assert queries and all(f"server/queries/{path.name}" in names for path in queries)
    assert "kg/pipeline.py" in names and "server/runner.py" in names
    entry_points = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
    )
    assert b"[algoritmekader_kg.commands]\nserve = server.runner:COMMAND" in entry_points


def test_the_installed_package_uses_its_own_files(installed: Path, tmp_path: Path) -> None:
    code = (
        "import kg.resources as r; print(r.data_dir('ontology')); print(r.data_dir('shapes'));"
        "import server.services.examples as e; print(e.queries_dir())"
    )
    result = run([str(installed / "python"), "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    site = installed.parent / "lib"
    for line in result.stdout.splitlines():
        assert Path(line).is_relative_to(site), line


@pytest.mark.corpus
def test_installed_kg_validates_as_the_checkout(
    installed: Path, real_corpus: Path, tmp_path: Path
) -> None:
    elsewhere = run([str(installed / "kg"), "validate", "--content", str(real_corpus)], tmp_path)
    here = run([str(CHECKOUT_KG), "validate", "--content", str(real_corpus)], REPO)
    assert here.returncode == 1, here.stderr  # the real content has violations
    assert elsewhere.returncode == here.returncode, elsewhere.stderr
    assert len(here.stdout.splitlines()) > 20
    assert elsewhere.stdout.splitlines() == here.stdout.splitlines()
    assert elsewhere.stderr == here.stderr  # the summary line


@pytest.mark.corpus
def test_installed_kg_publishes_the_ontology(
    installed: Path, real_corpus: Path, tmp_path: Path
) -> None:
    result = run([str(installed / "kg"), "build", "--content", str(real_corpus)], tmp_path)
    assert result.returncode in (0, 1), result.stderr
    published = tmp_path / "dist" / "ontology.ttl"  # dist/ of the working directory
    assert published.stat().st_size > 0
    expected = Graph()
    for path in ontology_files():
        expected.parse(path, format="turtle")
    assert len(expected) > 500
    assert isomorphic(Graph().parse(published, format="turtle"), expected)


def test_installed_kg_serve_is_contributed(installed: Path, tmp_path: Path) -> None:
    result = run([str(installed / "kg"), "serve", "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--query-timeout" in result.stdout


# -- data_dir, without installing ------------------------------------------------------------


def fake_package(root: Path, with_ttl: bool) -> Path:
    folder = root / "site" / "kg" / "shapes"
    folder.mkdir(parents=True)
    if with_ttl:
        (folder / "packaged.ttl").write_text("# packaged\n", encoding="utf-8")
    return folder.parent


def test_data_dir_takes_the_packaged_copy_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = fake_package(tmp_path, with_ttl=True)
    monkeypatch.setattr(kg.resources, "files", lambda name: package)
    assert data_dir("shapes") == package / "shapes"
    assert data_dir("ontology") == REPO / "ontology"  # not packaged here: the checkout's


def test_data_dir_without_turtle_falls_back_then_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = fake_package(tmp_path, with_ttl=False)
    monkeypatch.setattr(kg.resources, "files", lambda name: package)
    assert data_dir("shapes") == REPO / "shapes"
    monkeypatch.setattr(kg.resources, "__file__", str(tmp_path / "nowhere" / "kg" / "x.py"))
    with pytest.raises(ResourceMissing, match="shapes"):
        data_dir("shapes")
