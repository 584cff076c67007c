"""Dataset formats, batches, augmentation and schedules of resdsl.training (small files, no real data).

Each loader reads files this test writes itself in the format's published layout (IDX headers
packed by hand, CIFAR-10 dicts pickled as the originals are, PNGs written by Pillow), and the
pixels and labels must come back exactly.
"""

from __future__ import annotations

import gzip
import math
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from resdsl.training.data import (  # noqa: E402
    Batches,
    DatasetError,
    channel_stats,
    load_dataset,
    parse_augment,
    parse_data,
    random_crop,
)
from resdsl.training.options import OptionError, TrainOptions  # noqa: E402
from resdsl.training.schedule import Schedule  # noqa: E402

# --- IDX (Fashion-MNIST's format) -----------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX: two zero bytes, type 0x08 (unsigned byte), the number of dimensions, big-endian sizes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_fashion(folder: Path, n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(folder / name, array)
    return arrays


def test_fashion_mnist_idx_round_trip(tmp_path: Path) -> None:
    arrays = write_fashion(tmp_path)
    ds = load_dataset(f"fashion-mnist:{tmp_path}")
    assert ds.train_x.shape == (6, 1, 28, 28) and ds.train_x.dtype == torch.uint8
    assert ds.test_x.shape == (4, 1, 28, 28)
    assert np.array_equal(ds.train_x[:, 0].numpy(), arrays["train-images-idx3-ubyte.gz"])
    assert np.array_equal(ds.test_x[:, 0].numpy(), arrays["t10k-images-idx3-ubyte.gz"])
    assert ds.train_y.tolist() == arrays["train-labels-idx1-ubyte.gz"].tolist()
    assert ds.test_y.tolist() == arrays["t10k-labels-idx1-ubyte.gz"].tolist()
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"


def test_fashion_mnist_missing_names_package_and_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset(f"fashion-mnist:{tmp_path / 'nowhere'}")
    text = str(err.value)
    assert "dataset-fashion-mnist" in text
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in text


def test_idx_bad_magic_and_truncation(tmp_path: Path) -> None:
    arrays = write_fashion(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + b"\x00" * 8))
    with pytest.raises(DatasetError, match="not an IDX file of unsigned bytes"):
        load_dataset(f"fashion-mnist:{tmp_path}")
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", arrays["train-labels-idx1-ubyte.gz"][:5])
    with pytest.raises(DatasetError, match=r"has 6 images but .* has 5 labels"):
        load_dataset(f"fashion-mnist:{tmp_path}")


# --- CIFAR-10 python batches --------------------------------------------------------------------


def write_cifar(folder: Path, per_batch: int = 3, seed: int = 0) -> dict[str, dict[bytes, object]]:
    """The published layout: a dict per file; b'data' uint8 [N, 3072] (R plane, G, B; rows of 32)."""
    rng = np.random.default_rng(seed)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
            b"data": rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        batches[name] = batch
    meta = {b"label_names": [c.encode() for c in "abcdefghij"], b"num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return batches


def test_cifar10_round_trip(tmp_path: Path) -> None:
    batches = write_cifar(tmp_path)
    ds = load_dataset(f"cifar10:{tmp_path}")
    assert ds.train_x.shape == (15, 3, 32, 32) and ds.test_x.shape == (3, 3, 32, 32)
    assert ds.classes == list("abcdefghij")
    # Image 4 is the second image of data_batch_2; pixel (c, h, w) is byte c*1024 + h*32 + w.
    raw = batches["data_batch_2"][b"data"][1]
    for c, h, w in [(0, 0, 0), (1, 5, 7), (2, 31, 31), (0, 31, 0)]:
        assert int(ds.train_x[4, c, h, w]) == int(raw[c * 1024 + h * 32 + w])
    labels = [v for i in range(1, 6) for v in batches[f"data_batch_{i}"][b"labels"]]
    assert ds.train_y.tolist() == labels
    assert ds.test_y.tolist() == batches["test_batch"][b"labels"]
    assert np.array_equal(ds.test_x.reshape(3, -1).numpy(), batches["test_batch"][b"data"])


def test_cifar10_refuses_code_in_pickles(tmp_path: Path) -> None:
    write_cifar(tmp_path)

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("owned",))

    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(DatasetError, match=r"refusing to load `builtins\.print`"):
        load_dataset(f"cifar10:{tmp_path}")


