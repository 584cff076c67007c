"""Rewrite the golden files under tests/golden/ from what resdsl generates now.

    python tests/regenerate_golden.py            # every target
    python tests/regenerate_golden.py torch      # one target

One function per target returns ``{path under tests/golden: text}``; the tests compare the
committed files with what the same function returns. Read ``git diff tests/golden`` before
committing: a golden file is only right if its generated text is right.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
sys.path.insert(0, str(ROOT))


def onnx() -> dict[str, str]:
    """ONNX text (weights declared as inputs) of small networks: CIFAR ResNet-8 with option A
    shortcuts, and every construct of tests/fixtures/onnx/constructs.res with BN folded."""
    from resdsl.backends import EmitOptions
    from resdsl.backends.onnx import emit_text
    from resdsl.pipeline import analyze

    cases = {
        "onnx/resnet20-n1.onnxtxt": ("specs/cifar/resnet20.res", ["n=1"], False),
        "onnx/constructs-fold-bn.onnxtxt": ("tests/fixtures/onnx/constructs.res", [], True),
    }
    old = Path.cwd()
    os.chdir(ROOT)  # spec paths in the text are relative to the repository root
    try:
        texts = {}
        for name, (spec, defines, fold) in cases.items():
            net = analyze(Path(spec), defines=defines).network
            texts[name] = emit_text(net, EmitOptions(spec_path=spec, fold_bn=fold))
        return texts
    finally:
        os.chdir(old)


def torch() -> dict[str, str]:
    """Generated PyTorch modules: ResNet-50 (bottleneck, B), CIFAR ResNet-20 (A), pre-activation
    ResNet-18 (`branch`), and tests/fixtures/torch/shortcut_cd.res (C and D)."""
    from resdsl.backends.torch import compile_source

    cases = {
        "torch/resnet50.py": "specs/resnet50.res",
        "torch/resnet20.py": "specs/cifar/resnet20.res",
        "torch/preact_resnet18.py": "specs/preact_resnet18.res",
        "torch/shortcut_cd.py": "tests/fixtures/torch/shortcut_cd.res",
    }
    old = Path.cwd()
    os.chdir(ROOT)  # spec paths in the header and comments are relative to the repository root
    try:
        return {name: compile_source(spec)[0] for name, spec in cases.items()}
    finally:
        os.chdir(old)


TARGETS: dict[str, Callable[[], dict[str, str]]] = {"onnx": onnx, "torch": torch}


def main(targets: list[str]) -> int:
    unknown = set(targets) - set(TARGETS)
    if unknown:
        print(f"unknown target(s) {', '.join(sorted(unknown))}; known: {', '.join(TARGETS)}")
        return 2
    for target in targets or list(TARGETS):
        for name, text in TARGETS[target]().items():
            path = GOLDEN / name
            path.parent.mkdir(parents=True, exist_ok=True)
            old = path.read_text(encoding="utf-8") if path.exists() else None
            if text != old:
                path.write_text(text, encoding="utf-8")
                print(f"wrote  tests/golden/{name}")
            else:
                print(f"same   tests/golden/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
