"""Learning-rate schedules: the rate at each optimizer step is a pure function of the step.

Being a function of the step alone, a schedule needs no state beyond the step counter, which
the checkpoint keeps, so a resumed run follows exactly the curve an uninterrupted one does.

* ``multistep``: the paper's recipe (He et al. 2015, section 4.2): the rate is divided by 10 at
  50% and 75% of training (32k and 48k of 64k iterations on CIFAR-10).
* ``cosine``: half a cosine from the full rate down to zero.
* ``onecycle``: linear from rate/20 up to the full rate over the first 25% (or the warm-up),
  then linear down to zero, as in fast CIFAR training recipes.
* ``constant``: the same rate throughout.

``warmup`` (epochs) ramps the rate linearly from rate/100 up to the full rate first; for
``onecycle`` it sets the length of the rising part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("multistep", "cosine", "onecycle", "constant")
MILESTONES = (0.5, 0.75)


@dataclass(frozen=True)
class Schedule:
    kind: str
    lr: float
    total_steps: int
    steps_per_epoch: int
    warmup_epochs: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"--schedule takes {', '.join(SCHEDULES)}, got {self.kind!r}")

    @property
    def warmup_steps(self) -> int:
        return min(self.total_steps, round(self.warmup_epochs * self.steps_per_epoch))

    def __call__(self, step: int) -> float:
        """The learning rate for optimizer step ``step`` (0-based)."""
        total = max(1, self.total_steps)
        warm = self.warmup_steps
        if self.kind == "onecycle":
            peak = warm if warm > 0 else max(1, round(0.25 * total))
            if step < peak:
                return self.lr * (0.05 + 0.95 * step / peak)
            return self.lr * max(0.0, (total - step) / max(1, total - peak))
        if step < warm:
            return self.lr * (0.01 + 0.99 * step / warm)
        if self.kind == "constant":
            return self.lr
        if self.kind == "multistep":
            drops = sum(step >= round(m * total) for m in MILESTONES)
            return self.lr * 0.1**drops
        t = (step - warm) / max(1, total - warm)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * t))
