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
_RESERVED = {"self", "x", "out", "identity", "in_channels", "nn", "torch", "F", "Tensor", "num_classes"}


def py_ident(name: str) -> str:
    """A spec identifier as a safe Python identifier (keywords and builtins get a ``_``)."""
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"not an identifier: {name!r}")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _RESERVED:
        return name + "_"
    if hasattr(builtins, name):
        return name + "_"
    return name


def py_literal(value: object) -> str:
    """A value as a Python literal; strings are restricted by the grammar and re-checked here."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, Policy):
        return repr(value.value)
    if isinstance(value, Size):
        return "(" + ", ".join(str(int(p)) for p in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, str):
        if not all(c.isascii() and (c.isalnum() or c in "_.-/") for c in value):
            raise ValueError(f"unsafe string literal {value!r}")
        return repr(value)
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
