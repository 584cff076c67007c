"""Speed of the generated ResNet-50 against torchvision's, in one process, interleaved.

    /tmp/tvenv/bin/python benchmarks/torch_speed.py            # needs torch and torchvision

The generated module is the file ``resdsl compile specs/resnet50.res --target torch -o FILE``
writes (by default made now, with the repository's resdsl in a subprocess), imported from
disk: this process imports only torch and torchvision, never resdsl. Both models get the same
weights; each measurement alternates between them round by round (their order swapped every
round) so that a busy machine slows both alike. Reports the median of the runs and the ratio
ours / torchvision (goal: <= 1.00), and saves everything to benchmarks/results/torch_speed.json.

On a machine whose cores are shared with other work, two OpenMP threads wait at every barrier
for a descheduled partner, and times blow up (seconds for a batch-1 forward). The ratios stay
meaningful; for steadier absolute figures add a single-thread pass: ``--threads 2 1``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision

ROOT = Path(__file__).resolve().parent.parent
SPEC = "specs/resnet50.res"


def compile_generated(path: Path) -> None:
    """Write the generated module with the repository's resdsl (a separate process)."""
    exe = ROOT / ".venv" / "bin" / "resdsl"
    command = [str(exe)] if exe.exists() else [shutil.which("resdsl") or "resdsl"]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*command, "compile", SPEC, "--target", "torch", "-o", str(path)], cwd=ROOT, check=True)


def import_generated(path: Path) -> object:
    spec = importlib.util.spec_from_file_location("generated_resnet50", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if "resdsl" in sys.modules:
        raise SystemExit("the generated module imported resdsl")
    return module


def machine() -> dict[str, object]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(),
    }


def interleaved(steps: dict[str, Callable[[], None]], runs: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call of each step, alternating between them, first one first on odd rounds."""
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(runs):
        for name in names if round_ % 2 == 0 else reversed(names):
            start = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - start)
    return times


def forward_step(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        with torch.no_grad():
            model(x)

    return step


def train_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def measure(
    ours: torch.nn.Module, theirs: torch.nn.Module, runs: int, train_runs: int
) -> dict[str, dict[str, object]]:
    """Forward at batch 1 and 16 (eval, no_grad), and an SGD train step at batch 16."""
    results: dict[str, dict[str, object]] = {}

    def record(what: str, times: dict[str, list[float]]) -> None:
        ours_s = statistics.median(times["ours"])
        theirs_s = statistics.median(times["torchvision"])
        # Each round times both models back to back: the median of those paired ratios is
        # steadier than the ratio of medians when other work comes and goes on the machine.
        paired = statistics.median(a / b for a, b in zip(times["ours"], times["torchvision"], strict=True))
        results[what] = {
            "ours_ms": round(ours_s * 1e3, 2),
            "torchvision_ms": round(theirs_s * 1e3, 2),
            "ratio": round(ours_s / theirs_s, 4),
            "paired_ratio": round(paired, 4),
            "ours_min_ms": round(min(times["ours"]) * 1e3, 2),
            "torchvision_min_ms": round(min(times["torchvision"]) * 1e3, 2),
            "ours_runs_ms": [round(t * 1e3, 2) for t in times["ours"]],
            "torchvision_runs_ms": [round(t * 1e3, 2) for t in times["torchvision"]],
        }
        print(
            f"{torch.get_num_threads()} thread(s)  {what:<20} ours {ours_s * 1e3:8.1f} ms   "
            f"torchvision {theirs_s * 1e3:8.1f} ms   ratio {ours_s / theirs_s:.3f}   paired {paired:.3f}",
            flush=True,
        )

    ours.eval()
    theirs.eval()
    for batch in (1, 16):
        x = torch.randn(batch, 3, 224, 224)
        with torch.no_grad():
            assert torch.equal(ours(x), theirs(x)), "the two models disagree"
        steps = {"ours": forward_step(ours, x), "torchvision": forward_step(theirs, x)}
        record(f"forward batch {batch}", interleaved(steps, runs, warmup=2))

    ours.train()
    theirs.train()
    x = torch.randn(16, 3, 224, 224)
    y = torch.randint(0, 1000, (16,))
    steps = {"ours": train_step(ours, x, y), "torchvision": train_step(theirs, x, y)}
    record("train step batch 16", interleaved(steps, train_runs, warmup=1))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        type=Path,
        help="a resnet50.py compiled beforehand (default: compile build/resnet50.py now, with resdsl)",
    )
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--train-runs", type=int, default=9)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[2], help="torch threads; several: measure each"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "torch_speed.json")
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    model_file = args.model
    if model_file is None:
        model_file = ROOT / "build" / "resnet50.py"
        compile_generated(model_file)
    generated = import_generated(model_file)
    torch.manual_seed(0)
    theirs = torchvision.models.resnet50(weights=None)
    ours = generated.Resnet50()  # type: ignore[attr-defined]
    ours.load_state_dict(theirs.state_dict(), strict=True)

    results = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        results[f"{threads} thread{'s' if threads > 1 else ''}"] = measure(
            ours, theirs, args.runs, args.train_runs
        )

    report = {
        "what": "generated resnet50 (resdsl compile specs/resnet50.res) vs torchvision.models.resnet50",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model_file": os.path.relpath(model_file, ROOT),
        "input": [3, 224, 224],
        "statistic": "median ms per call; ratio = ours / torchvision of the medians; paired_ratio = "
        "median over rounds of ours / torchvision timed back to back; *_min_ms: the fastest run",
        "machine": {
            **machine(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": os.getloadavg(),
        },
        "ratios": {f"{t} {what}": r["ratio"] for t, rows in results.items() for what, r in rows.items()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
