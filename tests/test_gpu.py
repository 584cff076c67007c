"""GPU checks (``pytest -m gpu``, run by benchmarks/gpu_check.sh); skipped without CUDA.

* the generated ResNet-50 runs forward and backward on CUDA in bf16 with channels_last, and
  agrees with its own fp32 forward;
* ``torch.compile(fullgraph=True)`` takes the generated CIFAR ResNet-20 (option A shortcuts:
  strided slicing and channel padding) in one graph and matches eager;
* ``resdsl.training.train`` trains a few steps on the GPU (bf16, channels_last) from a small
  CIFAR-10-format dataset written here.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _load(spec: str, **kw: object) -> torch.nn.Module:
    import resdsl

    return resdsl.load(str(ROOT / spec), **kw)  # type: ignore[arg-type]


def test_resnet50_bf16_channels_last_forward_backward() -> None:
    torch.manual_seed(0)
    net = _load("specs/resnet50.res").cuda().to(memory_format=torch.channels_last)
    x = torch.randn(16, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (16,), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = net(x)
        loss = torch.nn.functional.cross_entropy(out, y)
    assert out.shape == (16, 1000) and out.dtype == torch.bfloat16
    loss.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert net.conv1.weight.grad.abs().sum() > 0  # type: ignore[union-attr]
    net.eval()
    with torch.no_grad():
        ref = net(x).float()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            low = net(x).float()
    cos = torch.nn.functional.cosine_similarity(ref.flatten(), low.flatten(), dim=0)
    assert cos > 0.99, float(cos)


def test_compile_fullgraph_matches_eager() -> None:
    torch.manual_seed(0)
    net = _load("specs/cifar/resnet20.res").cuda().eval()
    x = torch.randn(32, 3, 32, 32, device="cuda")
    compiled = torch.compile(net, fullgraph=True)
    with torch.no_grad():
        eager = net(x)
        fast = compiled(x)
    assert fast.shape == (32, 10)
    torch.testing.assert_close(fast, eager, rtol=1e-2, atol=1e-2)
    net.train()
    out = compiled(x)
    out.float().sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def _write_cifar(folder: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, n)
        data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        data[:, :1024] = (labels * 25)[:, None]  # the red plane tells the class: learnable
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels.tolist()}, protocol=2))


def test_train_a_few_steps_on_the_gpu(tmp_path: Path) -> None:
    from resdsl.training import train

    _write_cifar(tmp_path, 256)
    out = tmp_path / "run"
    metrics = train(
        ROOT / "specs/cifar/resnet20.res",
        data=f"cifar10:{tmp_path}",
        out=out,
        epochs=3,
        batch_size=128,
        device="cuda",
        amp="bf16",
        channels_last=True,
        silent=True,
    )
    assert len(metrics) == 3
    assert all(np.isfinite(m["train_loss"]) and np.isfinite(m["val_loss"]) for m in metrics)
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["config"]["device"].startswith("cuda") and ckpt["step"] == 30  # 1280 images / 128 x 3
