"""Checkpoints: plain dicts of tensors, numbers and strings, written atomically.

Every checkpoint loads with ``torch.load(path, weights_only=True)``. Its keys:

``model``       the network's state_dict (torchvision names, no ``module.`` prefix): what
                ``resdsl eval --weights`` and ``net.load_state_dict`` read
``format``      ``"resdsl-checkpoint"``, and ``version`` (1)
``network``, ``num_classes``, ``input``, ``normalize`` (``{"mean": [...], "std": [...]}``),
``config``      the run's options, spec and parameters (as in config.json)
``epoch``       epochs completed; ``step_in_epoch``: batches done of the next one (0 at an
                epoch boundary, more after Ctrl-C or ``--save-every``); ``step``: optimizer steps
``partial``     running sums of the unfinished epoch's training loss and accuracy
``history``     the metrics of the completed epochs (the lines of metrics.jsonl)
``optimizer``, ``scaler`` (fp16 only), ``rng`` (``torch``, ``cuda``: random generator states
                as uint8 tensors) and ``best_acc``

``best.pt`` holds the same keys without ``optimizer``, ``scaler`` and ``rng``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..fsutil import atomic_save
from .options import TrainingError

if TYPE_CHECKING:
    import torch

FORMAT = "resdsl-checkpoint"
VERSION = 1


def rng_state(device: torch.device) -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    import torch

    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def save(path: Path, payload: dict[str, Any]) -> None:
    import torch

    atomic_save(path, lambda handle: torch.save({"format": FORMAT, "version": VERSION, **payload}, handle))


def load(path: Path) -> dict[str, Any]:
    """A checkpoint or a bare state_dict, loaded safely onto the CPU."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint `{path}`") from None
    except Exception as err:
        raise CheckpointError(f"cannot load `{path}`: {type(err).__name__}: {err}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"`{path}` holds a {type(obj).__name__}, not a checkpoint or a state_dict")
    return obj


def model_state(obj: dict[str, Any]) -> dict[str, Any]:
    """The model weights of a checkpoint (under ``model``) or of a bare state_dict."""
    import torch

    if obj.get("format") == FORMAT or isinstance(obj.get("model"), dict):
        return obj["model"]
    if isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError("the file is neither a resdsl checkpoint nor a state_dict of tensors")
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in obj.items()}


class CheckpointError(TrainingError):
    """A checkpoint that is missing, unreadable or does not fit the network (exit code 1)."""
