"""Pass 4, residuals: each residual join gets the shortcut its policy asks for, or an error.

The options of He et al. 2015 (section 3.3), plus ResNet-D and two strict forms:

* ``A``: identity; where the shape changes, strided subsampling and zero channels appended
* ``B``: identity; where the shape changes, a 1x1 conv + BN projection (``downsample.0/1``)
* ``C``: a projection on every block
* ``D``: identity; where the shape changes, 2x2 average pool, then 1x1 conv + BN
* ``none``: no shortcut, a plain network
* ``identity``: identity only; a shape change is an error
"""

from __future__ import annotations

from ..diagnostics import Collector
from ..ir import Block, Network, Op, Origin, Shortcut
from ..values import Policy, Size, Val
from .shapes import infer_op

Shape = tuple[int, ...]


def residuals(network: Network, diags: Collector) -> None:
    for block in network.blocks():
        join = block.join
        if join is None or join.in_shape is None or block.in_shape is None:
            continue
        explicit = "policy" in join.attrs
        policy: Policy = join.value("policy") if explicit else block.policy  # type: ignore[assignment]
        if policy is Policy.none:
            continue
        branch = next((op for op in block.ops if op.kind == "branch"), None)
        source = branch.in_shape if branch is not None and branch.in_shape else block.in_shape
        block.shortcut = _shortcut(
            block, policy, block.in_shape, source, join.in_shape, explicit, diags, branch is not None
        )


def _stride(src: Shape, dst: Shape) -> tuple[int, int] | None:
    """The stride s with ceil(src / s) == dst in both spatial dimensions, if there is one."""
    result = []
    for a, b in zip(src[1:], dst[1:], strict=True):
        if b > a:
            return None
        s = -(-a // b)
        if -(-a // s) != b:
            return None
        result.append(s)
    return (result[0], result[1])


def _error(
    block: Block,
    code: str,
    message: str,
    join: Op,
    explicit: bool,
    diags: Collector,
    help: str | None,
    label: str | None = None,
) -> None:
    span = join.span if explicit else block.span
    notes = (
        [f"in block `{block.name}`, expanded from {block.span}"]
        if explicit
        else [f"in block `{block.name}`, expanded from this stage"]
    )
    diags.error(code, message, span, label=label or f"`{block.name}`", notes=tuple(notes), help=help)


def _shortcut(
    block: Block,
    policy: Policy,
    block_in: Shape,
    source: Shape,
    branch_out: Shape,
    explicit: bool,
    diags: Collector,
    has_branch: bool,
) -> Shortcut | None:
    join = block.join
    assert join is not None
    if len(branch_out) != 3 or len(block_in) != 3:
        _error(
            block,
            "E303",
            f"a residual join needs feature maps, got {list(branch_out)}",
            join,
            explicit,
            diags,
            None,
        )
        return None
    same = block_in == branch_out
    if policy is Policy.identity or (same and policy is not Policy.C):
        if not same:
            shapes = f"branch gives {list(branch_out)}, shortcut keeps {list(block_in)}"
            if explicit:
                _error(
                    block,
                    "E303",
                    f"`residual {policy.value}` joins unequal shapes",
                    join,
                    explicit,
                    diags,
                    "write `residual B` (1x1 projection) or `residual A` (zero-padded identity), "
                    "or keep the branch's shape",
                    label=shapes,
                )
            else:
                _error(
                    block,
                    "E302",
                    "identity shortcut does not match the residual branch",
                    join,
                    explicit,
                    diags,
                    "use `shortcut B` (1x1 projection) or `shortcut A` (zero-padded identity)",
                    label=shapes,
                )
            return None
        return Shortcut("identity", policy, 1, block_in[0], branch_out[0])
    src = source if policy in (Policy.B, Policy.C, Policy.D) else block_in
    stride = _stride(src, branch_out)
    if stride is None:
        _error(
            block,
            "E306",
            f"no {policy.value} shortcut maps {list(src)} to the branch's {list(branch_out)}",
            join,
            explicit,
            diags,
            "a shortcut can only subsample: the branch must keep or shrink the feature map",
        )
        return None
    s = stride[0] if stride[0] == stride[1] else Size(stride)
    cin, cout = src[0], branch_out[0]
    if policy is Policy.A:
        if cout < cin:
            _error(
                block,
                "E306",
                f"option A cannot drop channels ({cin} -> {cout})",
                join,
                explicit,
                diags,
                "use `shortcut B` for a projection",
            )
            return None
        return Shortcut("pad", policy, s, cin, cout)
    ops: list[Op] = []
    prefix = f"{block.name}.downsample."
    origins = (*join.origins, Origin(block.span, f"shortcut of `{block.name}`"))

    def make(kind: str, **attrs: object) -> Op:
        index = len(ops)
        op = Op(
            kind,
            str(index),
            prefix + str(index),
            {k: Val.const(v) for k, v in attrs.items()},
            join.span,
            origins,
        )  # type: ignore[arg-type]
        ops.append(op)
        return op

    shape = src
    if policy is Policy.D:
        pool = (
            make("avgpool", kernel=s, stride=s, padding=0, ceil=True)
            if stride != (1, 1)
            else make("identity")
        )
        if pool.kind == "avgpool":
            shape = infer_op(pool, shape)
        else:
            pool.in_shape = pool.out_shape = shape
        conv_stride: object = 1
    else:
        conv_stride = s
    conv = make("conv", kernel=1, out=cout, stride=conv_stride, dilation=1, padding=0, groups=1, bias=False)
    shape = infer_op(conv, shape)
    bn = make("batchnorm")
    infer_op(bn, shape)
    kind = "pool_projection" if policy is Policy.D else "projection"
    return Shortcut(kind, policy, s, cin, cout, from_branch=has_branch, ops=ops)
