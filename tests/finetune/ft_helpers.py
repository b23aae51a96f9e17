"""Helpers shared by the finetune tests (a plain module, not a conftest, to keep names unique)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
RESNET32_TH = SHARED_DATA / "akamaster_pytorch_resnet_cifar10" / "resnet32-d509ac18.th"
CIFAR_JPG_TAR = SHARED_DATA / "yoongikim_cifar10_images" / "cifar10_test_jpg.tar"


def metrics(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def weights(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file, as numpy, read with the safetensors library itself."""
    from safetensors.numpy import load_file

    return load_file(str(path))


def bit_identical(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes() for k in a)


def cifar_jpg_subset(dest: Path, per_class: int | None) -> Path:
    """Unpack ``test/<class>/*.jpg`` (the first ``per_class`` files of each class, sorted by name)."""
    with tarfile.open(CIFAR_JPG_TAR) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".jpg")), key=lambda m: m.name)
        keep, seen = [], {}
        for m in members:
            cls = Path(m.name).parent.name
            seen[cls] = seen.get(cls, 0) + 1
            if per_class is None or seen[cls] <= per_class:
                keep.append(m)
        tar.extractall(dest, members=keep, filter="data")
    root = next(p.parent for p in dest.rglob("test") if p.is_dir())
    return root
