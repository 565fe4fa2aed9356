#!/usr/bin/env bash
# Lay out WT for a "before" run of the record.sh scripts here: this commit's mmsola (git
# archive HEAD) with mmsola/models and mmsola/ops of BEFORE in place of today's, so a run with
# PYTHONPATH=WT uses today's measuring code (tools/analysis, mmsola/analysis, ...) on the old
# model and op. Run from the repo root; WT is emptied first.
#
#   bash benchmarks/speed_vs_resolution/before_tree.sh BEFORE WT
set -euo pipefail
BEFORE=$1
WT=$2
rm -rf "$WT" && mkdir -p "$WT"
git archive HEAD mmsola | tar -x -C "$WT"
rm -rf "$WT/mmsola/models" "$WT/mmsola/ops"
git archive "$BEFORE" mmsola/models mmsola/ops | tar -x -C "$WT"
