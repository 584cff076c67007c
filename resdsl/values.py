"""Values of the language, and the code that computes them.

The evaluator computes every expression twice over: its value (for checking shapes) and the
Python expression that computes it from the enclosing block's parameters (for the torch
backend, which writes a block once as a class and instantiates it with each set of arguments).
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass
from enum import Enum

# Bound on every integer the language computes: far above any real network, far below a hang.
MAX_INT = 10**15


class Policy(str, Enum):
    """How a residual join gets its shortcut (He et al. 2015, sections 3.3 and 4.1)."""

    A = "A"  # identity; strided subsampling and zero-padded channels where the shape changes
    B = "B"  # 1x1 conv + BN projection where the shape changes, identity elsewhere
    C = "C"  # projection on every block
    D = "D"  # ResNet-D: 2x2 average pool, then 1x1 conv + BN, where the shape changes
    none = "none"  # no shortcut at all: a plain network
    identity = "identity"  # strict identity: an error where the shape changes

    def __str__(self) -> str:
        return self.value


class Size(tuple):  # type: ignore[type-arg]
    """A literal like ``3x3``: a tuple of positive integers."""

    def __str__(self) -> str:
        return "x".join(str(p) for p in self)


Value = int | float | bool | str | Size | Policy


def type_name(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Size):
        return "size"
    if isinstance(value, Policy):
        return "shortcut policy"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def show(value: object) -> str:
    """A value as the user wrote it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and not isinstance(value, Policy):
        return f'"{value}"'
    return str(value)


# Names the generated Python must not take over from a parameter of the same name.
_RESERVED = {"self", "x", "out", "shortcut", "s", "m", "in_channels", "nn", "torch", "Tensor", "num_classes"}

# Attributes of torch.nn.Module (torch 2.x), fixed here so that the generated code does not depend
# on whether torch happens to be imported; a layer named like one of them gets a `_`.
NN_MODULE_ATTRS = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)


def _mangle(name: str, reserved: bool) -> str:
    """Append `_` to reserved names and to names already ending in `_`: an injective renaming."""
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"not an identifier: {name!r}")
    return name + "_" if reserved or name.endswith("_") else name


def py_ident(name: str) -> str:
    """A spec identifier as a safe Python variable (keywords, builtins, our own names get a `_`)."""
    reserved = (
        keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _RESERVED or hasattr(builtins, name)
    )
    return _mangle(name, reserved)


def py_attr(name: str) -> str:
    """A layer name as a module attribute (keywords and nn.Module's own attributes get a `_`)."""
    return _mangle(name, keyword.iskeyword(name) or name in NN_MODULE_ATTRS)


def py_literal(value: object) -> str:
    """A value as a Python literal; strings are restricted by the grammar and re-checked here."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, Policy):
        return f'"{value.value}"'  # double quotes, as ruff format writes them
    if isinstance(value, Size):
        return "(" + ", ".join(str(int(p)) for p in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value)).replace("e+", "e")  # 1e16, as ruff format writes it
    if isinstance(value, str):
        if not all(c.isascii() and (c.isalnum() or c in "_.-/") for c in value):
            raise ValueError(f"unsafe string literal {value!r}")
        return f'"{value}"'
    raise TypeError(f"no literal for {value!r}")


# Precedence of the generated Python, lowest first, used to add only the parentheses needed.
PREC = {"if": 1, "or": 2, "and": 3, "not": 4, "cmp": 5, "+": 6, "*": 7, "neg": 8, "atom": 9}


@dataclass(frozen=True)
class Val:
    """A value, the Python code computing it, and the parameters that code reads."""

    value: Value
    code: str
    free: frozenset[str] = frozenset()
    prec: int = PREC["atom"]

    @staticmethod
    def const(value: Value) -> Val:
        return Val(value, py_literal(value))

    def wrapped(self, prec: int) -> str:
        return self.code if self.prec >= prec else f"({self.code})"
