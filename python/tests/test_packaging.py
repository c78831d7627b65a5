"""The installed package is the manylinux wheel and loads only the libraries it bundles."""
import importlib.metadata
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
        pytest.skip("flashnumerics runs from a checkout (PYTHONPATH), not installed; CI installs it with pip")
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
