"""The generated references are current: docs/cli-reference.md equals what
Scripts/cli_reference.py writes from the binary's help, docs/python-api.md what
Scripts/python_api_reference.py writes from the docstrings."""
import subprocess
import sys

import pytest


def test_python_api_reference_is_current(repository):
    pytest.importorskip("torch", reason="the reference documents flashnumerics.torch too (CI installs torch)")
    run = subprocess.run([sys.executable, str(repository / "Scripts" / "python_api_reference.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_cli_reference_is_current(repository):
    binary = repository / ".build" / "release" / "flashnum"
    if not binary.exists():
        pytest.skip("flashnum is not built (swift build -c release)")
    run = subprocess.run([sys.executable, str(repository / "Scripts" / "cli_reference.py"), str(binary), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_readme_is_a_front_door(repository):
    readme = (repository / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    for link in ["docs/cli-reference.md", "docs/python-api.md", "docs/cli-conventions.md", "LICENSE"]:
        assert link in readme and (repository / link).exists(), link
