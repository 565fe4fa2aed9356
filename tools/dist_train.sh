#!/usr/bin/env bash
# Train on GPUS processes per node with torchrun (--launcher pytorch; gloo on a machine
# without CUDA). Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each;
# on one node PORT is optional (default: a free port).
#
#   tools/dist_train.sh CONFIG GPUS [tools/train.py options]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 tools/dist_train.sh CONFIG 8
#
# PYTHON picks the interpreter (default: python).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
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
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
