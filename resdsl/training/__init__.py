"""Training and evaluating compiled networks on real datasets (``resdsl train``, ``resdsl eval``).

    import resdsl.training as rt

    metrics = rt.train("specs/cifar/resnet20.res", data="fashion-mnist", input="1x28x28",
                       out="runs/r20", epochs=30)
    rt.evaluate("specs/cifar/resnet20.res", weights="runs/r20/best.pt", data="fashion-mnist",
                input="1x28x28")          # {"top1": ..., "top5": ..., "loss": ..., "n": 10000}

Modules, in the order a run uses them: ``options`` (the recipe and its defaults), ``data``
(dataset formats, in-memory batches, augmentation), ``schedule`` (learning rates), ``loop``
(the epochs), ``checkpoint``, ``distributed`` (torchrun), ``plots`` (curves.png) and
``commands`` (the CLI). Importing this package does not import torch; calling does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .options import DEFAULTS, OptionError, TrainingError, TrainingInterrupted, TrainOptions

__all__ = [
    "DEFAULTS",
    "OptionError",
    "TrainOptions",
    "TrainingError",
    "TrainingInterrupted",
    "evaluate",
    "plot_curves",
    "train",
]


def train(
    spec: str | Path, *, data: str, out: str | Path | None = None, **options: Any
) -> list[dict[str, Any]]:
    """Train ``spec`` on ``data``, writing into ``out``; returns one metrics dict per epoch.

    See :func:`resdsl.training.loop.train` for the arguments (``epochs``, ``input``, ``params``,
    ``resume``, and every :class:`TrainOptions` field).
    """
    from .loop import train as _train

    return _train(spec, data=data, out=out, **options)


def evaluate(spec: str | Path, *, weights: str | Path, data: str, **options: Any) -> dict[str, Any]:
    """Loss, top-1 and top-5 accuracy and image count of saved weights on the test split."""
    from .loop import evaluate as _evaluate

    return _evaluate(spec, weights=weights, data=data, **options)


def plot_curves(runs: Any, path: str | Path, title: str | None = None) -> None:
    """Loss and error curves of one run (a metrics list) or several (a dict of them)."""
    from .plots import plot_curves as _plot

    _plot(runs, Path(path), title)
