"""Reproduce the degradation result (He et al. 2015, Figure 6) with resdsl-built networks.

Trains plain-20, plain-56, ResNet-20 and ResNet-56 (the shipped specs/cifar/ specs, which share
one family and differ only in depth and `shortcut`) with the same recipe, then writes the
per-epoch errors to a JSON file and draws the figure: training error dashed, test error solid,
plain nets on the left, residual nets on the right.

    python experiments/degradation/run.py --quick                      # CPU, Fashion-MNIST, < 20 min
    python experiments/degradation/run.py                              # full: GPU, Fashion-MNIST
    python experiments/degradation/run.py --data cifar10:/path/to/cifar-10-batches-py

The quick mode trains on a subset for a few epochs: enough for the early-training gap between
plain-20 and plain-56 to show, not for final accuracies.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NETWORKS = {
    "plain20": "specs/cifar/plain20.res",
    "plain56": "specs/cifar/plain56.res",
    "resnet20": "specs/cifar/resnet20.res",
    "resnet56": "specs/cifar/resnet56.res",
}

# One recipe for all four networks; only the size of the run differs between the modes.
# The quick runs are short (a few hundred steps), too short for a 56-layer net to recover from a
# cold start at rate 0.1, so they warm the rate up over the first epoch, all four alike.
QUICK = {
    "epochs": 8,
    "subset": 10000,
    "val_subset": 2000,
    "batch_size": 128,
    "lr": 0.1,
    "warmup": 1.0,
    "device": "cpu",
}
FULL = {"epochs": 12, "subset": None, "val_subset": None, "batch_size": 256, "lr": 0.1, "device": "auto"}
COMMON = {"momentum": 0.9, "weight_decay": 1e-4, "schedule": "multistep", "augment": "crop,flip", "seed": 0}


def settings(args: argparse.Namespace) -> dict[str, Any]:
    recipe = dict(QUICK if args.quick else FULL)
    recipe.update(COMMON)
    for key in ("epochs", "subset", "device", "amp"):
        value = getattr(args, key, None)
        if value is not None:
            recipe[key] = value
    if not args.quick and recipe["device"] != "cpu":
        recipe.setdefault("amp", "bf16")
        recipe["channels_last"] = True
    return recipe


def input_for(data: str) -> str | None:
    """Fashion-MNIST is 1x28x28; the CIFAR specs declare 3x32x32, which CIFAR-10 already is."""
    return "1x28x28" if data.startswith("fashion-mnist") else None


def machine() -> str:
    import os

    import torch

    where = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"
    if torch.cuda.is_available():
        where += f", {torch.cuda.get_device_name(0)}"
    return where


def curves(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "epoch": m["epoch"],
            "train_err": round(1.0 - m["train_acc"], 6),
            "test_err": round(1.0 - m["val_acc"], 6),
            "train_loss": m["train_loss"],
            "test_loss": m["val_loss"],
            "seconds": m["seconds"],
        }
        for m in metrics
    ]


def plot(results: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    colours = {"20": "tab:orange", "56": "tab:red"}
    for ax, family, label in ((axes[0], "plain", "plain"), (axes[1], "resnet", "ResNet")):
        for depth in ("20", "56"):
            runs = results[f"{family}{depth}"]
            epochs = [r["epoch"] for r in runs]
            ax.plot(
                epochs,
                [100 * r["train_err"] for r in runs],
                "--",
                marker="o",
                markersize=3,
                color=colours[depth],
                label=f"{label}-{depth} train",
            )
            ax.plot(
                epochs,
                [100 * r["test_err"] for r in runs],
                "-",
                marker="o",
                markersize=3,
                color=colours[depth],
                label=f"{label}-{depth} test",
            )
        ax.set_title(f"{label} networks")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("error (%)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="CPU mode: a subset and a few epochs")
    parser.add_argument("--data", default="fashion-mnist", help="fashion-mnist[:DIR] or cifar10:DIR")
    parser.add_argument("--epochs", type=int, help="override the mode's epochs")
    parser.add_argument("--subset", type=int, help="override the mode's training subset")
    parser.add_argument("--device", help="auto, cpu or cuda")
    parser.add_argument("--amp", help="bf16, fp16 or off")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the JSON and the figure")
    parser.add_argument(
        "--runs", type=Path, default=ROOT / "runs" / "degradation", help="training run folders"
    )
    parser.add_argument("--name", help="file stem (default: results / results-full)")
    args = parser.parse_args(argv)

    import resdsl.training as rt

    recipe = settings(args)
    name = args.name or ("results" if args.quick else "results-full")
    results: dict[str, Any] = {}
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for key, spec in NETWORKS.items():
        t0 = time.perf_counter()
        metrics = rt.train(
            ROOT / spec,
            data=args.data,
            input=input_for(args.data),
            out=args.runs / f"{name}-{key}",
            quiet=True,
            **recipe,
        )
        results[key] = curves(metrics)
        # Written after each network, so that a run cut short still leaves its finished curves.
        (args.out / f"{name}.partial.json").write_text(json.dumps(results, indent=2) + "\n")
        last = results[key][-1]
        print(
            f"{key:9s} train err {100 * last['train_err']:5.2f}%  test err {100 * last['test_err']:5.2f}%  "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    results["settings"] = {
        "mode": "quick" if args.quick else "full",
        "data": args.data,
        "input": input_for(args.data) or "3x32x32",
        "specs": NETWORKS,
        **recipe,
        "seconds": round(time.perf_counter() - start, 1),
        "machine": machine(),
        "command": " ".join(
            ["python", "experiments/degradation/run.py", *(argv if argv is not None else sys.argv[1:])]
        ),
    }
    (args.out / f"{name}.partial.json").unlink(missing_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    data_name = "Fashion-MNIST" if args.data.startswith("fashion") else "CIFAR-10"
    what = f"{recipe['epochs']} epochs" + (
        f", {recipe['subset']} training images" if recipe.get("subset") else ""
    )
    plot(
        results, args.out / f"{name}.png", f"Degradation on {data_name} ({what}); dashed: train, solid: test"
    )
    print(f"wrote {args.out / (name + '.json')} and {args.out / (name + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
