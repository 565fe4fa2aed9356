#!/usr/bin/env bash
# CPU latency of SoLA-T before (BEFORE, default 79eca9c: main with its two RoPE layouts) and
# after (this checkout: MLLA's layout only) the removal of the second RoPE layout: batch-1
# inference at 224 and 1024 on one thread, the two run alternately ROUNDS times in one call of
# this script (the machine is shared: the rounds and the `uptime` lines in load.txt show how much
# the load moved the numbers). Extra arguments go to every run.
#
#   bash benchmarks/speed_vs_resolution/one_rope_layout/record.sh
#
# The "before" runs import WT, laid out by ../before_tree.sh: this commit's mmsola with
# mmsola/models and mmsola/ops of BEFORE, so both runs use the same measuring code and differ
# only in the model and the op.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
BEFORE=${BEFORE:-79eca9c}
WT=${WT:-/tmp/mmsola_before_one_rope}
OUT=${OUT:-benchmarks/speed_vs_resolution/one_rope_layout}
PY=${PY:-.venv/bin/python}
ROUNDS=${ROUNDS:-2}
ARGS=(--arch tiny --threads 1 --resolutions 224 1024 --modes infer --infer-batches 1
      --warmup 1 --repeats 3)

bash benchmarks/speed_vs_resolution/before_tree.sh "$BEFORE" "$WT"
mkdir -p "$OUT"
echo "start $(uptime)" > "$OUT/load.txt"
for round in $(seq "$ROUNDS"); do
  PYTHONPATH="$WT${PYTHONPATH:+:$PYTHONPATH}" "$PY" tools/analysis/speed_vs_resolution.py \
      "${ARGS[@]}" --out-dir "$OUT" --name "before_$round" "$@"
  echo "before_$round done $(uptime)" >> "$OUT/load.txt"
  PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PY" tools/analysis/speed_vs_resolution.py \
      "${ARGS[@]}" --out-dir "$OUT" --name "after_$round" "$@"
  echo "after_$round done $(uptime)" >> "$OUT/load.txt"
done
"$PY" - "$OUT" "$ROUNDS" <<'PYEOF' | tee "$OUT/comparison.md"
import csv, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def rows(name):
    with open(f'{out}/{name}.csv') as f:
        return {int(r['resolution']): r for r in csv.DictReader(f) if r['status'] == 'ok'}
print('| input | round | before wall ms | after wall ms | after / before | '
      'before CPU ms | after CPU ms | after / before (CPU) |')
print('|---|---|---|---|---|---|---|---|')
ratios = {}
for res in (224, 1024):
    for r in range(1, rounds + 1):
        b, a = rows(f'before_{r}')[res], rows(f'after_{r}')[res]
        wb, wa, cb, ca = (float(x) for x in (b['median_ms'], a['median_ms'], b['cpu_ms'],
                                             a['cpu_ms']))
        ratios.setdefault(res, []).append((wa / wb, ca / cb))
        print(f'| {res} | {r} | {wb:.1f} | {wa:.1f} | {wa / wb:.3f} | {cb:.1f} | {ca:.1f} | '
              f'{ca / cb:.3f} |')
for res, rs in ratios.items():
    print(f'| {res} | median | | | {statistics.median(r[0] for r in rs):.3f} | | | '
          f'{statistics.median(r[1] for r in rs):.3f} |')
PYEOF
cat "$OUT/load.txt"
