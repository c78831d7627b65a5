"""`python -m flashnumerics ARGS` runs the `flashnum` command line bundled in the wheel, with
ARGS, and exits with its status (see docs/cli-reference.md)."""
import os
import sys
from pathlib import Path

BINARY = Path(__file__).resolve().parent / "lib" / "flashnum"


def main():
    if not BINARY.exists():
        sys.exit(f"python -m flashnumerics: {BINARY} is missing (this installation was built without the command line)")
    if not os.access(BINARY, os.X_OK):
        sys.exit(f"python -m flashnumerics: {BINARY} is not executable (chmod +x it)")
    os.execv(str(BINARY), ["flashnum", *sys.argv[1:]])


if __name__ == "__main__":
    main()
