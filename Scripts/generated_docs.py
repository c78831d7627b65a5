"""The one write-or-check step of the generated documents (Scripts/cli_reference.py,
Scripts/python_api_reference.py): write `text` to `target`, or with --check exit 1 when the
committed file differs."""
import sys
from pathlib import Path


def write_or_check(target: Path, text: str, command: str, repository: Path) -> None:
    if "--check" in sys.argv:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target.relative_to(repository)} is stale: {command}", file=sys.stderr)
            sys.exit(1)
        return
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target.relative_to(repository)}")
