"""Datasets for ``wsep finetune --data``: where they come from and how they are normalised.

Tensor datasets (``digits``, ``cifar10``, ``cifar100``, ``mnist``, ``fashion-mnist``, ``synthetic``,
``cifar10-jpeg:PATH``) are loaded whole as uint8/float tensors (the trainer moves them to the GPU once and augments them
there in batches); ``imagefolder:PATH`` stays on disk and goes through a DataLoader.

Where CIFAR-10 comes from, in order: the official ``cifar-10-batches-py/`` in ``--data-dir``; the packed
JPEG copy (:mod:`wsep_cli.finetune.packed`) found by name in ``--data-dir``; a download when the machine
is online. Otherwise a one-line UsageError (exit 2) says which files to place where. ``WSEP_OFFLINE=1``
skips the network probe. :attr:`DataBundle.form` (in ``config.json``) records which form was used, so
that results on the lossy JPEG copy are never mistaken for the lossless benchmark.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from wsep_cli.errors import UsageError
from wsep_cli.finetune.packed import FORM as PACKED_FORM
from wsep_cli.finetune.packed import find_packed, load_packed_split, resolve_packed
from wsep_cli.finetune.sources import digits, idx_dataset, online, synthetic

if TYPE_CHECKING:
    from torch import Tensor

    from wsep_cli.finetune.config import FinetuneConfig
    from wsep_cli.finetune.models import ModelSpec

__all__ = ["DataSource", "TensorSplit", "FolderSplit", "DataBundle", "parse_data", "load_data", "NORMALIZATION"]

TENSOR_KINDS = ("digits", "cifar10", "cifar100", "mnist", "fashion-mnist", "synthetic")
LOSSLESS = "official (lossless)"

# (mean, std, crop padding as a fraction of the image side, horizontal flip) per dataset:
# CIFAR's standard 4 px at 32, MNIST's 2 px at 28.
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...], float, bool]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 4 / 32, True),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), 4 / 32, True),
    "mnist": ((0.1307,), (0.3081,), 2 / 28, False),
    "fashion-mnist": ((0.2860,), (0.3530,), 2 / 28, True),
    "digits": ((0.3053,), (0.3760,), 2 / 28, False),
    "cifar10-jpeg": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 4 / 32, True),  # the official constants
    "synthetic": ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 4 / 32, True),
    "imagefolder": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 4 / 32, True),  # ImageNet statistics
}


@dataclass(frozen=True)
class DataSource:
    """A parsed ``--data`` value."""

    kind: str
    path: Optional[Path] = None
    size: Optional[int] = None  # synthetic:N


@dataclass
class TensorSplit:
    """A whole split in memory: x is N x C x H x W, uint8 (0-255) or float (0-1); y is int64."""

    x: "Tensor"
    y: "Tensor"

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class FolderSplit:
    """An on-disk split read through torchvision's ImageFolder (indices select a subset)."""

    root: Path
    indices: Optional[list[int]] = None

    def __len__(self) -> int:
        from torchvision.datasets import ImageFolder

        return len(self.indices) if self.indices is not None else len(ImageFolder(str(self.root)))


Split = Union[TensorSplit, FolderSplit]


@dataclass
class DataBundle:
    """Everything the trainer needs to know about the data."""

    source: DataSource
    train: Optional[Split]
    test: Split
    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pad: int
    flip: bool
    classes: list[str] = field(default_factory=list)
    form: str = ""  # which form of the data was read, e.g. LOSSLESS or packed.FORM
    files: list[str] = field(default_factory=list)  # what was read, where that is one or two files

    def describe(self) -> dict[str, Any]:
        return {
            "data": self.source.kind, "form": self.form, "lossless": self.form != PACKED_FORM, "files": self.files,
            "train_size": len(self.train) if self.train is not None else 0,
            "test_size": len(self.test), "num_classes": self.num_classes, "in_channels": self.in_channels,
            "image_size": self.image_size, "mean": list(self.mean), "std": list(self.std),
            "crop_padding": self.pad, "flip": self.flip,
        }


