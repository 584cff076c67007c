"""Code generators, one module per target, behind a small registry.

A backend turns a checked :class:`~resdsl.ir.Network` into an artifact. Each builds a view model
in Python (names, literals, comments) and renders it with the Jinja templates in
``templates/<target>/``; templates only loop and print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING

from ..ir import Network
from ..resources import templates_dir

if TYPE_CHECKING:
    from jinja2 import Environment


@dataclass
class EmitOptions:
    spec_path: str = ""
    opset: int = 17
    weights: str | None = None
    fold_bn: bool = False
    batch: str = "dynamic"
    seed: int = 0


@dataclass(frozen=True)
class Backend:
    name: str
    suffix: str
    binary: bool
    emit: Callable[[Network, EmitOptions], bytes | str]
    description: str


class Target(str, Enum):
    torch = "torch"
    onnx = "onnx"


def _torch(network: Network, options: EmitOptions) -> bytes | str:
    from .torch import emit

    return emit(network, options)


def _onnx(network: Network, options: EmitOptions) -> bytes | str:
    from .onnx import emit

    return emit(network, options)


BACKENDS: dict[Target, Backend] = {
    Target.torch: Backend("torch", ".py", False, _torch, "a standalone PyTorch module"),
    Target.onnx: Backend("onnx", ".onnx", True, _onnx, "an ONNX model, checked"),
}


@cache
def jinja_env(target: str) -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined  # not needed by `check`

    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / target)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        autoescape=False,
    )
    return env
