#!/usr/bin/env bash
# Executes every notebook in notebooks-data/ headless (nbconvert), on its shipped results, or on
# FLASHNUM_RESULTS when set. Skips, with a message and exit 0, when Jupyter is not installed
# (pip install -r notebooks-data/requirements.txt). Executed copies go to a temporary folder;
# FLASHNUM_FIGURES=DIR also saves each figure as a PNG there. Notebooks that import the Python
# package run only where it is installed (CI runs them from pytest python/tests).
set -euo pipefail
cd "$(dirname "$0")/../notebooks-data"
if ! python3 -c "import nbconvert, nbclient, ipykernel, pandas, matplotlib" 2>/dev/null; then
  echo "run_notebooks: skipped: Jupyter (nbconvert, ipykernel), pandas or matplotlib is not installed"
  exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for nb in *.ipynb; do
  if grep -q "import flashnumerics" "$nb" && ! python3 -c "import flashnumerics" 2>/dev/null; then
    echo "run_notebooks: $nb needs the flashnumerics package (pip install ./python); pytest python/tests executes it"
    continue
  fi
  python3 -m nbconvert --to notebook --execute --ExecutePreprocessor.timeout=300 --output-dir "$out" "$nb" >/dev/null
  echo "run_notebooks: $nb executed"
done
