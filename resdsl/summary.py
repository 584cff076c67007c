"""``resdsl summary``: the per-layer table and totals of a checked network."""

from __future__ import annotations

from typing import Any

from .ir import Network, Op


def rows(network: Network) -> list[dict[str, Any]]:
    """One row per layer that has a name or does work, in forward order."""
    result = []
    for op in network.ops():
        if op.kind in ("branch",):
            continue
        result.append(
            {
                "name": op.name or f"({op.kind})",
                "op": _describe(op),
                "output": list(op.out_shape or ()),
                "params": op.params,
                "macs": op.macs,
                "line": op.span.line,
                "file": op.span.path,
            }
        )
    return result


def _describe(op: Op) -> str:
    v = op.value
    if op.kind == "conv":
        k = v("kernel")
        text = f"conv {k}x{k}" if isinstance(k, int) else f"conv {k}"
        if v("stride") != 1:
            text += f"/{v('stride')}"
        if v("groups") != 1:
            text += f" g{v('groups')}"
        if v("dilation") != 1:
            text += f" d{v('dilation')}"
        return text
    if op.kind in ("maxpool", "avgpool"):
        k = v("kernel")
        return f"{op.kind} {k}x{k}/{v('stride')}" if isinstance(k, int) else f"{op.kind} {k}"
    if op.kind == "residual":
        return "residual add"
    return op.kind


def to_json(network: Network) -> dict[str, Any]:
    return {
        "network": network.name,
        "input": list(network.input_shape),
        "output": list(network.output_shape or ()),
        "classes": network.classes,
        "params": network.total_params,
        "macs": network.total_macs,
        "parameters": {
            k: str(v) if not isinstance(v, (int, float, bool)) else v for k, v in network.params.items()
        },
        "layers": rows(network),
    }


def _source(row: dict[str, Any]) -> str:
    """Where a layer was written, as `file.res:line` (a block's layers point into its block)."""
    return f"{row['file'].rsplit('/', 1)[-1]}:{row['line']}"


def human_count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3f}{unit}"
    return str(n)


def markdown(network: Network) -> str:
    lines = [
        f"## {network.name}",
        "",
        f"input {list(network.input_shape)} -> output {list(network.output_shape or ())}; "
        f"{network.total_params:,} parameters; {human_count(network.total_macs)} MACs",
        "",
        "| layer | op | output | params | MACs | source |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in rows(network):
        lines.append(
            f"| `{row['name']}` | {row['op']} | {row['output']} | {row['params']:,} | {row['macs']:,} | {_source(row)} |"
        )
    return "\n".join(lines) + "\n"


def table(network: Network) -> Any:
    from rich.table import Table

    t = Table(title=f"{network.name}: input {list(network.input_shape)}", show_lines=False)
    for col, justify in (
        ("layer", "left"),
        ("op", "left"),
        ("output", "left"),
        ("params", "right"),
        ("MACs", "right"),
        ("source", "left"),
    ):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in rows(network):
        t.add_row(
            row["name"],
            row["op"],
            str(row["output"]),
            f"{row['params']:,}" if row["params"] else "",
            f"{row['macs']:,}" if row["macs"] else "",
            _source(row),
        )
    t.add_section()
    t.add_row(
        "total",
        "",
        str(list(network.output_shape or ())),
        f"{network.total_params:,}",
        f"{network.total_macs:,}",
        "",
    )
    return t
