#!/usr/bin/env bash
# Evaluate a checkpoint on GPUS processes per node with torchrun (--launcher pytorch; gloo on
# a machine without CUDA). Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each;
# on one node PORT is optional (default: a free port).
#
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py options]
#
# PYTHON picks the interpreter (default: python).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
if [ "$NNODES" = 1 ] && [ -z "${PORT:-}" ]; then
    # one node, no PORT: torchrun's standalone rendezvous binds a free port itself, so two jobs
    # on one machine never collide and no port is picked (and raced for) beforehand
    RENDEZVOUS=(--standalone)
else
    RENDEZVOUS=(--nnodes="$NNODES" --node_rank="${NODE_RANK:-0}"
                --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}")
fi

exec "${PYTHON:-python}" -m torch.distributed.run "${RENDEZVOUS[@]}" \
    --nproc_per_node="$GPUS" \
    "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
