"""Raw dataset readers: scikit-learn digits, MNIST-format IDX files, synthetic data, network probe.

Each returns ``((x_train, y_train), (x_test, y_test))`` or one split as torch tensors:
x N x C x H x W (uint8 0-255, or float32 0-1 for digits), y int64.
"""

from __future__ import annotations

import gzip
import os
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from wsep_cli.errors import UnreadableError, UsageError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["digits", "synthetic", "idx_dataset", "read_idx", "online"]

Pair = tuple["Tensor", "Tensor"]

_IDX_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def online(url: str, timeout: float = 3.0) -> bool:
    """True if a TCP connection to ``url``'s host opens within ``timeout`` s (DNS included)."""
    if os.environ.get("WSEP_OFFLINE"):
        return False
    import socket
    from urllib.parse import urlparse

    host = urlparse(url).hostname or url
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)  # getaddrinfo ignores socket timeouts
    t.start()
    t.join(timeout)
    return bool(ok)


def digits() -> tuple[Pair, Pair]:
    """scikit-learn's bundled 8x8 digits (1,797 images), stratified 80/20 split with a fixed seed."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, stratify=d.target, random_state=0)
    return (torch.from_numpy(xtr), torch.from_numpy(ytr.astype(np.int64))), (
        torch.from_numpy(xte), torch.from_numpy(yte.astype(np.int64)))


def synthetic(n_train: int, n_test: int, *, seed: int) -> tuple[Pair, Pair]:
    """CIFAR-shaped (3 x 32 x 32 uint8, 10 classes) learnable data: a class pattern plus noise."""
    import torch

    g = torch.Generator().manual_seed(seed)
    templates = torch.randint(0, 256, (10, 3, 32, 32), generator=g).float()

    def make(n: int) -> Pair:
        y = torch.randint(0, 10, (n,), generator=g)
        noise = torch.randint(0, 256, (n, 3, 32, 32), generator=g).float()
        return (0.5 * templates[y] + 0.5 * noise).round().to(torch.uint8), y

    return make(n_train), make(n_test)


def read_idx(path: Path) -> "Tensor":
    """An IDX file (MNIST format), gzip or raw, as a uint8 tensor."""
    import numpy as np
    import torch

    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise UnreadableError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4: 4 + 4 * ndim])
    count = int(np.prod(dims))
    body = raw[4 + 4 * ndim:]
    if len(body) != count:
        raise UnreadableError(f"{path}: IDX header says {count} bytes of data, the file has {len(body)}")
    return torch.from_numpy(np.frombuffer(body, dtype=np.uint8).reshape(dims).copy())


def _find(data_dir: Path, kind: str, stem: str) -> Path | None:
    for folder in (data_dir / _IDX_FOLDERS[kind] / "raw", data_dir / _IDX_FOLDERS[kind], data_dir / kind, data_dir):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def idx_dataset(kind: str, data_dir: Path, *, train: bool) -> Pair:
    """One split of MNIST / Fashion-MNIST from IDX files, downloaded by torchvision when online."""
    import torch

    prefix = "train" if train else "t10k"
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    paths = [_find(data_dir, kind, s) for s in stems]
    if any(p is None for p in paths):
        from torchvision import datasets

        cls = datasets.MNIST if kind == "mnist" else datasets.FashionMNIST
        if not online(cls.mirrors[0]):
            where = data_dir / _IDX_FOLDERS[kind] / "raw"
            raise UsageError(
                f"{kind} is not in {data_dir} and this machine is offline: place {stems[0]}.gz and "
                f"{stems[1]}.gz in {where}/, or pass --data-dir DIR"
            )
        cls(str(data_dir), train=train, download=True)
        paths = [_find(data_dir, kind, s) for s in stems]
        if any(p is None for p in paths):
            raise UsageError(f"{kind}: the download to {data_dir} did not produce {stems[0]}")
    x, y = read_idx(paths[0]), read_idx(paths[1])  # type: ignore[arg-type]
    if x.dim() != 3 or y.dim() != 1 or x.shape[0] != y.shape[0]:
        raise UnreadableError(f"{kind}: images {tuple(x.shape)} and labels {tuple(y.shape)} do not match")
    return x[:, None].contiguous(), y.to(torch.int64)
