"""Datasets in their real formats, held in memory, and batches made on the device.

``--data`` names a dataset and where it is:

* ``fashion-mnist[:DIR]``: the four IDX ``.gz`` files of Fashion-MNIST (Xiao et al. 2017); DIR
  defaults to ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).
* ``cifar10:DIR``: the CIFAR-10 "python version" batches ``data_batch_1..5`` and ``test_batch``.
* ``imagefolder:DIR``: ``DIR/train/<class>/*.png|jpg`` and ``DIR/val/<class>/...``, resized to the
  network's input.

Nothing is ever downloaded. Images stay uint8 ``[N, C, H, W]`` tensors (on the GPU when training
there); :class:`Batches` turns a per-epoch permutation into normalised, augmented float batches
with whole-batch tensor operations, its randomness drawn from a generator seeded by
``(seed, epoch)`` alone, so that a resumed run sees exactly the batches an uninterrupted one does.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import TrainingError

if TYPE_CHECKING:
    import torch

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_TEST = "test_batch"
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
KINDS = ("fashion-mnist", "cifar10", "imagefolder")


class DatasetError(TrainingError):
    """A dataset that is missing, malformed, or does not fit the network (exit code 1)."""


@dataclass
class Dataset:
    """Both splits of a dataset as uint8 ``[N, C, H, W]`` images and int64 labels."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def parse_data(spec: str) -> tuple[str, Path | None]:
    """``"cifar10:/data/c10"`` -> ``("cifar10", Path("/data/c10"))``; the folder may be omitted."""
    kind, sep, folder = spec.partition(":")
    kind = kind.strip().lower().replace("_", "-")
    if kind in ("fashion", "fashionmnist"):
        kind = "fashion-mnist"
    if kind in ("cifar-10",):
        kind = "cifar10"
    if kind not in KINDS:
        raise DatasetError(
            f"unknown dataset `{spec}`",
            help="use fashion-mnist[:DIR], cifar10:DIR or imagefolder:DIR",
        )
    if sep and not folder:
        raise DatasetError(f"`--data {spec}` names no folder after the colon")
    return kind, Path(folder).expanduser() if sep else None


def load_dataset(
    spec: str,
    *,
    shape: Sequence[int] | None = None,
    workers: int = 4,
    splits: Sequence[str] = ("train", "test"),
) -> Dataset:
    """Read a dataset named as ``--data`` names it.

    ``shape`` (C, H, W) is the network's input: image folders are converted and resized to it;
    the fixed-size formats are checked against it by the caller. ``splits`` may leave out
    ``"train"`` (evaluation needs only the test split); the missing one is empty.
    """
    import torch

    kind, folder = parse_data(spec)
    empty = (torch.zeros((0, 1, 1, 1), dtype=torch.uint8), torch.zeros(0, dtype=torch.int64))
    parts: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    if kind == "fashion-mnist":
        folder = folder or FASHION_MNIST_DIR
        _require_files(folder, [f for s in splits for f in FASHION_MNIST_FILES[s]], fashion=True)
        for split in splits:
            images, labels = FASHION_MNIST_FILES[split]
            parts[split] = read_idx_pair(folder / images, folder / labels)
        classes = list(FASHION_MNIST_CLASSES)
    elif kind == "cifar10":
        if folder is None:
            raise DatasetError("`--data cifar10` needs the folder of the batches: cifar10:DIR")
        folder = _cifar_folder(folder)
        names = {"train": CIFAR10_TRAIN, "test": [CIFAR10_TEST]}
        _require_files(folder, [f for s in splits for f in names[s]])
        for split in splits:
            parts[split] = read_cifar_batches([folder / n for n in names[split]])
        classes = _cifar_classes(folder)
    else:
        if folder is None:
            raise DatasetError("`--data imagefolder` needs a folder: imagefolder:DIR")
        if shape is None:
            raise DatasetError("an image folder needs the network's input shape to resize to")
        classes = _folder_classes(folder)
        dirs = {split: folder / _folder_split(folder, split) for split in splits}
        for split in splits:
            parts[split] = read_image_folder(dirs[split], classes, shape, workers)
    train = parts.get("train", empty)
    test = parts.get("test", empty)
    for split, (_, labels) in parts.items():
        if labels.numel() and int(labels.max()) >= len(classes):
            raise DatasetError(
                f"`{spec}` {split} labels go up to {int(labels.max())}, but it has {len(classes)} classes"
            )
    return Dataset(kind, train[0], train[1], test[0], test[1], classes)


