"""resdsl: a compiler for ResNet-family networks.

    spec (.res) -> parse -> AST -> names, arguments -> lower -> IR -> shapes, residuals, head
                -> backends (torch, onnx)

``resdsl.load(spec)`` compiles a spec to PyTorch and returns the generated module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    import torch


def load(
    spec_path: str, *, input: str | None = None, network: str | None = None, **params: Any
) -> torch.nn.Module:
    """Compile ``spec_path`` to PyTorch, import the generated code, and return its network.

    ``params`` set the network's parameters (as ``-D name=value`` does); a value may be a
    number, a bool, or a string holding a resdsl expression such as ``"1x1"`` or ``"A"``.
    Raises :class:`resdsl.diagnostics.ResdslError` when the spec has errors.
    """
    from .backends.torch import load_module

    return load_module(spec_path, input=input, network=network, params=params)
