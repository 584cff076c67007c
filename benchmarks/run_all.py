"""`make bench`: every speed benchmark, each against its real competitor in the same run.

    BENCH_PYTHON=.venv-bench/bin/python .venv/bin/python benchmarks/run_all.py

* check_speed.py   `resdsl check specs/resnet50.res` vs import torch+torchvision, build, one forward
* torch_speed.py   generated resnet50 vs torchvision's resnet50: eager forward and train step
* onnx_latency.py  our resnet50 ONNX (--fold-bn) vs torch.onnx.export of torchvision's, onnxruntime

torchvision does not install beside the CPU torch of the project venv, so the competitors run
under BENCH_PYTHON: a venv with torch 2.14.1 and torchvision 0.29.1 (`make bench` creates
.venv-bench). Each script writes its JSON to benchmarks/results/; this prints the ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def bench_python() -> str | None:
    for candidate in (
        os.environ.get("BENCH_PYTHON"),
        ROOT / ".venv-bench" / "bin" / "python",
        "/tmp/tvenv/bin/python",
    ):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


def run(cmd: list[str], env: dict[str, str]) -> int:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def main() -> int:
    other = bench_python()
    if other is None:
        print("no Python with torchvision found (set BENCH_PYTHON, or `make bench` creates .venv-bench)")
        return 1
    env = {**os.environ, "BENCH_PYTHON": other, "PYTHONPATH": str(ROOT)}
    (ROOT / "build").mkdir(exist_ok=True)
    failures = 0
    failures += (
        run([sys.executable, "-m", "resdsl", "compile", "specs/resnet50.res", "-o", "build/resnet50.py"], env)
        != 0
    )
    failures += run([sys.executable, "benchmarks/check_speed.py"], env) != 0
    failures += run([other, "benchmarks/torch_speed.py"], env) != 0
    failures += run([other, "benchmarks/onnx_latency.py"], env) != 0
    print("\nresults (ours / competitor; goal <= the stated bound):")
    for name in ("check_speed", "torch_speed", "onnx_latency"):
        path = RESULTS / f"{name}.json"
        if path.exists():
            data = json.loads(path.read_text())
            ratios = {k: v for k, v in data.items() if "ratio" in k}
            print(f"  {name}: {json.dumps(ratios)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
