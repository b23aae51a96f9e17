"""A model folder inside the Hugging Face download cache, where every file is a symlink into ``blobs/``.

huggingface_hub lays a repo out as ``models--ORG--NAME/{blobs/HASH, refs/main, snapshots/COMMIT/FILE}``
with each ``snapshots/COMMIT/FILE`` a relative symlink to ``../../blobs/HASH``. Shard names read from
an index inside a snapshot therefore resolve outside the snapshot folder but inside the repo's cache
folder; :func:`shard_path` lets them, and nothing further. Pure path work: nothing is imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from wsep_cli.readers._paths import resolve_inside

__all__ = ["hub_cache_repo", "shard_path"]

_REPO_FOLDER = re.compile(r"models--[^/\\]+")
_COMMIT = re.compile(r"[0-9a-f]{40}")


def hub_cache_repo(folder: Path) -> Path | None:
    """The real ``models--ORG--NAME`` folder when ``folder`` is (inside) a cache snapshot, else None.

    The layout must be the client's: ``models--ORG--NAME/snapshots/COMMIT[/SUBFOLDER]`` with a 40-hex
    commit and a ``blobs`` folder beside ``snapshots``.

    Example:
        >>> hub_cache_repo(Path("/nonexistent/models--org--vit/snapshots/" + "0" * 40)) is None
        True
    """
    parts = Path(os.path.realpath(folder)).parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "snapshots" and _COMMIT.fullmatch(parts[i + 1]) and _REPO_FOLDER.fullmatch(parts[i - 1]):
            repo = Path(*parts[:i])
            return repo if (repo / "blobs").is_dir() and not (repo / "blobs").is_symlink() else None
    return None


def shard_path(folder: Path, name: object, *, what: str = "shard") -> Path:
    """The real path of the shard ``name`` of the index in ``folder``, refusing escapes.

    Outside the Hugging Face cache, symlinks must stay inside ``folder`` (as everywhere in wsep); in a
    cache snapshot they may lead into the same repo's cache folder (``../../blobs/HASH``), never further.

    Raises:
        UnsafeError: the name is absolute, climbs with ``..``, or resolves outside the allowed folder (exit 4).
        UnreadableError: the shard is missing.
    """
    repo = hub_cache_repo(folder)
    if repo is None:
        return resolve_inside(folder, name, what=what)
    return resolve_inside(folder, name, what=what, within=repo, within_what="this snapshot's Hugging Face cache folder")
