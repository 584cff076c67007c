#!/usr/bin/env bash
# Every GPU check of resdsl in one command, for the device machine (one H100/H200, no network):
#
#   1. benchmarks/gpu_check.py: the GPU-marked tests, ResNet-50 training throughput of the
#      generated module against torchvision's, and CIFAR ResNet-20 on Fashion-MNIST to 94%;
#   2. experiments/degradation/run.py in full mode on Fashion-MNIST (Figure 6 on a GPU).
#
# It needs torch (CUDA), torchvision, jinja2, typer, rich and matplotlib on the machine; lark's
# wheel in .carry/wheels and the four Fashion-MNIST .gz files in .carry/fashion-mnist (both
# git-ignored, carried by the device tool). Results go to $OUT (at most 8 files there):
# gpu_check.json, r20_metrics.jsonl, results-full.json, results-full.png, gpu_all.log.
# The whole run is bounded by BUDGET seconds (default 560), step 1 by STEP1 (default 330).
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
BUDGET=${BUDGET:-560}
STEP1=${STEP1:-330}
PY="${PYTHON:-python3}"
export OUT="${OUT:-$PWD/gpu_results}"
WORK=$(mktemp -d /tmp/resdsl-gpu.XXXXXX)
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_all.log") 2>&1

shopt -s nullglob
wheels=(.carry/wheels/*.whl)
if ((${#wheels[@]})); then
    "$PY" -m pip install -q --no-index --no-deps --target /tmp/site "${wheels[@]}"
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export FASHION_MNIST_DIR="${FASHION_MNIST_DIR:-$PWD/.carry/fashion-mnist}"
"$PY" -c "import lark" || { echo "gpu_all: lark is missing: put its wheel in .carry/wheels"; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== step 1: gpu_check ($(date +%T))"
timeout --signal=INT --kill-after=15 "$STEP1" "$PY" benchmarks/gpu_check.py --out "$WORK" "$@"
echo "gpu_check exit code $?"
cp "$WORK/gpu_check.json" "$OUT/" 2>/dev/null
cp "$WORK/r20/metrics.jsonl" "$OUT/r20_metrics.jsonl" 2>/dev/null

LEFT=$((BUDGET - ($(date +%s) - START)))
echo "== step 2: degradation, full mode ($(date +%T), ${LEFT}s left)"
if ((LEFT > 60)); then
    timeout --signal=INT --kill-after=15 "$LEFT" "$PY" experiments/degradation/run.py \
        --data "fashion-mnist:$FASHION_MNIST_DIR" --out "$WORK/deg" --runs "$WORK/deg-runs" ${DEGRADATION_ARGS:-}
    echo "degradation exit code $?"
fi
for f in "$WORK"/deg/results-full.json "$WORK"/deg/results-full.png "$WORK"/deg/results-full.partial.json; do
    [ -f "$f" ] && cp "$f" "$OUT/"
done
echo "== done in $(($(date +%s) - START))s; files in $OUT:"
ls -la "$OUT"
