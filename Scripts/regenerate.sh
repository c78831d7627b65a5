#!/usr/bin/env bash
# Regenerates every committed result, report, figure and baseline that the CPU can make, in one
# run on a clean checkout (about 25 minutes on 2 cores):
#
#   bash Scripts/regenerate.sh                 # all steps
#   STEPS="sweeps table" bash Scripts/regenerate.sh
#
# Steps: sweeps (notebooks-data/experiments/* → notebooks-data/results/* → Reports/*.md and
# figures, the rotation study with --layout rotation), table (Reports/paper-rmse-table.*), regress
# (Reports/baselines/shipped-schemes.json), p-overflow (Reports/fp8-p-overflow.md), mechanism
# (Reports/rotation-mechanism.md, NumPy and ml_dtypes). The GPU crosschecks are not among them:
# Scripts/h100_crosscheck.sh makes those on a Hopper GPU.
#
# It refuses to run when tracked files differ from the commit, so that the tool it builds, and so
# every file it writes, records that commit with git_dirty: false. Then `swift test --filter
# ReadmeConsistencyTests` checks that the numbers and commands the README and docs/ quote match the reports.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-"sweeps table regress p-overflow mechanism"}
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "regenerate: tracked files differ from the commit; commit or stash them first (results must name a clean commit)" >&2
  exit 2
fi
swift build -c release --product flashnum
bin=.build/release/flashnum
# The build plugin's record of the commit can lag one build behind a commit made since the last
# build; build again until the tool names HEAD with clean tracked files, or stop.
want="($(git rev-parse HEAD | cut -c1-12), clean)"
"$bin" --version | grep -qF "$want" || swift build -c release --product flashnum
"$bin" --version | grep -qF "$want" || { echo "regenerate: $bin says '$("$bin" --version)', not $want" >&2; exit 2; }
results=notebooks-data/results
step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
timed() { local start=$SECONDS; "$@"; echo "regenerate: $* ($((SECONDS - start)) s)" >&2; }

if step sweeps; then
  for e in quick-fp8.yaml kernel-vs-model.json bf16q-fp8kv.yaml rotation.yaml; do
    timed "$bin" sweep "notebooks-data/experiments/$e" --out-dir "$results" --fresh --quiet
  done
  for n in quick-fp8 kernel-vs-model bf16q-fp8kv; do
    rm -f Reports/"$n"-*.svg Reports/"$n"-*.png
    timed "$bin" report "$results/$n.csv" --out-dir Reports
  done
  rm -f Reports/rotation-*.svg Reports/rotation-*.png
  timed "$bin" report "$results/rotation.csv" --layout rotation --out-dir Reports
fi
if step table; then
  timed "$bin" table paper-rmse --seq-len 4096 --head-dim 128 --heads 1 --seeds 0-7 --rotation-seeds 0-7 --out-dir Reports >/dev/null
fi
if step regress; then
  timed "$bin" regress --update
fi
if step p-overflow; then
  timed "$bin" table p-overflow --out-dir Reports >/dev/null
fi
if step mechanism; then
  python3 Scripts/rotation_mechanism.py > Reports/rotation-mechanism.md
fi
echo "regenerate: done; review git diff, then commit" >&2
