"""Training and evaluating a compiled network: the loop, its checkpoints and its logs.

:func:`train` compiles the spec, reads the dataset into memory (on the GPU when training
there), and runs SGD epochs; after each epoch rank 0 appends a line to ``metrics.jsonl``, saves
``last.pt`` (and ``best.pt`` when the test accuracy improved) and redraws ``curves.png``.

Exact resumption: the batches and augmentations of epoch ``e`` come from a generator seeded by
``(seed, e)`` alone, the learning rate is a function of the step count, and the checkpoint keeps
the weights, the optimizer's momentum, the step count and the random generators' states. On the
CPU a run stopped after epoch 2 and resumed to epoch 3 ends with exactly the weights of an
uninterrupted 3-epoch run (on a GPU, up to cuDNN's nondeterminism).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from ..fsutil import atomic_write
from . import checkpoint, distributed
from .checkpoint import CheckpointError
from .data import Batches, Dataset, DatasetError, channel_stats, epoch_seed, load_dataset, parse_augment
from .distributed import Dist
from .options import OptionError, TrainingError, TrainingInterrupted, TrainOptions
from .schedule import Schedule

EVAL_BATCH = 500

# --- building the network ---------------------------------------------------------------------


@dataclass
class Built:
    """A compiled spec: the checked IR, the generated class, and the files it came from."""

    network: Any  # resdsl.ir.Network
    cls: type[nn.Module]
    sources: dict[str, str]  # every file read, the spec first
    spec_text: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.network.input_shape)  # type: ignore[return-value]


def build_network(
    spec: str | Path,
    *,
    input: str | None = None,
    network: str | None = None,
    params: dict[str, Any] | None = None,
) -> Built:
    """Compile ``spec`` to PyTorch and import the generated class (ResdslError on errors)."""
    from ..backends import EmitOptions
    from ..backends.torch import _define, class_name, emit, import_source
    from ..diagnostics import ResdslError
    from ..pipeline import analyze

    result = analyze(
        Path(spec), network=network, defines=[_define(k, v) for k, v in (params or {}).items()], input=input
    )
    if not result.ok or not result.networks:
        raise ResdslError([d for d in result.diagnostics if d.is_error])
    net = result.network
    code = emit(net, EmitOptions(spec_path=str(spec)))
    module = import_source(code, f"<resdsl {net.name}>")
    sources = {path: src.text for path, src in result.sources.items() if not path.startswith("<")}
    main = result.program.main.path if result.program is not None else ""
    spec_text = sources.get(main) or Path(spec).read_text(encoding="utf-8")
    return Built(net, getattr(module, class_name(net.name)), sources, spec_text)


def check_fit(built: Built, dataset: Dataset, data: str) -> None:
    """The dataset's images must be the network's input; say how to make them fit."""
    shape = dataset.shape if dataset.train_x.numel() else tuple(dataset.test_x.shape[1:])
    if tuple(shape) == built.shape:
        return
    have = "x".join(map(str, shape))
    want = "x".join(map(str, built.shape))
    raise DatasetError(
        f"`{data}` has {have} images but `{built.network.name}` takes {want}",
        help=f"build the network for these images with --input {have}",
    )


# --- devices and precision --------------------------------------------------------------------


def pick_device(option: str, dist: Dist) -> torch.device:
    option = option.strip().lower()
    if option == "auto":
        option = "cuda" if torch.cuda.is_available() else "cpu"
    if option.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainingError(
                f"--device {option}: no CUDA GPU is available (torch {torch.__version__})",
                help="use --device cpu, or --device auto to take a GPU only when there is one",
            )
        if option == "cuda":
            return torch.device("cuda", dist.local_rank if dist.enabled else torch.cuda.current_device())
        return torch.device(option)
    if option != "cpu":
        raise OptionError(f"--device takes auto, cpu, cuda or cuda:N, got {option!r}")
    return torch.device("cpu")


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    if mode == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if mode == "fp16" and device.type != "cuda":
        raise OptionError("--amp fp16 needs a GPU; use --amp bf16 or --amp off on the CPU")
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mode)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


# --- evaluation ---------------------------------------------------------------------------------


@torch.no_grad()
def run_eval(
    model: nn.Module, batches: Batches, device: torch.device, dtype: torch.dtype | None, dist: Dist
) -> dict[str, float]:
    """Loss (mean cross-entropy), top-1 and top-5 accuracy as fractions, and the image count."""
    was_training = model.training
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)
    for x, y in batches.epoch(0, 0):
        with _autocast(device, dtype):
            out = model(x)
        out = out.float()
        k = min(5, out.shape[1])
        top = out.topk(k, dim=1).indices
        hit = top == y[:, None]
        loss = nn.functional.cross_entropy(out, y, reduction="sum")
        count = torch.tensor(float(len(y)), dtype=torch.float64, device=device)
        sums += torch.stack([loss.double(), hit[:, 0].sum().double(), hit.any(1).sum().double(), count])
    distributed.all_sum(sums, dist)
    loss_sum, top1, top5, n = sums.tolist()
    model.train(was_training)
    n = max(n, 1.0)
    return {"loss": loss_sum / n, "top1": top1 / n, "top5": top5 / n, "n": int(n)}


# --- what a run prints --------------------------------------------------------------------------


class Log:
    """Notes and the progress bar go to stderr; one line per epoch to stdout. Rank 0 only."""

    def __init__(self, opts: TrainOptions, dist: Dist) -> None:
        self.on = dist.is_main and not opts.silent
        self.quiet = opts.quiet
        self.bar = self.on and not opts.quiet and sys.stderr.isatty()
        self.progress: Any = None

    def note(self, text: str) -> None:
        if self.on:
            sys.stderr.write(f"note: {text}\n")
            sys.stderr.flush()

    def info(self, text: str) -> None:
        if self.on and not self.quiet:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        if not self.bar:
            yield
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[ips]} img/s"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as progress:
            self.progress = progress
            try:
                yield
            finally:
                self.progress = None

    def start(self, label: str, steps: int, done: int) -> Any:
        if self.progress is None:
            return None
        return self.progress.add_task("", total=steps, completed=done, epoch=label, loss="-", ips="-")

    def update(self, task: Any, done: int, loss: float, ips: float) -> None:
        if self.progress is not None and task is not None:
            self.progress.update(task, completed=done, loss=f"{loss:.4f}", ips=f"{ips:,.0f}")

    def finish(self, task: Any) -> None:
        if self.progress is not None and task is not None:
            self.progress.remove_task(task)

    def epoch(self, m: dict[str, Any], epochs: int) -> None:
        if not self.on:
            return
        width = len(str(epochs))
        sys.stdout.write(
            f"epoch {m['epoch']:>{width}}/{epochs}  "
            f"train loss {m['train_loss']:.4f} acc {100 * m['train_acc']:.2f}%  "
            f"test loss {m['val_loss']:.4f} acc {100 * m['val_acc']:.2f}%  "
            f"lr {m['lr']:.4g}  {m['img_per_s']:,.0f} img/s  {m['seconds']:.1f}s\n"
        )
        sys.stdout.flush()


class StopFlag:
    """The first Ctrl-C asks the run to stop after the current step; a second one quits at once."""

    def __init__(self) -> None:
        self.raised = False
        self.installed = False
        self.previous: Any = None

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True
        sys.stderr.write("\nstopping after this step to save last.pt (Ctrl-C again to quit at once)\n")
        sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)


# --- training ----------------------------------------------------------------------------------


def train(
    spec: str | Path,
    *,
    data: str,
    out: str | Path | None = None,
    input: str | None = None,
    network: str | None = None,
    params: dict[str, Any] | None = None,
    resume: bool = False,
    **options: Any,
) -> list[dict[str, Any]]:
    """Train the network of ``spec`` on ``data``; return the metrics of every epoch.

    ``options`` are :class:`~resdsl.training.options.TrainOptions` fields (``epochs``,
    ``batch_size``, ``lr``, ``schedule``, ``subset``, ``seed``, ``device``, ``amp``, ...); None
    means the default, or with ``resume`` the value the run was started with. ``params`` set
    network parameters (as ``-D`` does) and ``input`` overrides the input shape (as ``--input``).
    Raises TrainingError (DatasetError, CheckpointError), OptionError, ResdslError (a bad spec)
    and TrainingInterrupted (Ctrl-C, after saving last.pt).
    """
    dist = distributed.from_env()
    saved = None
    out_dir = Path(out) if out is not None else None
    if resume:
        if out_dir is None:
            raise OptionError("--resume needs --out DIR, the folder of the run to continue")
        path = out_dir / "last.pt"
        if not path.is_file():
            raise TrainingError(
                f"--resume: no `{path}` to continue from", help="start the run without --resume"
            )
        saved = checkpoint.load(path)
        if saved.get("format") != checkpoint.FORMAT or "optimizer" not in saved:
            raise CheckpointError(f"`{path}` is not a resdsl training checkpoint")
    opts = TrainOptions.resolve(options, (saved or {}).get("config", {}).get("options"))
    if out_dir is None:
        out_dir = Path("runs") / f"{Path(spec).stem}-{datetime.now():%Y%m%d-%H%M%S}"
    device = pick_device(opts.device, dist)
    distributed.setup(dist, device)
    finished = False
    try:
        run = _Run(Path(spec), data, out_dir, input, network, params or {}, opts, saved, dist, device)
        metrics = run.run()
        finished = True
        return metrics
    finally:
        distributed.teardown(dist, finished)


class _Run:
    def __init__(
        self,
        spec: Path,
        data: str,
        out: Path,
        input: str | None,
        network: str | None,
        params: dict[str, Any],
        opts: TrainOptions,
        saved: dict[str, Any] | None,
        dist: Dist,
        device: torch.device,
    ) -> None:
        self.spec, self.data, self.out = spec, data, out
        self.input, self.network_name, self.params = input, network, params
        self.opts, self.saved, self.dist, self.device = opts, saved, dist, device
        self.log = Log(opts, dist)
        self.epoch = 0  # epochs completed
        self.step_in_epoch = 0  # batches done of the next epoch
        self.step = 0  # optimizer steps in all
        self.partial: dict[str, float] | None = None
        self.history: list[dict[str, Any]] = []
        self.best_acc = -1.0

    # -- setting up --

    def run(self) -> list[dict[str, Any]]:
        opts, dist, device, log = self.opts, self.dist, self.device, self.log
        built = build_network(self.spec, input=self.input, network=self.network_name, params=self.params)
        self.built = built
        dataset = load_dataset(self.data, shape=built.shape, workers=opts.workers)
        check_fit(built, dataset, self.data)
        if dataset.train_x.shape[0] == 0 or dataset.test_x.shape[0] == 0:
            raise DatasetError(f"`{self.data}` has no training or no test images")
        train_x, train_y = dataset.train_x, dataset.train_y
        test_x, test_y = dataset.test_x, dataset.test_y
        if opts.subset is not None:
            train_x, train_y = train_x[: opts.subset], train_y[: opts.subset]
        if opts.val_subset is not None:
            test_x, test_y = test_x[: opts.val_subset], test_y[: opts.val_subset]
        self.num_classes = dataset.num_classes
        if self.num_classes != built.network.classes:
            log.note(
                f"the classifier is built for the dataset's {self.num_classes} classes "
                f"(`{built.network.name}` declares {built.network.classes})"
            )
        if self.saved is not None:
            norm = self.saved["normalize"]
            self.mean, self.std = list(norm["mean"]), list(norm["std"])
        else:
            self.mean, self.std = channel_stats(train_x)

        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        torch.manual_seed(opts.seed)
        model = built.cls(num_classes=self.num_classes)
        if self.saved is not None:
            load_weights(model, checkpoint.model_state(self.saved), str(self.out / "last.pt"), self.saved)
        model.to(device)
        if opts.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        self.dtype = amp_dtype(opts.amp, device)

        if opts.batch_size % dist.world:
            raise OptionError(f"--batch-size {opts.batch_size} does not divide among {dist.world} processes")
        augment = parse_augment(opts.augment)
        self.train_batches = Batches(
            train_x.to(device),
            train_y.to(device),
            self.mean,
            self.std,
            opts.batch_size,
            augment=augment,
            train=True,
            rank=dist.rank,
            world=dist.world,
            channels_last=opts.channels_last,
        )
        self.val_batches = Batches(
            test_x.to(device),
            test_y.to(device),
            self.mean,
            self.std,
            EVAL_BATCH,
            train=False,
            rank=dist.rank,
            world=dist.world,
            channels_last=opts.channels_last,
        )
        steps = len(self.train_batches)
        if steps == 0:
            raise OptionError(f"{train_x.shape[0]} training images are too few for {dist.world} processes")

        wrapped = distributed.wrap(model, dist, device)
        self.forward_train: Callable[..., torch.Tensor] = wrapped
        self.forward_eval: nn.Module = model
        if opts.compile:
            self.forward_eval = torch.compile(model)  # type: ignore[assignment]
            self.forward_train = torch.compile(wrapped) if wrapped is not model else self.forward_eval
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=opts.lr, momentum=opts.momentum, weight_decay=opts.weight_decay
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype is torch.float16)
        self.schedule = Schedule(opts.schedule, opts.lr, opts.epochs * steps, steps, opts.warmup)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=opts.label_smoothing)
        self.config = self._config(built, dataset, train_x.shape[0], test_x.shape[0])
        if self.saved is not None:
            self._restore(self.saved)
        self._prepare_folder()

        stop_epoch = min(opts.epochs, opts.stop_after or opts.epochs)
        precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        log.info(
            f"training `{built.network.name}` ({sum(p.numel() for p in model.parameters()):,} parameters) on "
            f"{dataset.name}: {train_x.shape[0]:,} training, {test_x.shape[0]:,} test images "
            f"{'x'.join(map(str, built.shape))}, {self.num_classes} classes; {device}, {precision}"
            + (f", {dist.world} processes" if dist.world > 1 else "")
        )
        log.info(
            f"{opts.epochs} epochs of {steps} steps, batch {opts.batch_size}, lr {opts.lr} {opts.schedule}; "
            f"writing {self.out}"
        )
        if self.epoch >= stop_epoch:
            log.note(f"nothing to do: the run has trained {self.epoch} of {opts.epochs} epochs")
            return self.history
        with StopFlag() as flag, log.live():
            while self.epoch < stop_epoch:
                self._epoch(flag)
                if self.epoch < stop_epoch and distributed.any_flag(flag.raised, dist, device):
                    raise TrainingInterrupted(str(self.out / "last.pt"), self.epoch, 0)
        return self.history

    def _config(self, built: Built, dataset: Dataset, n_train: int, n_test: int) -> dict[str, Any]:
        net = built.network
        config = {
            "resdsl": __version__,
            "torch": str(torch.__version__),
            "spec": str(self.spec),
            "spec_text": built.spec_text,
            "sources": built.sources,
            "network": net.name,
            "params": {k: v if isinstance(v, (bool, int, float)) else str(v) for k, v in self.params.items()},
            "network_params": {k: str(v) for k, v in net.params.items()},
            "input": self.input,
            "input_shape": list(built.shape),
            "num_classes": self.num_classes,
            "data": self.data,
            "train_images": n_train,
            "test_images": n_test,
            "normalize": {"mean": self.mean, "std": self.std},
            "options": self.opts.to_json(),
            "world_size": self.dist.world,
            "device": str(self.device),
        }
        # Through JSON and back: plain str, int, float, list and dict only, as weights_only wants.
        return json.loads(json.dumps(config, default=str))

    def _restore(self, saved: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scaler.is_enabled() and "scaler" in saved:
            self.scaler.load_state_dict(saved["scaler"])
        self.epoch = int(saved["epoch"])
        self.step_in_epoch = int(saved.get("step_in_epoch", 0))
        self.step = int(saved["step"])
        self.partial = saved.get("partial")
        self.history = [dict(m) for m in saved.get("history", [])]
        self.best_acc = float(saved.get("best_acc", -1.0))
        checkpoint.set_rng_state(saved.get("rng", {}), self.device)
        before = (saved.get("config") or {}).get("options", {}).get("epochs")
        if before is not None and before != self.opts.epochs:
            self.log.note(
                f"the run was started for {before} epochs; its schedule now spans {self.opts.epochs}"
            )
        if self.step_in_epoch >= len(self.train_batches):
            raise CheckpointError(
                f"`{self.out / 'last.pt'}` stopped at step {self.step_in_epoch} of an epoch that now has "
                f"{len(self.train_batches)} steps",
                help="resume with the run's --batch-size and --subset",
            )

    def _prepare_folder(self) -> None:
        if not self.dist.is_main:
            return
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            if self.saved is None and _is_run_folder(self.out):
                stale = [
                    self.out / n for n in ("last.pt", "best.pt", "curves.png") if (self.out / n).exists()
                ]
                if stale:
                    self.log.note(
                        f"`{self.out}` held an earlier run: starting afresh (--resume continues one)"
                    )
                for path in stale:
                    path.unlink()
            atomic_write(self.out / "config.json", json.dumps(self.config, indent=2) + "\n")
            self._write_metrics()
        except OSError as err:
            raise TrainingError(
                f"cannot write to `{self.out}`: {(err.strerror or str(err)).lower()}"
            ) from None

    # -- one epoch --

    def _epoch(self, flag: StopFlag) -> None:
        opts, dist, device, log = self.opts, self.dist, self.device, self.log
        epoch, start = self.epoch, self.step_in_epoch
        steps = len(self.train_batches)
        self.model.train()
        sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss x images, correct, images
        seconds_before = images_before = 0.0
        if self.partial is not None and start > 0:
            if dist.is_main:
                sums += torch.tensor(
                    [self.partial["loss_sum"], self.partial["correct"], self.partial["count"]],
                    dtype=torch.float64,
                    device=device,
                )
            seconds_before, images_before = self.partial["seconds"], self.partial["count"]
        else:
            start = 0
            # Dropout and any other randomness of the forward pass: seeded per epoch (and rank).
            torch.manual_seed(epoch_seed(opts.seed, 1_000_003 * (dist.rank + 1) + epoch))
        log_every = max(1, steps // 50)
        task = log.start(f"{epoch + 1}/{opts.epochs}", steps, start)
        began = time.perf_counter()
        lr = self.schedule(self.step)
        for done, (x, y) in enumerate(self.train_batches.epoch(opts.seed, epoch, start), start=start + 1):
            lr = self.schedule(self.step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            with _autocast(device, self.dtype):
                out = self.forward_train(x)
                loss = self.criterion(out, y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            with torch.no_grad():
                sums[0] += loss.detach().double() * y.shape[0]
                sums[1] += (out.argmax(1) == y).sum()
                sums[2] += y.shape[0]
            stop = False
            if done % log_every == 0 or done == steps:
                value = loss.item()
                if not math.isfinite(value):
                    raise TrainingError(
                        f"the training loss became {value} in epoch {epoch + 1} at step {done} of {steps} "
                        f"(lr {lr:.4g}); the run stops here",
                        help=f"lower --lr or add --warmup; {self.out}/last.pt keeps the last good epoch",
                    )
                elapsed = time.perf_counter() - began
                log.update(task, done, value, (done - start) * opts.batch_size / max(elapsed, 1e-9))
                stop = distributed.any_flag(flag.raised, dist, device)
            elif dist.world == 1:
                stop = flag.raised
            save_now = opts.save_every and self.step % opts.save_every == 0
            if done < steps and (stop or save_now):
                partial = distributed.all_sum(sums.clone(), dist).tolist()
                self.step_in_epoch = done
                self.partial = {
                    "loss_sum": partial[0],
                    "correct": partial[1],
                    "count": partial[2],
                    "seconds": seconds_before + time.perf_counter() - began,
                }
                self._save_last()
                if stop:
                    raise TrainingInterrupted(str(self.out / "last.pt"), epoch, done)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = seconds_before + time.perf_counter() - began
        loss_sum, correct, count = distributed.all_sum(sums, dist).tolist()
        if not math.isfinite(loss_sum):
            raise TrainingError(
                f"the training loss became {loss_sum} in epoch {epoch + 1} (lr {lr:.4g}); the run stops here",
                help=f"lower --lr or add --warmup; {self.out}/last.pt keeps the last good epoch",
            )
        log.finish(task)

        eval_began = time.perf_counter()
        distributed.sync_buffers(self.model, dist)
        val = run_eval(self.forward_eval, self.val_batches, device, self.dtype, dist)
        eval_seconds = time.perf_counter() - eval_began
        seconds = train_seconds + eval_seconds
        entry = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / count,
            "train_acc": correct / count,
            "val_loss": val["loss"],
            "val_acc": val["top1"],
            "val_top5": val["top5"],
            "lr": lr,
            "img_per_s": (count - images_before) / max(train_seconds - seconds_before, 1e-9),
            "seconds": seconds,
            "elapsed": (self.history[-1]["elapsed"] if self.history else 0.0) + seconds,
        }
        self.history.append(entry)
        self.epoch, self.step_in_epoch, self.partial = epoch + 1, 0, None
        is_best = entry["val_acc"] > self.best_acc
        if is_best:
            self.best_acc = entry["val_acc"]
        self._save_last()
        if is_best:
            self._save(self.out / "best.pt", full=False)
        if dist.is_main:
            self._write_metrics()
            try:
                from .plots import plot_curves

                plot_curves(
                    self.history, self.out / "curves.png", title=f"{self.built.network.name} on {self.data}"
                )
            except Exception as err:  # a figure is not worth a run
                log.note(f"could not draw curves.png: {err}")
        log.epoch(entry, opts.epochs)

    # -- writing --

    def _payload(self, full: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model.state_dict(),
            "network": self.built.network.name,
            "num_classes": self.num_classes,
            "input": list(self.built.shape),
            "normalize": {"mean": self.mean, "std": self.std},
            "config": self.config,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "step": self.step,
            "partial": self.partial,
            "history": self.history,
            "best_acc": self.best_acc,
        }
        if full:
            payload["optimizer"] = self.optimizer.state_dict()
            payload["rng"] = checkpoint.rng_state(self.device)
            if self.scaler.is_enabled():
                payload["scaler"] = self.scaler.state_dict()
        return payload

    def _save(self, path: Path, full: bool) -> None:
        if not self.dist.is_main:
            return
        try:
            checkpoint.save(path, self._payload(full))
        except OSError as err:
            raise TrainingError(f"cannot write `{path}`: {(err.strerror or str(err)).lower()}") from None

    def _save_last(self) -> None:
        self._save(self.out / "last.pt", full=True)

    def _write_metrics(self) -> None:
        lines = "".join(json.dumps(m) + "\n" for m in self.history)
        atomic_write(self.out / "metrics.jsonl", lines)


def _is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds an earlier resdsl run (its config.json says so)."""
    try:
        return "resdsl" in json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


