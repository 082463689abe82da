#!/usr/bin/env bash
# `pelab sweep --emit-slurm` against a real Slurm (label slurm; .ci/run starts
# one with scripts/slurm-local): a two-point sweep of a micro model submitted
# with submit.sh (job array, then the summary job with afterok), waited for,
# and its run folders and summary checked. Skips (77) without $SLURM_CONF and sbatch.
#   usage: tests/slurm_sweep.sh PELAB_BINARY
set -euo pipefail
pelab=$(readlink -f "$1")
if [ -z "${SLURM_CONF:-}" ] || ! command -v sbatch > /dev/null; then
  echo "skipped: no Slurm (eval \"\$(bash scripts/slurm-local start)\" first)"
  exit 77
fi
work=$(mktemp -d /tmp/pelab-slurm-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir texts
for i in 0 1 2 3 4 5; do
  for j in $(seq 1 60); do echo "in the beginning was the word $i $j and the light shone upon the waters."; done > "texts/f$i.txt"
done
"$pelab" data prepare --corpus texts --out data --data.val-fraction 0.2 --data.test-fraction 0.2 > /dev/null
cat > base.ini <<'INI'
[model]
d-model = 16
n-layers = 1
n-heads = 2
[train]
length = 16
batch = 4
steps = 12
lr = 1e-2
warmup = 2
eval-every = 6
eval-batches = 2
checkpoint-every = 6
log-every = 3
[data]
dir = data
INI
cat > sweep.ini <<'INI'
[sweep]
name = slurm-micro
config = base.ini
out = out
[axes]
pe = rope, alibi
[eval.nonoverlap]
lengths = 1T, 2T
eval.max-tokens = 128
[analyze.default]
length = 2T
windows = 1
INI
"$pelab" sweep --config sweep.ini --emit-slurm slurm --slurm.max-parallel 2 --slurm.cpus-per-task 1
submitted=$(bash slurm/submit.sh)
echo "$submitted"
array=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\).*/\1/p')
summary=$(echo "$submitted" | sed -n 's/.*summary job \([0-9]*\).*/\1/p')
[ -n "$array" ] && [ -n "$summary" ] || { echo "FAIL: submit.sh printed no job ids"; exit 1; }
for _ in $(seq 1 240); do
  [ -z "$(squeue -h -j "$array,$summary" 2> /dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -j "$array,$summary" 2> /dev/null)" ] || { echo "FAIL: jobs still queued after 240 s"; squeue; exit 1; }
state=$(scontrol show job "$summary" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1)
echo "summary job state: ${state:-unknown (purged)}"
fail=0
for p in pe-rope pe-alibi; do
  /usr/bin/python3 - "out/$p/run.h5" <<'PY' || fail=1
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["status"] == b"done" or f.attrs["status"] == "done", f.attrs["status"]
assert "eval/nonoverlap/nonoverlap/ppl" in f and "analyze/default/layer0" in f
PY
done
[ -f out/summary.h5 ] && [ -f out/summary.md ] || { echo "FAIL: no summary (see slurm/logs)"; cat slurm/logs/* || true; exit 1; }
grep -q '| alibi | done | 12 |' out/summary.md || { echo "FAIL: summary.md lacks the alibi row"; cat out/summary.md; exit 1; }
ls slurm/logs/point-0.out slurm/logs/point-1.out slurm/logs/summary.out > /dev/null
[ "$fail" = 0 ] || { echo "FAIL: a run folder is incomplete"; exit 1; }
echo "PASS: two array tasks and the dependent summary job ran under Slurm"
