"""``resdsl train`` and ``resdsl eval``: the command-line faces of :mod:`resdsl.training.loop`.

cli.py registers these two functions (``app.command()(guard(train))``). They take ``-D``,
``--input`` and ``--network`` exactly as ``resdsl compile`` does (the same option types), check
the spec through the same ``build`` (so its diagnostics print the same way), and import torch
only when they run, so that ``check`` and ``summary`` stay torch-free.

Exit codes: 0 done, 1 a bad spec, dataset or checkpoint, or a loss that became NaN, 2 a bad
option, 130 interrupted (after saving last.pt).
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from .options import DEFAULTS, OptionError, TrainingError, TrainingInterrupted


class ScheduleChoice(str, Enum):
    multistep = "multistep"
    cosine = "cosine"
    onecycle = "onecycle"
    constant = "constant"


class AmpChoice(str, Enum):
    auto = "auto"
    bf16 = "bf16"
    fp16 = "fp16"
    off = "off"


class EvalFormat(str, Enum):
    table = "table"
    json = "json"


DATA_HELP = "fashion-mnist[:DIR], cifar10:DIR or imagefolder:DIR (train/ and val/ class folders)."


def _default(name: str) -> str:
    return f"[default: {getattr(DEFAULTS, name)}, or the resumed run's]"


def _params(defines: list[str] | None) -> dict[str, Any]:
    """``["n=9", "policy=none"]`` -> ``{"n": "9", "policy": "none"}`` (already checked by build)."""
    return {name.strip(): value for name, _, value in (d.partition("=") for d in defines or [])}


def _fail(err: Exception, code: int) -> typer.Exit:
    sys.stderr.write(f"error: {err}\n")
    sys.stderr.flush()
    return typer.Exit(code)


def _is_rank0() -> bool:
    """Under torchrun only rank 0 reports; errors are reported by every process."""
    return os.environ.get("RANK", "0") == "0"


def _torch_or_exit() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise _fail(
            Exception("training needs PyTorch; install it with: pip install 'resdsl[torch]'"), 2
        ) from None


def train(
    spec: Annotated[Path, typer.Argument(help="The spec file.")],
    data: Annotated[str, typer.Option("--data", help=DATA_HELP, metavar="DATASET")],
    defines: Defines = None,
    input: InputOpt = None,
    network: NetworkOpt = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help=f"Epochs in all. {_default('epochs')}")
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", help=f"Images per step, over all processes. {_default('batch_size')}"),
    ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help=f"Peak learning rate. {_default('lr')}")] = None,
    momentum: Annotated[
        float | None, typer.Option("--momentum", help=f"SGD momentum. {_default('momentum')}")
    ] = None,
    weight_decay: Annotated[
        float | None,
        typer.Option("--weight-decay", "--wd", help=f"L2 weight decay. {_default('weight_decay')}"),
    ] = None,
    schedule: Annotated[
        ScheduleChoice | None,
        typer.Option(
            "--schedule",
            help="Learning-rate schedule; multistep is the paper's (rate / 10 at 50% and 75%). "
            + _default("schedule"),
        ),
    ] = None,
    warmup: Annotated[
        float | None, typer.Option("--warmup", help=f"Epochs of linear warm-up. {_default('warmup')}")
    ] = None,
    label_smoothing: Annotated[
        float | None,
        typer.Option("--label-smoothing", help=f"Label smoothing of the loss. {_default('label_smoothing')}"),
    ] = None,
    augment: Annotated[
        str | None,
        typer.Option(
            "--augment", help=f"crop, flip, crop,flip or none. {_default('augment')}", metavar="LIST"
        ),
    ] = None,
    subset: Annotated[
        int | None, typer.Option("--subset", help="Train on the first N training images.", metavar="N")
    ] = None,
    val_subset: Annotated[
        int | None, typer.Option("--val-subset", help="Test on the first N test images.", metavar="N")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help=f"Seed of the weights, batches and augmentation. {_default('seed')}"),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    amp: Annotated[
        AmpChoice, typer.Option("--amp", help="Mixed precision; auto is bf16 on a GPU, off on the CPU.")
    ] = AmpChoice.auto,
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="NHWC memory layout (faster on GPUs).")
    ] = False,
    compile: Annotated[bool, typer.Option("--compile", help="Compile the model with torch.compile.")] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Threads decoding image files (imagefolder).", min=1)
    ] = DEFAULTS.workers,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Run folder [default: runs/<spec>-<date>-<time>].", metavar="DIR"),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last.pt.")
    ] = False,
    save_every: Annotated[
        int, typer.Option("--save-every", help="Also save last.pt every N steps (0: at epoch ends).", min=0)
    ] = 0,
    stop_after: Annotated[
        int | None,
        typer.Option(
            "--stop-after", help="Stop after epoch N, resumable (the schedule still spans --epochs)."
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="One line per epoch, no progress bar.")
    ] = False,
) -> None:
    """Train a network on a dataset; write config.json, metrics.jsonl, curves.png, last.pt, best.pt."""
    from ..diagnostics import ResdslError

    build(spec, defines, input, network)
    _torch_or_exit()
    from .loop import train as run

    options = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "schedule": schedule.value if schedule else None,
        "warmup": warmup,
        "label_smoothing": label_smoothing,
        "augment": augment,
        "subset": subset,
        "val_subset": val_subset,
        "seed": seed,
        "device": device,
        "amp": amp.value,
        "channels_last": channels_last,
        "compile": compile,
        "workers": workers,
        "save_every": save_every,
        "stop_after": stop_after,
        "quiet": quiet,
    }
    try:
        history = run(
            spec,
            data=data,
            out=out,
            input=input,
            network=network,
            params=_params(defines),
            resume=resume,
            **options,
        )
    except TrainingInterrupted as err:
        if _is_rank0():
            sys.stderr.write(f"{err}\nnote: continue with --resume --out {Path(err.path).parent}\n")
        raise typer.Exit(130) from None
    except OptionError as err:
        raise UsageError(str(err)) from None
    except TrainingError as err:
        raise _fail(err, 1) from None
    except ResdslError as err:
        _report(err.diagnostics, {})
        raise typer.Exit(1) from None
    if history and not quiet and _is_rank0():
        best = max(history, key=lambda m: m["val_acc"])
        sys.stderr.write(
            f"best test accuracy {100 * best['val_acc']:.2f}% (epoch {best['epoch']}), "
            f"last {100 * history[-1]['val_acc']:.2f}%\n"
        )


def eval_(
    spec: Annotated[Path, typer.Argument(help="The spec file.")],
    weights: Annotated[
        Path, typer.Option("--weights", help="best.pt, last.pt, or a bare state_dict.", metavar="CKPT")
    ],
    data: Annotated[str, typer.Option("--data", help=DATA_HELP, metavar="DATASET")],
    defines: Defines = None,
    input: InputOpt = None,
    network: NetworkOpt = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    amp: Annotated[
        AmpChoice | None, typer.Option("--amp", help="Mixed precision [default: the run's].")
    ] = None,
    val_subset: Annotated[
        int | None,
        typer.Option(
            "--val-subset", help="Test on the first N test images [default: the run's].", metavar="N"
        ),
    ] = None,
    format: Annotated[EvalFormat, typer.Option("--format", help="table or json.")] = EvalFormat.table,
) -> None:
    """Test-set accuracy (top-1, top-5) and loss of trained weights."""
    from ..diagnostics import ResdslError

    build(spec, defines, input, network)
    _torch_or_exit()
    from .loop import evaluate

    try:
        result = evaluate(
            spec,
            weights=weights,
            data=data,
            input=input,
            network=network,
            params=_params(defines),
            device=device,
            amp=amp.value if amp else None,
            val_subset=val_subset,
        )
    except OptionError as err:
        raise UsageError(str(err)) from None
    except TrainingError as err:
        raise _fail(err, 1) from None
    except ResdslError as err:
        _report(err.diagnostics, {})
        raise typer.Exit(1) from None
    if format is EvalFormat.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    n = result["n"]
    table = Table(title=f"{result['network']} on {result['data']}", caption=str(result["weights"]))
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("top-1 accuracy", f"{100 * result['top1']:.2f}% ({round(result['top1'] * n):,} / {n:,})")
    table.add_row("top-5 accuracy", f"{100 * result['top5']:.2f}%")
    table.add_row("loss", f"{result['loss']:.4f}")
    Console().print(table)


# cli.py imports this module at its end and registers the commands above; the option types
# come from cli.py so that -D, --input and --network read the same everywhere. Imported last,
# this works whichever of the two modules is imported first.
from ..cli import Defines, InputOpt, NetworkOpt, _report, build  # noqa: E402
from ..pipeline import UsageError  # noqa: E402
