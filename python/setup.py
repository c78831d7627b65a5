"""Builds the Swift C-ABI library into the package (see README.md).

`pip install ./python` (or `pip wheel ./python`) runs `Scripts/build_python_library.sh`, which
builds `libFlashNumericsC.so` with the Swift toolchain and copies it, the Swift runtime libraries
it links and MPFR/GMP into `flashnumerics/lib/`. With FLASHNUMERICS_LIB_DIR set, that folder's
files are copied instead (a library built elsewhere). The wheel is tagged for Linux x86-64 and
any Python 3: the package calls the library through ctypes, no extension module.
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from wheel.bdist_wheel import bdist_wheel
except ImportError:  # wheel < 0.41 keeps it elsewhere only under setuptools
    from setuptools.command.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent


class BuildWithLibrary(build_py):
    def run(self):
        lib = HERE / "flashnumerics" / "lib"
        if lib.exists():
            shutil.rmtree(lib)
        lib.mkdir(parents=True)
        given = os.environ.get("FLASHNUMERICS_LIB_DIR")
        if given:
            for f in Path(given).iterdir():
                shutil.copy2(f, lib / f.name)
        else:
            subprocess.check_call(["bash", str(HERE.parent / "Scripts" / "build_python_library.sh"), str(lib)])
        shutil.copy2(HERE.parent / "Sources" / "CFlashNumericsABI" / "flashnumerics.h", HERE / "flashnumerics" / "flashnumerics.h")
        super().run()


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return "py3", "none", "linux_x86_64"


setup(cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
