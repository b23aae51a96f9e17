"""Crash-safe file writes: a temp file in the same folder, fsync, rename over the target, fsync
the folder. A crash (or SIGKILL) at any point leaves either the old file or the new one, whole.

The temp file is created with mode 0666 less the umask, as ``open()`` would create the target
(``tempfile.mkstemp`` makes 0600 files, which other users of a shared run folder could not read).
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from wsep_cli.errors import TrainingError
from wsep_cli.finetune import faults

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "check_writable", "remove_if_empty"]


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
    tmp = _new_temp(target)
    try:
        yield tmp
        faults.instant(f"{target.name}:written")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        faults.instant(f"{target.name}:renamed")
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _new_temp(target: Path) -> Path:
    """An empty, new file ``.<name>.<random>.tmp`` beside ``target``, mode 0666 & ~umask."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{target.parent}: cannot create a unique temporary file")


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def check_writable(folder: Path, need_bytes: int = 0, *, label: str = "--output") -> list[Path]:
    """Create ``folder`` and prove a file can be written, synced and renamed there; check free space.

    Returns:
        The folders this call created, outermost first (so a run that fails to start can remove
        them again with :func:`remove_if_empty`).

    Raises:
        TrainingError: one line naming the folder and the reason (exit 2), before any training.
    """
    folder = Path(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / ".wsep-write-test", b"ok")
        (folder / ".wsep-write-test").unlink()
    except OSError as e:
        remove_if_empty(created)
        raise TrainingError(f"{label} {folder}: cannot write there ({e.strerror or e}); pick another folder") from e
    if need_bytes:
        import shutil

        free = shutil.disk_usage(folder).free
        if free < need_bytes:
            remove_if_empty(created)
            raise TrainingError(
                f"{label} {folder}: {free / 2**20:.0f} MiB free, the run needs about {need_bytes / 2**20:.0f} MiB "
                "for its checkpoints; free space or pick another folder"
            )
    return created


def remove_if_empty(created: list[Path]) -> None:
    """Remove the folders in ``created`` (outermost first) that are still empty, innermost first."""
    for p in reversed(created):
        try:
            p.rmdir()
        except FileNotFoundError:
            continue
        except OSError:  # not empty: leave it and its parents
            return
