"""onnxruntime latency of our ResNet-50 (``--fold-bn``) against torchvision's, exported by torch.

    python benchmarks/onnx_latency.py [--runs 200] [--warmup 20] [--threads 2] [--out FILE]

Needs torch and torchvision (the project's own venv has no torchvision: the script then says
so and exits 0). Both graphs get the same weights: torchvision's randomly initialised
``resnet50`` with BN statistics drawn away from 0/1, its ``state_dict`` compiled into ours with
``--weights``. The outputs must agree before anything is timed. Timing: batch 1, 3x224x224,
``intra_op_num_threads`` threads, onnxruntime's default graph optimisations (which fuse
Conv+BN in every graph), warm-up, then the sessions take turns run by run; medians are reported
with the ratio ours/theirs (goal: <= 1.00). "Theirs" is the TorchScript exporter's opset-17
graph (``dynamo=False``); the default dynamo exporter's graph is timed too, though it cannot
convert ResNet-50 down to opset 17 and keeps opset 18. Also reported: the median of the
ratios of runs in the same round (robust to load drift on a shared machine), and the ops of
each graph after onnxruntime's optimisations. Results go to benchmarks/results/onnx_latency.json
with a description of the machine (``PYTHONPATH=. /tmp/tvenv/bin/python ...`` where the
project's venv lacks torchvision).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine() -> dict[str, object]:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()[:10]
    except (OSError, subprocess.CalledProcessError):
        lscpu = []
    import os

    return {
        "lscpu_head": lscpu,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_1_5_15_min_at_end": [round(x, 2) for x in os.getloadavg()],
    }


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence the exporters' chatter (the dynamo exporter logs a traceback for opset 17)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _randomise_bn(model: object, seed: int) -> None:
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():  # type: ignore[attr-defined]
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.25)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs of each graph")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs of each graph first")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "onnx_latency.json")
    args = parser.parse_args()
    try:
        import torch
        import torchvision
    except ImportError as err:
        print(f"skip: benchmarks/onnx_latency.py needs torch and torchvision ({err.name} is missing)")
        return 0
    import numpy as np
    import onnx
    import onnxruntime as ort

    from resdsl.backends import EmitOptions
    from resdsl.backends.onnx import emit
    from resdsl.pipeline import analyze

    torch.manual_seed(0)
    reference = torchvision.models.resnet50(weights=None).eval()
    _randomise_bn(reference, 1)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))

    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "resnet50.pt"
        torch.save(reference.state_dict(), weights)
        spec = "specs/resnet50.res"
        net = analyze(ROOT / spec).network
        ours = emit(net, EmitOptions(spec_path=spec, weights=str(weights), fold_bn=True))
        theirs, export_s = {}, {}
        for name, dynamo in (("torchvision", False), ("torchvision_dynamo", True)):
            path = Path(tmp) / f"{name}.onnx"
            started = time.perf_counter()
            with warnings.catch_warnings(), _quiet("torch.onnx", "onnxscript"):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    reference,
                    (x,),
                    str(path),
                    input_names=["input"],
                    output_names=["logits"],
                    opset_version=17,
                    dynamo=dynamo,
                    verbose=False,
                    **({"external_data": False} if dynamo else {}),
                )
            export_s[name] = round(time.perf_counter() - started, 1)
            theirs[name] = path.read_bytes()

    def op_counts(model: onnx.ModelProto) -> dict[str, int]:
        ops: dict[str, int] = {}
        for node in model.graph.node:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
        return dict(sorted(ops.items()))

    def count(data: bytes) -> dict[str, object]:
        """The graph's ops, and those of the graph onnxruntime runs after its optimisations."""
        model = onnx.load_from_string(data)
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        with tempfile.TemporaryDirectory() as tmp:
            optimised = ort.SessionOptions()
            optimised.intra_op_num_threads = args.threads
            optimised.log_severity_level = 3  # no warning that the dump is machine-specific
            optimised.optimized_model_filepath = str(Path(tmp) / "optimised.onnx")
            ort.InferenceSession(data, optimised, providers=["CPUExecutionProvider"])
            runs = onnx.load(optimised.optimized_model_filepath, load_external_data=False)
        return {
            "opset": opset,
            "nodes": len(model.graph.node),
            "ops": op_counts(model),
            "onnxruntime_optimised_ops": op_counts(runs),
        }

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    graphs = {"ours": ours, **theirs}
    sessions = {
        name: ort.InferenceSession(data, options, providers=providers) for name, data in graphs.items()
    }
    feeds = {name: {s.get_inputs()[0].name: x.numpy()} for name, s in sessions.items()}
    with torch.no_grad():
        expected = reference(x).numpy()
    outputs = {name: s.run(None, feeds[name])[0] for name, s in sessions.items()}
    scale = float(np.abs(expected).max())
    agree = {name: float(np.abs(out - expected).max() / scale) for name, out in outputs.items()}
    if max(agree.values()) > 1e-4:
        print(f"error: outputs disagree (max relative difference {agree})")
        return 1

    for _ in range(args.warmup):
        for name, s in sessions.items():
            s.run(None, feeds[name])
    times: dict[str, list[float]] = {name: [] for name in sessions}
    names = list(sessions)
    for i in range(args.runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:  # each graph first in turn
            started = time.perf_counter()
            sessions[name].run(None, feeds[name])
            times[name].append((time.perf_counter() - started) * 1e3)

    def stats(values: list[float]) -> dict[str, float]:
        a = np.array(values)
        return {
            "median_ms": round(float(np.median(a)), 3),
            "p10_ms": round(float(np.percentile(a, 10)), 3),
            "p90_ms": round(float(np.percentile(a, 90)), 3),
        }

    medians = {name: float(np.median(values)) for name, values in times.items()}

    def paired(other: str) -> dict[str, float]:
        """Ratios of runs made in the same round (next to each other in time): load drift on a
        shared machine cancels out of each; their median and quartiles."""
        q = np.percentile(np.array(times["ours"]) / np.array(times[other]), [25, 50, 75])
        return {"median": round(float(q[1]), 3), "q1": round(float(q[0]), 3), "q3": round(float(q[2]), 3)}

    result = {
        "benchmark": "onnxruntime latency, ResNet-50, batch 1, 3x224x224, float32",
        "graphs": {
            "ours": {
                "made_by": "resdsl compile specs/resnet50.res --target onnx --fold-bn --weights ...",
                **count(ours),
            },
            "torchvision": {
                "made_by": "torch.onnx.export(torchvision.models.resnet50(), opset_version=17, dynamo=False)",
                "export_seconds": export_s["torchvision"],
                **count(theirs["torchvision"]),
            },
            "torchvision_dynamo": {
                "made_by": "torch.onnx.export(..., opset_version=17) with the default dynamo exporter "
                "(its conversion to opset 17 fails; it keeps opset 18)",
                "export_seconds": export_s["torchvision_dynamo"],
                **count(theirs["torchvision_dynamo"]),
            },
        },
        "latency": {name: stats(values) for name, values in times.items()},
        "ratio_ours_over_theirs": round(medians["ours"] / medians["torchvision"], 3),
        "ratio_ours_over_dynamo": round(medians["ours"] / medians["torchvision_dynamo"], 3),
        "paired_ratio_ours_over_theirs": paired("torchvision"),
        "paired_ratio_ours_over_dynamo": paired("torchvision_dynamo"),
        "max_relative_difference_vs_torch": agree,
        "settings": {
            "runs": args.runs,
            "warmup": args.warmup,
            "intra_op_num_threads": args.threads,
            "inter_op_num_threads": 1,
            "graph_optimization_level": "ORT_ENABLE_ALL (default)",
            "interleaved": True,
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
        },
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, value in medians.items():
        print(f"{name:>20}: median {value:7.2f} ms")
    print(
        f"ratio ours/torchvision {result['ratio_ours_over_theirs']:.3f} (paired "
        f"{result['paired_ratio_ours_over_theirs']['median']:.3f}), ours/dynamo "  # type: ignore[index]
        f"{result['ratio_ours_over_dynamo']:.3f} ({args.runs} interleaved runs, {args.threads} threads); "
        f"wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
