"""The research notebooks run top to bottom on the sample data and are committed without outputs.

Each notebook executes in a fresh kernel of *this* interpreter (the venv's),
with cwd = ``notebooks/`` as in JupyterHub. The kernel is described by a spec
in a temporary directory, so nothing is registered globally and a user-level
``python3`` kernel pointing elsewhere cannot be picked up by mistake.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
KERNEL_NAME = "jtrader-tests"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_explore_lake.ipynb",
        "02_features_and_models.ipynb",
        "03_backtest_and_optimise.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") != [] or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"
    assert nb.cells and nb.cells[0].cell_type == "markdown", f"{path.name}: the first cell must say what it shows"


@pytest.fixture(scope="module")
def kernel_spec_manager(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernel spec for this interpreter (``sys.executable``), visible only to these tests."""
    kernels = tmp_path_factory.mktemp("kernels")
    spec_dir = kernels / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "jtrader tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)


def _failure(path: Path, nb: nbformat.NotebookNode, exc: CellExecutionError) -> str:
    """The failing cell's index and source, and the traceback, without terminal colours."""
    error = _ANSI.sub("", str(exc))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return f"{path.name}: cell {i} failed\n--- source ---\n{cell.source}\n--- error ---\n{error}"
    return f"{path.name}: {error}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, kernel_spec_manager: KernelSpecManager, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_spec_manager)
    client = NotebookClient(
        nb,
        km=km,
        timeout=300,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    started = time.perf_counter()
    try:
        # The notebooks write into tempfile.mkdtemp(); TMPDIR puts that under pytest's
        # tmp_path, which pytest prunes, instead of leaving lakes behind in /tmp.
        client.execute(env={**os.environ, "TMPDIR": str(tmp_path)})
    except CellExecutionError as exc:
        pytest.fail(_failure(path, nb, exc), pytrace=False)
    elapsed = time.perf_counter() - started
    print(f"{path.name}: {elapsed:.1f} s")
    images = [
        o
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if o.get("output_type") in ("display_data", "execute_result") and "image/png" in o.get("data", {})
    ]
    assert images, f"{path.name}: executed without producing a plot"