# --- weights and evaluation -----------------------------------------------------------------------


def load_weights(
    model: nn.Module, state: dict[str, Any], where: str, saved: dict[str, Any] | None = None
) -> None:
    """Load a state_dict strictly; a mismatch names the keys and shapes that differ."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"`{k}`: file {list(state[k].shape)}, network {list(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(f"{len(shapes)} shape{'s' if len(shapes) > 1 else ''} differ ({shapes[0]})")
        if missing:
            parts.append(f"{len(missing)} missing (`{missing[0]}`...)")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (`{unexpected[0]}`...)")
        help = "build the network as it was trained (the same spec, -D values and --input)"
        config = (saved or {}).get("config") or {}
        if config:
            flags = [f"-D {k}={v}" for k, v in (config.get("params") or {}).items()]
            if config.get("input"):
                flags.append(f"--input {config['input']}")
            help += f"; it was trained from {config.get('spec')}" + (
                f" with {' '.join(flags)}" if flags else ""
            )
        raise CheckpointError(
            f"the weights in `{where}` do not fit the network: {'; '.join(parts)}", help=help
        )
    model.load_state_dict(state, strict=True)


def evaluate(
    spec: str | Path,
    *,
    weights: str | Path,
    data: str,
    input: str | None = None,
    network: str | None = None,
    params: dict[str, Any] | None = None,
    device: str = "auto",
    amp: str | None = None,
    channels_last: bool | None = None,
    val_subset: int | None = None,
    batch_size: int = EVAL_BATCH,
) -> dict[str, Any]:
    """Test-set loss, top-1 and top-5 accuracy (fractions) and image count of saved weights.

    ``weights`` is a checkpoint (``best.pt``, ``last.pt``: the weights under ``model``) or a bare
    state_dict. A checkpoint also supplies the normalisation, the number of classes, and by
    default the run's ``--val-subset``, ``--amp`` and ``--channels-last``, so that the figures are
    those the run logged; a bare state_dict is normalised with the training split's statistics.
    """
    obj = checkpoint.load(Path(weights))
    state = checkpoint.model_state(obj)
    options = (obj.get("config") or {}).get("options") or {}
    if val_subset is None:
        val_subset = options.get("val_subset")
    amp = amp or options.get("amp") or "auto"
    if channels_last is None:
        channels_last = bool(options.get("channels_last", False))
    dist = Dist()
    dev = pick_device(device, dist)
    dtype = amp_dtype(amp, dev)
    built = build_network(spec, input=input, network=network, params=params)
    norm = obj.get("normalize")
    dataset = load_dataset(data, shape=built.shape, splits=("test",) if norm else ("train", "test"))
    check_fit(built, dataset, data)
    if norm:
        mean, std = list(norm["mean"]), list(norm["std"])
    else:
        mean, std = channel_stats(dataset.train_x)
    num_classes = int(obj.get("num_classes") or dataset.num_classes)
    model = built.cls(num_classes=num_classes)
    load_weights(model, state, str(weights), obj)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    x, y = dataset.test_x, dataset.test_y
    if val_subset is not None:
        x, y = x[:val_subset], y[:val_subset]
    batches = Batches(x.to(dev), y.to(dev), mean, std, batch_size, train=False, channels_last=channels_last)
    result = run_eval(model, batches, dev, dtype, dist)
    return {**result, "network": built.network.name, "weights": str(weights), "data": data}
