#!/usr/bin/env bash
# Record SoLA-T before and after the CPU speed work, each run side by side with Swin-T and the
# all-linear / all-softmax patterns (see README.md here). Extra arguments go to both runs.
#
#   bash benchmarks/speed_vs_resolution/record.sh                # the recorded CPU setting
#   bash benchmarks/speed_vs_resolution/record.sh --device cuda  # the same on a GPU
#
# The "before" run imports WT, laid out by before_tree.sh: this commit's mmsola with
# mmsola/models and mmsola/ops of BEFORE (default b134b6b, the last commit before the speed
# work), so both runs use the same measuring code and differ only in the backbone and its op.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
BEFORE=${BEFORE:-b134b6b}
WT=${WT:-/tmp/mmsola_speed_before}
OUT=${OUT:-benchmarks/speed_vs_resolution}
PY=${PY:-.venv/bin/python}
ARGS=(--compare --threads 2 --resolutions 224 512 1024 2048 --infer-batches 1 8
      --train-batch 8 --warmup 1 --repeats 5 --time-budget 240)

bash benchmarks/speed_vs_resolution/before_tree.sh "$BEFORE" "$WT"
mkdir -p "$OUT"
echo "start $(uptime)" > "$OUT/load.txt"
"$PY" tools/analysis/speed_vs_resolution.py "${ARGS[@]}" --out-dir "$OUT" --name after "$@"
echo "after done $(uptime)" >> "$OUT/load.txt"
PYTHONPATH="$WT" "$PY" tools/analysis/speed_vs_resolution.py "${ARGS[@]}" --out-dir "$OUT" \
    --name before "$@"
echo "before done $(uptime)" >> "$OUT/load.txt"
cat "$OUT/load.txt"
