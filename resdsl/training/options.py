"""The options of a training run, their defaults, and the errors a run reports (no torch here).

The defaults are a sensible recipe for the CIFAR-sized networks: SGD with momentum 0.9, rate
0.1, weight decay 1e-4 and batch 128 as in He et al. 2015 (section 4.2), a cosine schedule, and
pad-and-crop plus flip augmentation. ``--schedule multistep`` gives the paper's own schedule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

AMP_MODES = ("auto", "bf16", "fp16", "off")


@dataclass
class TrainOptions:
    # The recipe: kept in config.json and the checkpoint; --resume takes them from there.
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup: float = 0.0
    label_smoothing: float = 0.0
    augment: str = "crop,flip"
    subset: int | None = None
    val_subset: int | None = None
    seed: int = 0
    # How to run it: these may change from one invocation to the next.
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = False
    compile: bool = False
    workers: int = 4
    save_every: int = 0
    stop_after: int | None = None
    quiet: bool = False
    silent: bool = False

    RECIPE = (
        "epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "warmup",
        "label_smoothing", "augment", "subset", "val_subset", "seed",
    )  # fmt: skip

    @classmethod
    def resolve(cls, given: dict[str, Any], saved: dict[str, Any] | None = None) -> TrainOptions:
        """Defaults, then the resumed run's recipe, then the options given (None means not given)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(given) - names)
        if unknown:
            raise TypeError(f"unknown training option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name in cls.RECIPE:
            if saved and name in saved:
                values[name] = saved[name]
        values.update({k: v for k, v in given.items() if v is not None})
        options = cls(**values)
        options.check()
        return options

    def check(self) -> None:
        from .schedule import SCHEDULES

        def need(ok: bool, message: str) -> None:
            if not ok:
                raise OptionError(message)

        need(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        need(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        need(self.lr > 0, f"--lr must be positive, got {self.lr}")
        need(0 <= self.momentum < 1, f"--momentum must be in [0, 1), got {self.momentum}")
        need(self.weight_decay >= 0, f"--weight-decay must not be negative, got {self.weight_decay}")
        need(self.schedule in SCHEDULES, f"--schedule takes {', '.join(SCHEDULES)}, got {self.schedule!r}")
        need(self.warmup >= 0, f"--warmup must not be negative, got {self.warmup}")
        need(
            0 <= self.label_smoothing < 1, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}"
        )
        need(self.subset is None or self.subset >= 1, f"--subset must be at least 1, got {self.subset}")
        need(
            self.val_subset is None or self.val_subset >= 1,
            f"--val-subset must be at least 1, got {self.val_subset}",
        )
        need(self.amp in AMP_MODES, f"--amp takes {', '.join(AMP_MODES)}, got {self.amp!r}")
        need(self.save_every >= 0, f"--save-every must not be negative, got {self.save_every}")
        need(self.stop_after is None or self.stop_after >= 1, "--stop-after must be at least 1")
        from .data import parse_augment

        try:
            parse_augment(self.augment)
        except ValueError as err:
            raise OptionError(str(err)) from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def recipe(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k in self.RECIPE}


DEFAULTS = TrainOptions()


class OptionError(ValueError):
    """A bad option value (exit code 2)."""


class TrainingError(Exception):
    """A run that cannot go on: a loss that became NaN, no GPU, a bad checkpoint (exit code 1)."""

    def __init__(self, message: str, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.help = help

    def __str__(self) -> str:
        return self.message + (f"\nhelp: {self.help}" if self.help else "")


class TrainingInterrupted(Exception):
    """Ctrl-C: last.pt was saved where the run stopped (exit code 130)."""

    def __init__(self, path: str, epoch: int, step: int) -> None:
        where = f"in epoch {epoch + 1} after step {step}" if step else f"after epoch {epoch}"
        super().__init__(f"interrupted {where}; saved {path}")
        self.path = path
        self.epoch = epoch
        self.step = step
