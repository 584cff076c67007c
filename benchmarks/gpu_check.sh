#!/usr/bin/env bash
# The GPU check in one command, for a machine with one H100/H200 and no network:
#
#   benchmarks/gpu_check.sh [gpu_check.py options]      # e.g. --compile, --epochs 30, --skip r50
#
# Needs torch (CUDA), torchvision, jinja2, typer, rich, matplotlib; lark comes from the wheels
# the lead puts in .carry/wheels (git-ignored), installed into /tmp/site. Fashion-MNIST's four
# .gz files are read from $FASHION_MNIST_DIR (default .carry/fashion-mnist). The JSON result
# goes to $OUT (default ./gpu_results)/gpu_check.json. Meant to finish within 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

SITE=/tmp/site
PY="${PYTHON:-python3}"  # on the GPU image, python3 is the interpreter that has torch
shopt -s nullglob
wheels=(.carry/wheels/*.whl)
if ((${#wheels[@]})); then
    "$PY" -m pip install -q --no-index --no-deps --target "$SITE" "${wheels[@]}"
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export FASHION_MNIST_DIR="${FASHION_MNIST_DIR:-$PWD/.carry/fashion-mnist}"
export OUT="${OUT:-$PWD/gpu_results}"
"$PY" -c "import lark" 2>/dev/null || { echo "gpu_check: lark is missing: put its wheel in .carry/wheels" >&2; exit 2; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
exec timeout --signal=INT --kill-after=20 470 "$PY" benchmarks/gpu_check.py --out "$OUT" "$@"
