"""How long `resdsl check` takes to find a shape error, against what users do today.

Today's way to learn whether a ResNet's shapes work is to build it in PyTorch and run a
forward pass: import torch and torchvision, build resnet50, run one 224x224 image. This
script times, as separate processes, interleaved, the median of N runs of

* ours:     resdsl check specs/resnet50.res
* baseline: python -c "import torch, torchvision; torchvision.models.resnet50()(x)" at 224

The baseline runs with /tmp/tvenv/bin/python (a venv with torchvision). Where that is absent it
falls back to torch alone: import torch and resdsl, build our generated resnet50, one forward
(the JSON says which). Goal: ours under 1/20 of the baseline.

    .venv/bin/python benchmarks/check_speed.py [--runs 11]

Writes benchmarks/results/check_speed.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "check_speed.json"
TVENV = Path(os.environ.get("BENCH_PYTHON", "/tmp/tvenv/bin/python"))  # set by `make bench`

TORCHVISION_FORWARD = (
    "import torch, torchvision\n"
    "m = torchvision.models.resnet50().eval()\n"
    "with torch.no_grad():\n"
    "    y = m(torch.zeros(1, 3, 224, 224))\n"
    "assert tuple(y.shape) == (1, 1000)\n"
)
TORCH_ONLY_FORWARD = (
    "import torch, resdsl\n"
    "m = resdsl.load('specs/resnet50.res').eval()\n"
    "with torch.no_grad():\n"
    "    y = m(torch.zeros(1, 3, 224, 224))\n"
    "assert tuple(y.shape) == (1, 1000)\n"
)


def _time(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(python: str, module: str) -> str | None:
    proc = subprocess.run(
        [python, "-c", f"import {module}; print({module}.__version__)"], capture_output=True, text=True
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="timed runs of each (after one warm-up)")
    args = parser.parse_args()

    ours = [sys.executable, "-m", "resdsl", "check", "specs/resnet50.res"]
    if TVENV.exists():
        baseline_name = f"torchvision resnet50, one forward at 224 ({TVENV})"
        baseline = [str(TVENV), "-c", TORCHVISION_FORWARD]
        baseline_python = str(TVENV)
    else:
        baseline_name = "torch only (no torchvision found): resdsl.load(resnet50), one forward at 224"
        baseline = [sys.executable, "-c", TORCH_ONLY_FORWARD]
        baseline_python = sys.executable

    # The first run ever builds the parser tables (then cached in the user's cache folder).
    with tempfile.TemporaryDirectory() as empty_cache:
        cold = _time(ours, {**os.environ, "RESDSL_CACHE_DIR": empty_cache})
    _time(ours)  # warm-up: page cache, parser cache
    _time(baseline)
    ours_times, base_times = [], []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}", file=sys.stderr)
        ours_times.append(_time(ours))
        base_times.append(_time(baseline))

    ours_median = statistics.median(ours_times)
    base_median = statistics.median(base_times)
    result = {
        "what": "wall time to learn whether specs/resnet50.res's shapes work",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runs": args.runs,
        "ours": {
            "command": "resdsl check specs/resnet50.res",
            "median_s": round(ours_median, 4),
            "times_s": [round(t, 4) for t in ours_times],
            "first_run_without_parser_cache_s": round(cold, 4),
        },
        "baseline": {
            "command": baseline_name,
            "median_s": round(base_median, 4),
            "times_s": [round(t, 4) for t in base_times],
            "torch": _version(baseline_python, "torch"),
            "torchvision": _version(baseline_python, "torchvision") if TVENV.exists() else None,
        },
        "ratio_ours_over_baseline": round(ours_median / base_median, 4),
        "goal": "ours under 1/20 (0.05) of the baseline",
        "goal_met": ours_median < base_median / 20,
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "note": "a shared machine: other work may run at the same time; runs are interleaved",
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"resdsl check: {ours_median * 1000:.0f} ms (median of {args.runs}); "
        f"{baseline_name}: {base_median * 1000:.0f} ms; ratio {ours_median / base_median:.3f} "
        f"(1/{base_median / ours_median:.0f}); first run without parser cache {cold * 1000:.0f} ms"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
