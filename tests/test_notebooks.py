"""The notebooks: paired with their jupytext .py twin, stored without outputs, executable, and in the docs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _ids(paths):
    return [p.stem for p in paths]


def _cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_notebooks_exist():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


def test_every_notebook_is_a_page_of_the_documentation():
    """docs/conf.py copies notebooks/*.ipynb to docs/notebooks/; the front page's toctree must list each."""
    index = (NOTEBOOK_DIR.parent / "docs" / "index.md").read_text(encoding="utf-8")
    toctree = index[index.index(":caption: Notebooks"):]
    listed = {line.strip() for line in toctree[:toctree.index("```")].splitlines()}
    assert listed >= {f"notebooks/{p.stem}" for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_paired_with_py_percent(path):
    py = path.with_suffix(".py")
    assert py.exists(), f"{path.name} has no paired {py.name}"
    from_py = jupytext.read(py)
    from_ipynb = jupytext.read(path)
    assert "py:percent" in from_py.metadata.get("jupytext", {}).get("formats", ""), \
        f"{py.name} must declare 'formats: ipynb,py:percent'"
    assert _cells(from_py) == _cells(from_ipynb), f"{path.name} and {py.name} differ; run 'jupytext --sync'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"{path.name}: cell {i} has an execution count"


@pytest.fixture
def python3_kernel(tmp_path, monkeypatch):
    """A 'python3' kernelspec running this interpreter, first on JUPYTER_PATH."""
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_executes(path, python3_kernel):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=python3_kernel, timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
