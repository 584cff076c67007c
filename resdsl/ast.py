"""The typed syntax tree: frozen dataclasses, every node with the span it was parsed from."""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span

# --- expressions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    span: Span


@dataclass(frozen=True)
class Int(Expr):
    value: int


@dataclass(frozen=True)
class Float(Expr):
    value: float


@dataclass(frozen=True)
class Str(Expr):
    value: str


@dataclass(frozen=True)
class Bool(Expr):
    value: bool


@dataclass(frozen=True)
class SizeLit(Expr):
    """A literal such as ``3x3`` or ``3x224x224``."""

    parts: tuple[int, ...]


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-" or "not"
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # + - * / % == != < > <= >= and or
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Cond(Expr):
    then: Expr
    test: Expr
    orelse: Expr


@dataclass(frozen=True)
class SizeExpr(Expr):
    """``a x b [x c]``: a size built from expressions."""

    parts: tuple[Expr, ...]


# --- statements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ident:
    name: str
    span: Span


@dataclass(frozen=True)
class Arg:
    keyword: Ident | None
    value: Expr
    span: Span


@dataclass(frozen=True)
class Param:
    name: Ident
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class Stmt:
    span: Span


@dataclass(frozen=True)
class Let(Stmt):
    name: Ident
    value: Expr


@dataclass(frozen=True)
class Layer(Stmt):
    """``[label:] op [head] [-> out] [, key = value]*`` or ``[label:] op(args)``.

    Whether ``op`` is a primitive or a block is decided by name resolution.
    """

    label: Ident | None
    op: Ident
    head: Expr | None = None
    arrow: Expr | None = None
    args: tuple[Arg, ...] = ()
    call_syntax: bool = False


@dataclass(frozen=True)
class Call:
    name: Ident
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True)
class Input(Stmt):
    dims: Expr


@dataclass(frozen=True)
class Classes(Stmt):
    value: Expr


@dataclass(frozen=True)
class Shortcut(Stmt):
    policy: Expr


@dataclass(frozen=True)
class Stem(Stmt):
    call: Call


@dataclass(frozen=True)
class Head(Stmt):
    call: Call


@dataclass(frozen=True)
class Stage(Stmt):
    name: Ident
    count: Expr
    call: Call
    stride: Expr | None = None
    shortcut: Expr | None = None


# --- definitions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    target: str
    is_path: bool
    span: Span


@dataclass(frozen=True)
class BlockDef:
    name: Ident
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True)
class NetworkDef:
    name: Ident
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True)
class NetworkAlias:
    """``network resnet56 = cifar_resnet(n = 9)``: a network with new parameter defaults."""

    name: Ident
    target: Ident
    args: tuple[Arg, ...]
    span: Span


Definition = BlockDef | NetworkDef | NetworkAlias


@dataclass(frozen=True)
class Module:
    path: str
    imports: tuple[Import, ...] = ()
    definitions: tuple[Definition, ...] = field(default=())
