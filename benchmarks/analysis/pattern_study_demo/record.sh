#!/usr/bin/env bash
# Record the pattern study's CPU default (see the README's Performance section): the far-cue
# dataset, the five patterns x three seeds configs/demo/fpn_sola_far_cue_demo.py names, then
# study.csv / study.png copied here with the wall time and the machine's load, and each run's
# per-class IoU (per_class.csv, from the runs' logs).
#
#   bash benchmarks/analysis/pattern_study_demo/record.sh              # the recorded setting
#   bash benchmarks/analysis/pattern_study_demo/record.sh --seeds 1    # extra arguments go on
#
# Started again, the study reuses its finished runs (WORK keeps them) and resumes a stopped one.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
OUT=${OUT:-benchmarks/analysis/pattern_study_demo}
WORK=${WORK:-work_dirs/pattern_study_demo}
PY=${PY:-.venv/bin/python}

mkdir -p "$OUT"
echo "start $(date -u +%FT%TZ) $(uptime)" >> "$OUT/load.txt"
"$PY" -m projects.pattern_study.make_far_cue_dataset
start=$(date +%s)
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$PY" -m projects.pattern_study.pattern_study \
    configs/demo/fpn_sola_far_cue_demo.py --work-dir "$WORK" "$@"
echo "end $(date -u +%FT%TZ) $(uptime); this call $(( $(date +%s) - start )) s" >> "$OUT/load.txt"
cp "$WORK/study.csv" "$WORK/study.png" "$OUT/"
"$PY" benchmarks/analysis/pattern_study_demo/per_class.py "$WORK" > "$OUT/per_class.csv"
cat "$OUT/load.txt"