def _require_files(folder: Path, names: Sequence[str], fashion: bool = False) -> None:
    missing = [
        n for n in names if not (folder / n).is_file() and not (folder / n.removesuffix(".gz")).is_file()
    ]
    if not missing:
        return
    what = "Fashion-MNIST" if fashion else "the dataset"
    where = (
        f"`{folder}` does not exist"
        if not folder.exists()
        else f"missing in `{folder}`: {', '.join(missing)}"
    )
    help = f"the folder must hold {', '.join(names)}"
    if fashion:
        help = (
            f"install Debian's package `{FASHION_MNIST_PACKAGE}` (apt-get install {FASHION_MNIST_PACKAGE}), "
            f"or give the folder that holds {', '.join(names)}: --data fashion-mnist:DIR"
        )
    raise DatasetError(f"{what} not found: {where}", help=help)


# --- IDX (MNIST, Fashion-MNIST) ---------------------------------------------------------------


def _read_maybe_gz(path: Path) -> bytes:
    if not path.is_file() and path.suffix == ".gz":
        path = path.with_suffix("")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"cannot read `{path}`: {(err.strerror or str(err)).lower()}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DatasetError(f"`{path}` is not a valid gzip file: {err}") from None
    return raw


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file of unsigned bytes (``.gz`` or not) as a uint8 tensor of its declared shape."""
    import numpy as np
    import torch

    raw = _read_maybe_gz(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(
            f"`{path}` is not an IDX file of unsigned bytes (magic {raw[:4].hex() or 'empty'})"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DatasetError(f"`{path}`: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = 1
    for d in dims:
        count *= d
    if len(raw) - header != count:
        raise DatasetError(
            f"`{path}`: header says {'x'.join(map(str, dims))} bytes, file has {len(raw) - header}"
        )
    array = np.frombuffer(raw, dtype=np.uint8, count=count, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())


def read_idx_pair(images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
    x = read_idx(images)
    y = read_idx(labels)
    if x.dim() != 3 or y.dim() != 1:
        raise DatasetError(f"`{images}` must hold N x H x W images and `{labels}` N labels")
    if x.shape[0] != y.shape[0]:
        raise DatasetError(f"`{images}` has {x.shape[0]} images but `{labels}` has {y.shape[0]} labels")
    return x.unsqueeze(1), y.long()


# --- CIFAR-10 python batches ------------------------------------------------------------------


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles the numpy arrays, lists and dicts of a CIFAR batch, and nothing executable."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load `{module}.{name}` from a dataset file")


def _unpickle(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return _CifarUnpickler(handle, encoding="bytes").load()
    except OSError as err:
        raise DatasetError(f"cannot read `{path}`: {(err.strerror or str(err)).lower()}") from None
    except Exception as err:
        raise DatasetError(f"`{path}` is not a CIFAR-10 python batch: {err}") from None


def read_cifar_batches(paths: Sequence[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 batches (pickled dicts, ``b'data'`` uint8 [N, 3072], ``b'labels'``) -> [N, 3, 32, 32]."""
    import numpy as np
    import torch

    xs, ys = [], []
    for path in paths:
        batch = _unpickle(path)
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            raise DatasetError(
                f"`{path}` is not a CIFAR-10 batch: expected a dict with b'data' and b'labels'"
            )
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise DatasetError(
                f"`{path}`: b'data' must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}"
            )
        if labels.shape != (data.shape[0],):
            raise DatasetError(f"`{path}` has {data.shape[0]} images but {labels.size} labels")
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(labels)
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


def _cifar_folder(folder: Path) -> Path:
    """Accept the folder the archive unpacks to, or the one above it."""
    inner = folder / "cifar-10-batches-py"
    return inner if not (folder / CIFAR10_TEST).exists() and inner.is_dir() else folder