def test_cifar10_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="data_batch_1"):
        load_dataset(f"cifar10:{tmp_path}")


# --- image folders ------------------------------------------------------------------------------


def test_imagefolder_round_trip(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    written: dict[str, list[tuple[np.ndarray, int]]] = {"train": [], "val": []}
    for split, per_class in (("train", 2), ("val", 1)):
        for label, name in enumerate(["cat", "dog"]):  # sorted: cat is class 0
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / name / f"{i}.png")
                written[split].append((pixels, label))
    ds = load_dataset(f"imagefolder:{tmp_path}", shape=(3, 8, 8))
    assert ds.classes == ["cat", "dog"]
    assert ds.train_x.shape == (4, 3, 8, 8) and ds.test_x.shape == (2, 3, 8, 8)
    for i, (pixels, label) in enumerate(written["train"]):
        assert np.array_equal(ds.train_x[i].permute(1, 2, 0).numpy(), pixels)
        assert int(ds.train_y[i]) == label
    assert ds.test_y.tolist() == [0, 1]
    # Grey images for a one-channel network, resized to its input.
    gray = load_dataset(f"imagefolder:{tmp_path}", shape=(1, 4, 4))
    assert gray.train_x.shape == (4, 1, 4, 4)


def test_imagefolder_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(f"imagefolder:{tmp_path / 'x'}", shape=(3, 8, 8))
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no `val/` folder"):
        load_dataset(f"imagefolder:{tmp_path}", shape=(3, 8, 8))


def test_parse_data() -> None:
    assert parse_data("fashion-mnist") == ("fashion-mnist", None)
    assert parse_data("cifar10:/d") == ("cifar10", Path("/d"))
    with pytest.raises(DatasetError, match="unknown dataset `mnist`"):
        parse_data("mnist")


# --- batches and augmentation -------------------------------------------------------------------


def test_channel_stats_by_hand() -> None:
    x = torch.tensor([[[[0, 255]], [[51, 51]]]], dtype=torch.uint8)  # 1 image, 2 channels, 1x2
    mean, std = channel_stats(x)
    assert mean == pytest.approx([0.5, 0.2])
    assert std == pytest.approx([0.5, 0.001])  # a constant channel's 0 is floored at 1e-3


def test_random_crop_matches_per_image_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (5, 2, 6, 7), generator=gen).float()
    pad = 2
    shifts = torch.randint(0, 2 * pad + 1, (5, 2), generator=gen)
    out = random_crop(x, shifts, pad)
    for i in range(5):
        dy, dx = (int(v) - pad for v in shifts[i])
        for r in range(6):
            for c in range(7):
                sr, sc = r + dy, c + dx
                want = x[i, :, sr, sc] if 0 <= sr < 6 and 0 <= sc < 7 else torch.zeros(2)
                assert torch.equal(out[i, :, r, c], want)


def _batches(n: int = 10, **kw: object) -> Batches:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return Batches(images, torch.arange(n), [0.0], [1.0 / 255.0], 4, **kw)  # type: ignore[arg-type]


def test_epoch_is_a_permutation_and_depends_on_seed_and_epoch() -> None:
    b = _batches()
    assert len(b) == 3  # 10 images, batch 4: two full batches and a last one of 2
    seen = torch.cat([y for _, y in b.epoch(seed=0, epoch=0)])
    assert sorted(seen.tolist()) == list(range(10))
    # Normalised with mean 0 and std 1/255: each pixel is the image's index.
    for x, y in b.epoch(0, 0):
        assert torch.allclose(x[:, 0, 0, 0], y.float())
    again = torch.cat([y for _, y in b.epoch(0, 0)])
    other = torch.cat([y for _, y in b.epoch(0, 1)])
    assert torch.equal(seen, again) and not torch.equal(seen, other)
    tail = [y for _, y in b.epoch(0, 0, start=2)]
    assert len(tail) == 1 and torch.equal(tail[0], seen[8:])


