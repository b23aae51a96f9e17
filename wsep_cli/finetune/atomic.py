"""Crash-safe file writes: a temp file in the same folder, fsync, rename over the target, fsync
the folder. A crash (or SIGKILL) at any point leaves either the old file or the new one, whole.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from wsep_cli.errors import TrainingError

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "check_writable"]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path next to ``target``; on success fsync it and rename it over ``target``.

    Example:
        >>> with atomic_path(out / "model.safetensors") as tmp:
        ...     save_file(tensors, tmp)
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def check_writable(folder: Path, need_bytes: int = 0, *, label: str = "--output") -> None:
    """Create ``folder`` and prove a file can be written, synced and renamed there; check free space.

    Raises:
        TrainingError: one line naming the folder and the reason (exit 2), before any training.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / ".wsep-write-test", b"ok")
        (folder / ".wsep-write-test").unlink()
    except OSError as e:
        raise TrainingError(f"{label} {folder}: cannot write there ({e.strerror or e}); pick another folder") from e
    if need_bytes:
        import shutil

        free = shutil.disk_usage(folder).free
        if free < need_bytes:
            raise TrainingError(
                f"{label} {folder}: {free / 2**20:.0f} MiB free, the run needs about {need_bytes / 2**20:.0f} MiB "
                "for its checkpoints; free space or pick another folder"
            )