def _cifar_classes(folder: Path) -> list[str]:
    meta = folder / "batches.meta"
    if meta.is_file():
        names = _unpickle(meta).get(b"label_names") if meta.stat().st_size < 1 << 20 else None
        if isinstance(names, list) and len(names) == 10:
            return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return list(CIFAR10_CLASSES)


# --- image folders ----------------------------------------------------------------------------


def _folder_split(folder: Path, split: str) -> str:
    names = ("train",) if split == "train" else ("val", "test")
    for name in names:
        if (folder / name).is_dir():
            return name
    raise DatasetError(
        f"image folder `{folder}` has no `{names[0]}/` folder",
        help="lay it out as DIR/train/<class>/*.png and DIR/val/<class>/*.png",
    )


def _folder_classes(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise DatasetError(f"image folder `{folder}` does not exist")
    train = folder / _folder_split(folder, "train")
    classes = sorted(p.name for p in train.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(
            f"`{train}` has no class folders", help="put each class's images in train/<class>/"
        )
    return classes


def read_image(path: Path, shape: Sequence[int]) -> Any:
    """One image as a uint8 numpy array [C, H, W]: converted to C channels, resized to H x W."""
    import numpy as np

    channels, height, width = shape
    if channels not in (1, 3):
        raise DatasetError(f"image folders give 1 or 3 channels; the network takes {channels}")
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib's reader, for machines without Pillow
        return _read_image_matplotlib(path, shape)
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if img.size != (width, height):
                img = img.resize((width, height), Image.BILINEAR)
            array = np.asarray(img, dtype=np.uint8)
    except OSError as err:
        raise DatasetError(f"cannot read image `{path}`: {err}") from None
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def _read_image_matplotlib(path: Path, shape: Sequence[int]) -> Any:  # pragma: no cover
    import matplotlib.image
    import numpy as np
    import torch

    channels, height, width = shape
    try:
        array = matplotlib.image.imread(str(path))
    except Exception as err:
        raise DatasetError(f"cannot read image `{path}`: {err}") from None
    if array.dtype != np.uint8:  # PNGs come back as floats in [0, 1]
        array = np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    array = array[:, :, :3]
    if channels == 1 and array.shape[2] == 3:
        array = np.rint(array @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[:, :, None]
    elif channels == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    chw = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    if chw.shape[1:] != (height, width):
        chw = torch.nn.functional.interpolate(
            chw[None].float(), size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )[0]
        chw = chw.round().clamp(0, 255).to(torch.uint8)
    return chw.numpy()


def read_image_folder(
    folder: Path, classes: Sequence[str], shape: Sequence[int], workers: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image under ``folder/<class>/``, in class then file-name order."""
    import numpy as np
    import torch

    files: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        sub = folder / name
        if sub.is_dir():
            files += [
                (p, label)
                for p in sorted(sub.iterdir())
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            ]
    if not files:
        raise DatasetError(f"`{folder}` has no images (.png, .jpg) in its class folders")
    with ThreadPoolExecutor(max(1, workers)) as pool:
        arrays = list(pool.map(lambda item: read_image(item[0], shape), files))
    x = torch.from_numpy(np.stack(arrays))
    y = torch.tensor([label for _, label in files], dtype=torch.int64)
    return x, y


# --- statistics, batches and augmentation -----------------------------------------------------


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 images, on the 0..1 scale."""
    import torch

    c = images.shape[1]
    flat = images.transpose(0, 1).reshape(c, -1)
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for start in range(0, flat.shape[1], 1 << 24):
        chunk = flat[:, start : start + (1 << 24)].double()
        total += chunk.sum(1)
        total_sq += (chunk * chunk).sum(1)
    n = max(1, flat.shape[1])
    mean = total / n
    std = (total_sq / n - mean * mean).clamp_min(1e-12).sqrt()
    return [float(v) / 255.0 for v in mean], [max(float(v) / 255.0, 1e-3) for v in std]


def parse_augment(text: str) -> tuple[str, ...]:
    """``"crop,flip"`` -> ("crop", "flip"); ``"none"`` -> ()."""
    items = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    if items in ((), ("none",)):
        return ()
    unknown = [t for t in items if t not in ("crop", "flip")]
    if unknown:
        raise ValueError(f"--augment takes crop, flip or none, got {', '.join(unknown)}")
    return tuple(dict.fromkeys(items))


def crop_padding(height: int) -> int:
    """Pixels of zero padding before the random crop: 4 for 28..32-pixel images, as in the paper."""
    return max(1, round(height / 8))


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` of a run seeded ``seed`` (a splitmix64 step)."""
    z = (seed * 0x9E3779B97F4A7C15 + epoch + 1) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


class Batches:
    """Normalised (and, for training, augmented) batches of in-memory images.

    ``batch_size`` is the global batch: with ``world`` processes each takes its own
    ``batch_size // world`` slice of every batch, so that the images seen per step, and thus
    the recipe, do not depend on how many processes share the work.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        mean: Sequence[float],
        std: Sequence[float],
        batch_size: int,
        *,
        augment: Sequence[str] = (),
        train: bool = True,
        rank: int = 0,
        world: int = 1,
        channels_last: bool = False,
    ) -> None:
        import torch

        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.augment = tuple(augment) if train else ()
        self.train = train
        self.rank = rank
        self.world = world
        self.channels_last = channels_last
        device = images.device
        c = images.shape[1]
        self.scale = (1.0 / (255.0 * torch.tensor(std, dtype=torch.float32, device=device))).view(1, c, 1, 1)
        self.shift = (torch.tensor(mean, dtype=torch.float32, device=device) * 255.0).view(1, c, 1, 1)
        self.pad = crop_padding(images.shape[2])

    def __len__(self) -> int:
        """Steps per epoch (every process takes the same number of steps)."""
        n = self.images.shape[0]
        if not self.train:
            return -(-len(range(self.rank, n, self.world)) // self.batch_size)
        per_rank = self.batch_size // self.world
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest // self.world >= 2 and per_rank >= 2 else 0)

    def epoch(self, seed: int, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one epoch, from step ``start`` on."""
        import torch

        n = self.images.shape[0]
        device = self.images.device
        if not self.train:
            index = torch.arange(self.rank, n, self.world, device=device)
            for step in range(start, len(self)):
                idx = index[step * self.batch_size : (step + 1) * self.batch_size]
                yield self._prepare(self.images[idx].float(), None, None), self.labels[idx]
            return
        gen = torch.Generator().manual_seed(epoch_seed(seed, epoch))
        order = torch.randperm(n, generator=gen)
        shifts = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=gen)
        flips = torch.rand(n, generator=gen) < 0.5
        order, shifts, flips = (t.to(device, non_blocking=True) for t in (order, shifts, flips))
        for step in range(start, len(self)):
            lo = step * self.batch_size
            hi = min(n, lo + self.batch_size)
            per_rank = (hi - lo) // self.world
            lo += self.rank * per_rank
            sl = slice(lo, lo + per_rank)
            idx = order[sl]
            x = self.images[idx].float()
            yield self._prepare(x, shifts[sl], flips[sl]), self.labels[idx]

    def _prepare(
        self, x: torch.Tensor, shifts: torch.Tensor | None, flips: torch.Tensor | None
    ) -> torch.Tensor:
        import torch

        if "crop" in self.augment and shifts is not None:
            x = random_crop(x, shifts, self.pad)
        if "flip" in self.augment and flips is not None:
            x = torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
        x = (x - self.shift) * self.scale
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def random_crop(x: torch.Tensor, shifts: torch.Tensor, pad: int) -> torch.Tensor:
    """Zero-pad each image by ``pad`` and crop it back at its own offset ``shifts[i] = (dy, dx)``.

    Two gathers for the whole batch: row ``r`` of image ``i`` comes from padded row
    ``r + dy_i`` (source row ``r + dy_i - pad``, or zero outside the image), then the columns
    likewise.
    """
    import torch

    b, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (shifts[:, 0:1] + torch.arange(h, device=x.device)).view(b, 1, h, 1)
    x = padded.gather(2, rows.expand(b, c, h, w + 2 * pad))
    cols = (shifts[:, 1:2] + torch.arange(w, device=x.device)).view(b, 1, 1, w)
    return x.gather(3, cols.expand(b, c, h, w))