def test_ranks_split_each_batch() -> None:
    whole = [y for _, y in _batches(12, augment=("crop", "flip")).epoch(3, 2)]
    r0 = [y for _, y in _batches(12, rank=0, world=2, augment=("crop", "flip")).epoch(3, 2)]
    r1 = [y for _, y in _batches(12, rank=1, world=2, augment=("crop", "flip")).epoch(3, 2)]
    assert len(r0) == len(r1) == 3
    for w, a, b in zip(whole, r0, r1, strict=True):
        assert torch.equal(torch.cat([a, b]), w)


def test_flip_and_crop_only_for_training() -> None:
    images = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    train = Batches(images, torch.zeros(64, dtype=torch.long), [0.0], [1 / 255], 64, augment=("flip",))
    x, _ = next(train.epoch(0, 0))
    flipped = (x[:, 0, 0, 0] == 3).sum().item()
    assert 10 < flipped < 54  # about half are mirrored left-right
    plain = images[0, 0].float()
    assert all(torch.allclose(img[0], plain) or torch.allclose(img[0], plain.flip(1)) for img in x)
    test = Batches(
        images, torch.zeros(64, dtype=torch.long), [0.0], [1 / 255], 64, augment=("flip",), train=False
    )
    x, _ = next(test.epoch(0, 0))
    assert torch.allclose(x[:, 0], images[:, 0].float())


def test_parse_augment() -> None:
    assert parse_augment("crop,flip") == ("crop", "flip")
    assert parse_augment("none") == ()
    with pytest.raises(ValueError, match="rotate"):
        parse_augment("crop,rotate")


# --- schedules and options -------------------------------------------------------------------------


def test_multistep_is_the_papers() -> None:
    s = Schedule("multistep", 0.1, total_steps=64000, steps_per_epoch=400)
    # He et al. 2015, 4.2: 0.1, divided by 10 at 32k and 48k iterations, 64k in all.
    assert s(0) == pytest.approx(0.1) and s(31999) == pytest.approx(0.1)
    assert s(32000) == pytest.approx(0.01) and s(47999) == pytest.approx(0.01)
    assert s(48000) == pytest.approx(0.001) and s(63999) == pytest.approx(0.001)


def test_cosine_onecycle_warmup() -> None:
    cos = Schedule("cosine", 0.1, total_steps=100, steps_per_epoch=10)
    assert cos(0) == pytest.approx(0.1) and cos(50) == pytest.approx(0.05) and cos(100) == pytest.approx(0.0)
    assert cos(25) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))
    one = Schedule("onecycle", 0.1, total_steps=100, steps_per_epoch=10)
    assert one(0) == pytest.approx(0.005) and one(25) == pytest.approx(0.1) and one(100) == pytest.approx(0.0)
    assert one(75) == pytest.approx(0.1 * 25 / 75)
    warm = Schedule("cosine", 0.1, total_steps=100, steps_per_epoch=10, warmup_epochs=1)
    assert warm(0) == pytest.approx(0.001) and warm(5) == pytest.approx(0.1 * (0.01 + 0.99 * 0.5))
    assert warm(10) == pytest.approx(0.1)


def test_options_resolve_defaults_saved_given() -> None:
    opts = TrainOptions.resolve({"epochs": None, "lr": 0.05}, {"epochs": 7, "lr": 0.2, "batch_size": 64})
    assert (opts.epochs, opts.lr, opts.batch_size, opts.momentum) == (7, 0.05, 64, 0.9)
    with pytest.raises(OptionError, match="--momentum"):
        TrainOptions.resolve({"momentum": 1.5})
    with pytest.raises(TypeError, match="unknown training option: lrate"):
        TrainOptions.resolve({"lrate": 1})
