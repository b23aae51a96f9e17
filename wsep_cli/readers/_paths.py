"""Resolve a file name taken from an untrusted checkpoint strictly inside one folder.

ONNX external-data locations and sharded-safetensors shard names come from the file itself, so a
malicious checkpoint could point at ``../../etc/passwd``, ``/etc/shadow`` or a symlink that leads out
of the model's folder. :func:`resolve_inside` refuses all of these with :class:`UnsafeError` (exit 4)
and returns the real path of a file that lies inside the folder.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from wsep_cli.errors import UnreadableError, UnsafeError

__all__ = ["resolve_inside"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def resolve_inside(folder: Path, name: object, *, what: str = "file", within: Path | None = None,
                   within_what: str = "the model's folder") -> Path:
    """The real path of ``folder/name``, refusing anything that could leave ``folder``.

    Args:
        folder: the directory the name is relative to (the model's or index's folder).
        name: the relative file name as stored in the checkpoint.
        what: what the name refers to, for the message ("ONNX external data", "shard").
        within: where symlinks may lead (default ``folder``): a Hugging Face cache snapshot's files
            are symlinks into ``../../blobs``, so its shards may resolve anywhere in the repo's cache
            folder. The name itself is checked the same either way.
        within_what: how the message names ``within``.

    Returns:
        ``os.path.realpath(folder / name)``, guaranteed to lie strictly inside ``realpath(within or folder)``.

    Raises:
        UnsafeError: the name is not a string, is empty, absolute (POSIX, UNC or drive letter), has a
            ``..`` component or a NUL byte, or resolves (through symlinks) outside ``folder``, or is
            not a regular file (FIFO, device, directory).
        UnreadableError: the file does not exist or cannot be stat'ed.

    Example::

        shard = resolve_inside(index.parent, "model-00001-of-00002.safetensors", what="shard")
    """
    if not isinstance(name, str) or name.strip() == "":
        raise UnsafeError(f"{folder}: {what} name {name!r} is not a relative file name; refusing it")
    if "\x00" in name:
        raise UnsafeError(f"{folder}: {what} name {name!r} contains a NUL byte; refusing it")
    if os.path.isabs(name) or name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise UnsafeError(
            f"{folder}: {what} name {name!r} is an absolute path; only files inside the model's "
            "folder are read, refusing it"
        )
    parts = re.split(r"[\\/]+", name)
    if any(p == ".." for p in parts):
        raise UnsafeError(
            f"{folder}: {what} name {name!r} climbs out of the folder with '..'; refusing it"
        )
    base = os.path.realpath(within if within is not None else folder)
    real = os.path.realpath(os.path.join(os.path.realpath(folder), name))
    try:
        inside = os.path.commonpath([base, real]) == base and real != base
    except ValueError:  # different drives on Windows
        inside = False
    if not inside:
        where = within_what if within is None else f"{within_what} {base}"
        raise UnsafeError(
            f"{folder}: {what} name {name!r} resolves to {real}, outside {where} "
            "(a symlink leading out?); refusing it"
        )
    try:
        mode = os.stat(real).st_mode
    except OSError as e:
        raise UnreadableError(f"{folder}: {what} {name!r} cannot be read ({e.strerror or e})") from e
    if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
        raise UnsafeError(f"{folder}: {what} {name!r} is not a regular file; refusing it")
    return Path(real)