def parse_data(spec: str) -> DataSource:
    """``digits``, ``cifar10``, ..., ``imagefolder:PATH`` or ``synthetic[:N]``."""
    kind, _, rest = spec.partition(":")
    if kind == "imagefolder":
        if not rest:
            raise UsageError("--data imagefolder:PATH needs a folder, e.g. imagefolder:./images")
        return DataSource("imagefolder", Path(rest))
    if kind == "synthetic":
        size = int(rest) if rest.isdigit() else None
        if rest and size is None:
            raise UsageError(f"--data {spec!r}: use synthetic or synthetic:N with N an integer")
        return DataSource("synthetic", None, size)
    if kind == "cifar10-jpeg":
        if not rest:
            raise UsageError("--data cifar10-jpeg:PATH needs the folder holding the packed .npz files")
        return DataSource("cifar10-jpeg", Path(rest))
    if kind in TENSOR_KINDS and not rest:
        return DataSource(kind)
    raise UsageError(f"--data {spec!r} is not one of {', '.join(TENSOR_KINDS)}, cifar10-jpeg:PATH or imagefolder:PATH")


def default_data_dir() -> Path:
    return Path(os.environ.get("WSEP_DATA_DIR", Path.home() / ".cache" / "wsep" / "data"))


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
Loaded = tuple[Optional[TensorSplit], TensorSplit, list[str], str, list[str]]  # train, test, classes, form, files


def _load_tensor_splits(src: DataSource, cfg: "FinetuneConfig", need_train: bool) -> Loaded:
    data_dir = Path(cfg.data_dir) if cfg.data_dir else default_data_dir()
    digits_names = [str(i) for i in range(10)]
    if src.kind == "digits":
        (xtr, ytr), (xte, yte) = digits()
        return TensorSplit(xtr, ytr), TensorSplit(xte, yte), digits_names, "scikit-learn bundled digits", []
    if src.kind == "synthetic":
        n = src.size or 5000
        (xtr, ytr), (xte, yte) = synthetic(n, max(n // 5, 10), seed=1234)
        return TensorSplit(xtr, ytr), TensorSplit(xte, yte), digits_names, "generated (synthetic)", []
    if src.kind in ("mnist", "fashion-mnist"):
        test = TensorSplit(*idx_dataset(src.kind, data_dir, train=False))
        train = TensorSplit(*idx_dataset(src.kind, data_dir, train=True)) if need_train else None
        return train, test, digits_names, LOSSLESS, []
    if src.kind == "cifar10-jpeg":
        assert src.path is not None
        return _packed(resolve_packed(src.path), need_train)
    if src.kind == "cifar10" and not (data_dir / "cifar-10-batches-py").is_dir():
        packed = find_packed(data_dir)
        if packed is not None:
            return _packed(packed, need_train)
    return _cifar(src.kind, data_dir, need_train)


def _packed(folder: Path, need_train: bool) -> Loaded:
    xte, yte, fte = load_packed_split(folder, "test")
    train, files = None, [str(fte)]
    if need_train:
        xtr, ytr, ftr = load_packed_split(folder, "train")
        train, files = TensorSplit(xtr, ytr), [str(ftr), str(fte)]
    return train, TensorSplit(xte, yte), list(CIFAR10_CLASSES), PACKED_FORM, files


def _cifar(kind: str, data_dir: Path, need_train: bool) -> Loaded:
    import numpy as np
    import torch
    from torchvision.datasets import CIFAR10, CIFAR100

    cls = CIFAR10 if kind == "cifar10" else CIFAR100
    folder = "cifar-10-batches-py" if kind == "cifar10" else "cifar-100-python"
    url = cls.url

    def get(train: bool) -> Any:
        try:
            return cls(str(data_dir), train=train, download=False)
        except RuntimeError:
            if not online(url):
                packed = " (or the packed JPEG .npz files, lossy)" if kind == "cifar10" else ""
                raise UsageError(
                    f"{kind} is not in {data_dir} and this machine is offline: extract {url} there "
                    f"(so that {data_dir / folder}/ exists){packed}, or pass --data-dir DIR"
                ) from None
            return cls(str(data_dir), train=train, download=True)

    def split(ds: Any) -> TensorSplit:
        x = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
        return TensorSplit(x, torch.tensor(ds.targets, dtype=torch.int64))

    test_ds = get(False)
    train = split(get(True)) if need_train else None
    return train, split(test_ds), list(test_ds.classes), LOSSLESS, [str(data_dir / folder)]


def _folder_splits(src: DataSource, cfg: "FinetuneConfig", need_train: bool) -> tuple[Optional[FolderSplit], FolderSplit, list[str]]:
    from torchvision.datasets import ImageFolder

    root = src.path
    assert root is not None
    if not root.is_dir():
        raise UsageError(f"--data imagefolder:{root}: no such folder")
    test_dir = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    train_dir = root / "train" if (root / "train").is_dir() else None

    def classes_of(d: Path) -> list[str]:
        try:
            return list(ImageFolder(str(d)).classes)
        except (FileNotFoundError, RuntimeError) as e:
            raise UsageError(f"--data imagefolder:{root}: {d} holds no class folders of images ({e})") from e

    if test_dir is not None:
        classes = classes_of(test_dir)
        if train_dir is None:
            if need_train:
                raise UsageError(f"--data imagefolder:{root}: there is a {test_dir.name}/ folder but no train/; add one or use --eval-only")
            return None, FolderSplit(test_dir), classes
        if classes_of(train_dir) != classes:
            raise UsageError(f"--data imagefolder:{root}: train/ and {test_dir.name}/ hold different class folders")
        return FolderSplit(train_dir), FolderSplit(test_dir), classes
    classes = classes_of(root)
    import torch

    n = len(ImageFolder(str(root)))
    frac = cfg.val_split if cfg.val_split is not None else 0.1
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0)).tolist()
    n_test = max(1, int(round(n * frac)))
    return FolderSplit(root, sorted(perm[n_test:])), FolderSplit(root, sorted(perm[:n_test])), classes


