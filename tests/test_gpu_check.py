"""benchmarks/gpu_check.py's own logic, at toy sizes on the CPU (``--cpu-smoke``)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch")

from resdsl.training.data import FASHION_MNIST_DIR

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def keep_threads() -> Iterator[None]:
    """--cpu-smoke sets one thread; give the rest of the test session its own back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _gpu_check() -> object:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST is not in {FASHION_MNIST_DIR}: apt-get install dataset-fashion-mnist",
)
def test_cpu_smoke_writes_one_json(tmp_path: Path) -> None:
    gpu_check = _gpu_check()
    code = gpu_check.main(  # type: ignore[attr-defined]
        ["--cpu-smoke", "--skip", "pytest", "--fashion", str(FASHION_MNIST_DIR), "--out", str(tmp_path)]
    )
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert code == 0, result
    assert result["mode"] == "cpu-smoke" and "gpu" in result
    assert result["pytest"] == {"skipped": True}
    r20 = result["resnet20_fashion_mnist"]
    assert r20["recipe"]["subset"] == 512 and len(r20["curve"]) == 1 and 0 <= r20["final_val_acc"] <= 1
    r50 = result["resnet50_throughput"]
    assert r50["batch"] == 2 and r50["resdsl_img_per_s"] > 0
    assert (tmp_path / "r20" / "last.pt").is_file()


def test_missing_fashion_is_recorded_not_raised(tmp_path: Path) -> None:
    gpu_check = _gpu_check()
    args = [
        "--cpu-smoke",
        "--skip",
        "pytest,r50",
        "--fashion",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path),
    ]
    assert gpu_check.main(args) == 1  # type: ignore[attr-defined]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert "dataset-fashion-mnist" in result["resnet20_fashion_mnist"]["error"]
    assert result["resnet50_throughput"] == {"skipped": True}
