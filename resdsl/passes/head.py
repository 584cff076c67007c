"""Pass 5, head: the network ends in one score per class; deep plain nets get a warning."""

from __future__ import annotations

from ..diagnostics import Collector
from ..ir import Network

# He et al. 2015, section 4.1 and Figure 6: plain nets deeper than this train worse.
PLAIN_DEPTH_WARNING = 20
# Beyond these a network is valid but impractical to build: minutes of Python and gigabytes
# before the first forward pass (ResNet-1202 has 4,200 layers and 19 million parameters).
LARGE_LAYERS = 10_000
LARGE_PARAMS = 1_000_000_000


def depth(network: Network) -> int:
    """Weight layers on the main path (convs and linears, shortcut projections excluded)."""
    count = 0
    for item in network.items:
        ops = [item] if hasattr(item, "kind") else [op for b in item.blocks for op in b.ops]  # type: ignore[union-attr]
        count += sum(op.kind in ("conv", "linear") for op in ops)
    return count


def head(network: Network, diags: Collector) -> None:
    out = network.output_shape
    if out is not None and out != (network.classes,):
        shown = list(out)
        help_text = (
            "end the network with `head classifier` (global pool, flatten, fc -> classes)"
            if len(out) != 1
            else "the last linear layer should be `linear -> classes`"
        )
        diags.error(
            "E308",
            f"network `{network.name}` outputs {shown}, but `classes` is {network.classes}",
            network.span,
            notes=(f"`classes` is set at {network.classes_span}",),
            help=help_text,
        )
    layers_total = sum(1 for _ in network.ops())
    params = network.total_params
    if layers_total > LARGE_LAYERS or params > LARGE_PARAMS:
        diags.warning(
            "W302",
            f"network `{network.name}` is very large: {layers_total:,} layers, {params:,} parameters",
            network.span,
            notes=(
                f"above {LARGE_LAYERS:,} layers or {LARGE_PARAMS:,} parameters, building the module takes minutes and much memory",
            ),
            help="check the repeat counts and widths (`-D` values) if this is not intended",
        )
    joins = sum(block.has_active_join for block in network.blocks())
    layers = depth(network)
    if joins == 0 and layers > PLAIN_DEPTH_WARNING:
        span = network.policy_span or network.span
        diags.warning(
            "W301",
            f"plain network `{network.name}` is {layers} layers deep",
            span,
            notes=(
                "He et al. 2015 (Figure 6): plain networks deeper than about 20 layers reach "
                "higher training error than shallower ones (the degradation problem)",
            ),
            help="add residual joins (`residual` in the block, `shortcut A` or `B`) to train it well",
        )