def load_data(cfg: "FinetuneConfig", spec: "ModelSpec", *, need_train: bool = True) -> DataBundle:
    """Load ``cfg.data`` for ``spec``'s input size (tensor data is resized once, here)."""
    from wsep_cli.finetune.augment import fit_to_size

    src = parse_data(cfg.data)
    mean, std, pad_frac, flip = NORMALIZATION[src.kind]
    train: Optional[Split]
    test: Split
    if src.kind == "imagefolder":
        train, test, classes = _folder_splits(src, cfg, need_train)
        form, files = "image folder", [str(src.path)]
        in_ch = 3
        size = cfg.image_size or spec.input_size or 224
    else:
        train, test, classes, form, files = _load_tensor_splits(src, cfg, need_train)
        in_ch, native = int(test.x.shape[1]), int(test.x.shape[2])
        size = cfg.image_size or spec.input_size or native
        if size != native:
            test = TensorSplit(fit_to_size(test.x, size), test.y)
            if train is not None:
                train = TensorSplit(fit_to_size(train.x, size), train.y)  # type: ignore[union-attr]
    pad = max(1, round(pad_frac * size))
    if cfg.mean is not None and cfg.std is not None:
        mean, std = tuple(cfg.mean), tuple(cfg.std)
    if len(mean) not in (1, in_ch):
        raise UsageError(f"--mean/--std give {len(mean)} values but the images have {in_ch} channels")
    if len(mean) == 1 and in_ch > 1:
        mean, std = mean * in_ch, std * in_ch
    num_classes = cfg.num_classes or len(classes)
    return DataBundle(src, train if need_train else None, test, num_classes, in_ch, size, mean, std,
                      pad if cfg.augment else 0, flip and cfg.augment, classes, form, files)
