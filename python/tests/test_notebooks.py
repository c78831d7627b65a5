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
