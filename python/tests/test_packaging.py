"""The installed package is the manylinux wheel and loads only the libraries it bundles."""
import importlib.metadata
import os
from pathlib import Path

import pytest

import flashnumerics


def installed():
    """The installed distribution whose files are the package imported here, else a skip."""
    try:
        dist = importlib.metadata.distribution("flashnumerics")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    here = Path(flashnumerics.__file__).resolve()
    if dist is None or dist.read_text("WHEEL") is None or Path(dist.locate_file("flashnumerics/__init__.py")).resolve() != here:
        message = "flashnumerics runs from a checkout (PYTHONPATH), not installed; CI installs it with pip"
        if os.environ.get("FLASHNUMERICS_REQUIRE_INSTALLED"):
            pytest.fail(message + " (FLASHNUMERICS_REQUIRE_INSTALLED is set)")
        pytest.skip(message)
    return dist


def test_installed_wheel_is_tagged_manylinux():
    wheel = installed().read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    assert tags and all(t.startswith("py3-none-manylinux_") and t.endswith("_x86_64") for t in tags), wheel


def test_libraries_come_from_the_package():
    installed()
    package = Path(flashnumerics.__file__).resolve().parent
    loaded = {line.split()[-1] for line in open("/proc/self/maps") if line.split()[-1].endswith((".so", ".so.6", ".so.10"))}
    ours = [p for p in loaded if any(n in p for n in ("libswift", "libFlashNumericsC", "libmpfr", "libgmp", "libdispatch", "libBlocksRuntime"))]
    assert ours and all(Path(p).resolve().is_relative_to(package) for p in ours), ours


def test_the_command_line_runs_from_the_package():
    import json
    import subprocess
    import sys

    installed()
    run = subprocess.run([sys.executable, "-m", "flashnumerics", "formats", "--json"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert any(f["name"] == "e4m3fn" for f in json.loads(run.stdout))
    bad = subprocess.run([sys.executable, "-m", "flashnumerics", "convert", "--format", "e9m9", "x.npy", "--out", "y.npy"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "e9m9" in bad.stderr


def test_one_version_everywhere(repository):
    """The VERSION file is the version of the library (fn_version, from the Swift build) and of
    the installed distribution."""
    version = (repository / "VERSION").read_text(encoding="utf-8").strip()
    assert flashnumerics.__version__ == version
    try:
        assert importlib.metadata.version("flashnumerics") == version
    except importlib.metadata.PackageNotFoundError:
        pass  # a checkout on PYTHONPATH: the library's version was checked above
