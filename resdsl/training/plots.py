"""Training curves drawn as in the paper's figures: training dashed, test solid.

``plot_curves(metrics, path)`` draws one run; ``plot_curves({"plain-20": m1, "ResNet-20": m2},
path)`` draws several in one figure, one colour each (He et al. 2015, Figure 6). Rendering uses
matplotlib's Agg canvas directly, never pyplot, so it needs no display and no global state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write

Metrics = Sequence[Mapping[str, Any]]


def plot_curves(runs: Metrics | Mapping[str, Metrics], path: Path, title: str | None = None) -> None:
    """Loss and error (%) against epoch, written atomically as a PNG."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    named: Mapping[str, Metrics] = runs if isinstance(runs, Mapping) else {"": runs}
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    loss_ax, err_ax = fig.subplots(1, 2)
    colors = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"]
    for i, (name, metrics) in enumerate(named.items()):
        color = colors[i % len(colors)]
        epochs = [m["epoch"] for m in metrics]
        prefix = f"{name} " if name else ""
        for key, style, label in (("train", "--", "train"), ("val", "-", "test")):
            loss_ax.plot(
                epochs, [m[f"{key}_loss"] for m in metrics], style, color=color, label=f"{prefix}{label}"
            )
            err_ax.plot(
                epochs,
                [100.0 * (1.0 - m[f"{key}_acc"]) for m in metrics],
                style,
                color=color,
                label=f"{prefix}{label}",
            )
    loss_ax.set_ylabel("loss")
    err_ax.set_ylabel("error (%)")
    for ax in (loss_ax, err_ax):
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write(Path(path), buffer.getvalue())
