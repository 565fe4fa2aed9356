#!/usr/bin/env bash
# The GPU measurements of benchmarks/RESULTS.md in one command (issue 12), run from the repo root
# on a CUDA machine:
#
#   bash benchmarks/gpu_session.sh OUT_DIR [STEP ...]
#
# Steps (default: all, in this order):
#   env       GPU, driver, torch, triton, CUDA versions
#   tests     python -m pytest tests/test_ops (the CUDA-marked tests run, nothing is interpreted)
#   op        benchmarks/benchmark_linear_attention.py -> OUT_DIR/results_op.md
#   backbone  tools/analysis/speed_vs_resolution.py --compare --device cuda --amp:
#             224 at batch 128 (inference and training step) -> OUT_DIR/gpu_224_b128.{csv,png}
#             512..2048 at batch 1 (inference)               -> OUT_DIR/gpu_latency_b1.{csv,png}
# All steps log to OUT_DIR/session.log; a failing step does not stop the next.
#
# On the lent GPU machine (torch and triton installed, no package index), carry the pure-Python
# wheels the tools need and put them first on PYTHONPATH: mmengine 0.10.7, addict, termcolor,
# yapf, platformdirs, mmcv-lite 2.1.0 (mmcv's source built with MMCV_WITH_OPS=0), mmpretrain
# 1.2.0, modelindex, ordered-set, mat4py, importlib_metadata (see .library/device/README.md).
set -u
out=${1:?usage: bash benchmarks/gpu_session.sh OUT_DIR [STEP ...]}
shift
steps=${*:-env tests op backbone}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
py=${PYTHON:-python3}
status=0

run_step() {
  case $1 in
    env)
      { date -u +%FT%TZ
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
        $py -c "import torch, triton, sys; print('python', sys.version.split()[0]); \
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__); \
p = torch.cuda.get_device_properties(0); print(p.name, p.multi_processor_count, 'SMs')"
      } ;;
    tests)
      $py -m pytest tests/test_ops -q -rs -p no:cacheprovider ;;
    op)
      $py benchmarks/benchmark_linear_attention.py --out "$out/results_op.md" ;;
    backbone)
      $py tools/analysis/speed_vs_resolution.py --compare --device cuda --amp \
        --resolutions 224 --infer-batches 128 --train-batch 128 --warmup 3 --repeats 10 \
        --out-dir "$out" --name gpu_224_b128 &&
      $py tools/analysis/speed_vs_resolution.py --compare --device cuda --amp \
        --resolutions 512 1024 2048 --modes infer --infer-batches 1 --warmup 3 --repeats 20 \
        --out-dir "$out" --name gpu_latency_b1 ;;
    *) echo "unknown step $1 (env tests op backbone)" >&2; return 2 ;;
  esac
}

for step in $steps; do
  echo "=== $step"
  start=$SECONDS
  run_step "$step" 2>&1 || { status=1; echo "=== $step FAILED"; }
  echo "=== $step took $((SECONDS - start)) s"
done > >(tee -a "$out/session.log") 2>&1
wait
exit $status
