"""Grammar-aware generation of specs: hypothesis strategies over the resdsl language.

The specs are mostly valid by construction (small inputs, widths and depths), but not always:
strides can shrink a map below 1x1, groups can fail to divide, `shortcut identity` can meet a
channel change. Those are rejected with diagnostics, which the properties check as well.
"""

from __future__ import annotations

from hypothesis import strategies as st

POLICIES = ["A", "B", "C", "D", "none", "identity"]


@st.composite
def conv_stmt(draw: st.DrawFn, label: str | None, out: str, params: set[str]) -> str:
    kernel = draw(st.sampled_from(["1x1", "3x3", "3", "5x5", "1x3", "3x1"]))
    parts = [f"{label + ': ' if label else ''}conv {kernel} -> {out}"]
    if "stride" in params and draw(st.booleans()):
        parts.append("stride = stride")
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"groups = {draw(st.sampled_from([1, 2, 4]))}")
    if draw(st.integers(0, 6)) == 0:
        parts.append(f"dilation = {draw(st.sampled_from([1, 2]))}")
    if draw(st.integers(0, 6)) == 0:
        parts.append(f"padding = {draw(st.integers(0, 2))}")
    if draw(st.integers(0, 4)) == 0:
        parts.append(f"bias = {draw(st.sampled_from(['true', 'false']))}")
    return ", ".join(parts)


@st.composite
def block_def(draw: st.DrawFn, name: str) -> str:
    params = ["width"]
    if draw(st.booleans()):
        params.append("stride = 1")
    names = {p.split(" ")[0] for p in params}
    lines: list[str] = []
    if draw(st.integers(0, 3)) == 0:
        lines.append(f"let mid = width * {draw(st.integers(1, 3))} / {draw(st.integers(1, 2))}")
    out_choices = ["width", "mid" if lines else "width", "width * 2", "width + 1"]
    preact = draw(st.integers(0, 4)) == 0
    if preact:
        lines += ["bn0: batchnorm", "relu", "branch"]
    n = draw(st.integers(1, 4))
    for i in range(n):
        kind = draw(st.sampled_from(["conv", "conv", "conv", "bn", "relu", "pool", "dropout", "id"]))
        label = f"l{i}" if draw(st.integers(0, 4)) else None
        if kind == "conv":
            out = draw(st.sampled_from(out_choices))
            lines.append(draw(conv_stmt(label, out, names)))
        elif kind == "bn":
            lines.append(f"{label + ': ' if label else ''}batchnorm")
        elif kind == "relu":
            lines.append("relu")
        elif kind == "pool":
            pool = draw(st.sampled_from(["maxpool", "avgpool"]))
            lines.append(f"{pool} 3x3, stride = 1, padding = 1")
        elif kind == "dropout":
            lines.append(f"dropout {draw(st.sampled_from(['0.1', '0.5', '0']))}")
        else:
            lines.append("identity")
    if draw(st.integers(0, 3)):
        policy = draw(st.sampled_from(["", "", "", " A", " B", " identity", " none"]))
        lines.append("residual" + policy)
        if draw(st.booleans()):
            lines.append("relu")
    body = "\n".join("    " + line for line in lines)
    return f"block {name}({', '.join(params)}) {{\n{body}\n}}\n"


@st.composite
def spec_text(draw: st.DrawFn) -> str:
    """A whole spec: a few blocks and one network using them."""
    blocks = [draw(block_def(f"b{i}")) for i in range(draw(st.integers(1, 2)))]
    c = draw(st.integers(1, 3))
    h = draw(st.integers(2, 24))
    w = draw(st.sampled_from([h, draw(st.integers(2, 24))]))
    classes = draw(st.integers(1, 12))
    parameterised = draw(st.booleans())
    lines = [f"input {c} x {h} x {w}", f"classes {classes}", f"shortcut {draw(st.sampled_from(POLICIES))}"]
    stem = draw(st.sampled_from(["std", "own", "none"]))
    if stem == "std":
        lines.append(f"stem cifar({draw(st.integers(1, 8))})")
    elif stem == "own":
        lines.append(f"conv1: conv 3x3 -> {draw(st.integers(1, 8))}")
    for i in range(draw(st.integers(1, 3))):
        block = draw(st.integers(0, len(blocks) - 1))
        width = draw(st.integers(1, 12))
        count = "n" if parameterised and draw(st.booleans()) else str(draw(st.integers(1, 3)))
        stride = draw(st.sampled_from(["", "", " stride 2"])) if "stride" in blocks[block] else ""
        extra = draw(st.sampled_from(["", "", "", " shortcut B", " shortcut A"]))
        lines.append(f"stage s{i}: {count} x b{block}({width}){stride}{extra}")
    if draw(st.integers(0, 3)):
        lines.append("head classifier")
    else:
        lines += [
            "globalpool",
            "flatten",
            f"fc: linear -> {draw(st.sampled_from(['classes', str(classes)]))}",
        ]
    params = "(n = 2)" if parameterised else ""
    body = "\n".join("    " + line for line in lines)
    return "import std\n\n" + "\n".join(blocks) + f"\nnetwork net{params} {{\n{body}\n}}\n"
