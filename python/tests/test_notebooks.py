"""The notebooks that call the package execute headless (nbconvert) with this interpreter."""
import subprocess
import sys

import pytest


def test_python_quickstart_notebook_executes(repository, tmp_path):
    try:
        import matplotlib  # noqa: F401
        import nbconvert  # noqa: F401
    except ImportError:
        pytest.skip("nbconvert/matplotlib not installed (pip install -r notebooks-data/requirements.txt)")
    notebook = repository / "notebooks-data" / "python-quickstart.ipynb"
    run = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=300",
                          "--output-dir", str(tmp_path), str(notebook)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "RMSE of the bf16 kernel" in (tmp_path / "python-quickstart.ipynb").read_text()


def test_model_level_notebook_executes(repository, tmp_path):
    """The committed model-level notebook (with its outputs) runs again end to end: torch model,
    emulate, compare, report, capture and `flashnum sweep` over the captured calls."""
    try:
        import matplotlib  # noqa: F401
        import nbconvert  # noqa: F401
        import pandas  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        pytest.skip("nbconvert, pandas, matplotlib or torch not installed (CI installs them)")
    flashnum = repository / ".build" / "release" / "flashnum"
    if not flashnum.exists():
        pytest.skip("flashnum is not built (swift build -c release); the notebook's sweep needs it")
    notebook = repository / "notebooks-data" / "model-level.ipynb"
    run = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=300",
                          "--output-dir", str(tmp_path), str(notebook)], capture_output=True, text=True, cwd=repository / "notebooks-data")
    assert run.returncode == 0, run.stderr[-3000:]
    text = (tmp_path / "model-level.ipynb").read_text()
    assert "mean RMSE over rotation seeds, per captured call" in text and "image/png" in text
