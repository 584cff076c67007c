"""The lowered network: every layer instance named, with attributes, shapes and counts.

Lowering (``lower.py``) builds it from the syntax tree with blocks instantiated and repeats
unrolled; the passes fill in shapes, parameter and multiply-add counts, and shortcuts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .source import Span
from .values import Policy, Val

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Origin:
    """Where a layer was expanded from: a stage, a block call, a stem or head."""

    span: Span
    what: str  # e.g. "block `layer2.0`"


@dataclass
class Op:
    """One primitive layer instance."""

    kind: str  # a key of primitives.PRIMITIVES
    local: str  # attribute name inside its block, "" when unnamed
    name: str  # qualified name, e.g. "layer2.0.conv1" ("" when unnamed)
    attrs: dict[str, Val]
    span: Span
    origins: tuple[Origin, ...] = ()
    channels: Val | None = None  # the input's channel count, as code inside the block
    in_shape: Shape | None = None
    out_shape: Shape | None = None
    params: int = 0
    macs: int = 0

    def value(self, attr: str) -> object:
        return self.attrs[attr].value


@dataclass
class Shortcut:
    """The form a residual join's shortcut takes in one block instance."""

    kind: str  # "identity", "pad" (option A), "projection" (B, C) or "pool_projection" (D)
    policy: Policy
    stride: int | tuple[int, int] = 1  # (height, width) where the two differ
    in_channels: int = 0
    out_channels: int = 0
    from_branch: bool = False  # reads the pre-activated tensor (after `branch`)
    ops: list[Op] = field(default_factory=list)  # downsample.* layers

    @property
    def is_identity(self) -> bool:
        return self.kind == "identity"


@dataclass
class Block:
    """One instance of a block in a stage, e.g. ``layer2.0``."""

    name: str
    block: str  # the block definition's name
    args: dict[str, Val]  # every parameter, evaluated
    lets: list[tuple[str, Val]]  # `let` bindings of the block body, in order
    ops: list[Op]
    policy: Policy
    span: Span  # the stage statement
    defaults: dict[str, object] = field(default_factory=dict)  # the block's parameter defaults
    in_shape: Shape | None = None
    out_shape: Shape | None = None
    shortcut: Shortcut | None = None

    @property
    def join(self) -> Op | None:
        return next((op for op in self.ops if op.kind == "residual"), None)

    @property
    def has_active_join(self) -> bool:
        return self.shortcut is not None


@dataclass
class Stage:
    name: str
    span: Span
    blocks: list[Block]


@dataclass
class Network:
    name: str
    span: Span
    params: dict[str, object]  # the network's parameters, after -D overrides
    input_shape: Shape
    input_span: Span
    classes: int
    classes_span: Span
    policy: Policy
    policy_span: Span | None
    items: list[Op | Stage]  # in forward order
    source_path: str
    source_text: str
    output_shape: Shape | None = None

    def ops(self) -> Iterator[Op]:
        """Every op, shortcut layers included, in forward order."""
        for item in self.items:
            if isinstance(item, Op):
                yield item
                continue
            for block in item.blocks:
                yield from block.ops
                if block.shortcut is not None:
                    yield from block.shortcut.ops

    def blocks(self) -> Iterator[Block]:
        for item in self.items:
            if isinstance(item, Stage):
                yield from item.blocks

    @property
    def total_params(self) -> int:
        return sum(op.params for op in self.ops())

    @property
    def total_macs(self) -> int:
        return sum(op.macs for op in self.ops())
