"""What the paths on a command line mean: files, model folders, folders of checkpoints, globs.

- A **file** is scored by its content (its suffix does not matter). A shard of an indexed set
  (``model-00001-of-00002.safetensors`` listed in ``model.safetensors.index.json``) is never scored
  alone: its whole set is, once, under the set's folder (with a note, unless the path named was
  the set's ``*.index.json``, which is how a set is named).
- A **model folder** is one model: it holds a ``*.index.json`` weight map (sharded safetensors or
  ``pytorch_model.bin``), or a Hugging Face ``config.json`` beside weights.
- Any other **folder** holds checkpoints: every checkpoint file directly in it, and every model
  folder directly below it, each scored and named on its own. A folder with none is a usage error.
- A **glob** (``*``, ``?``, ``[``, ``**`` recursive) expands to its matches, read as above; matches that
  are not checkpoints (a README, a ``config.json``) are skipped and counted in a note.
- ``timm:NAME`` and ``hf:ORG/NAME`` are sources, passed on as written.

Example:
    >>> expand_inputs(["fixtures"]).specs  # doctest: +SKIP
    ('fixtures/digits_mlp.onnx', 'fixtures/digits_mlp.pt', ..., 'fixtures/digits_mlp_sharded')
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path

from wsep_cli.errors import UnreadableError, UsageError

__all__ = ["SOURCE_PREFIXES", "Inputs", "expand_inputs", "is_model_folder", "is_checkpoint_file"]

SOURCE_PREFIXES = ("timm:", "hf:")
_MAX_INDEX_BYTES = 64 * 1024 * 1024
_WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors", "tf_model.h5")


@dataclass(frozen=True)
class Inputs:
    """The checkpoints to read, in order, and notes on what was mapped or skipped."""

    specs: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())


def is_checkpoint_file(path: Path) -> bool:
    """True when ``path`` is a file whose content is a format wsep reads."""
    from wsep_cli.readers.sniff import sniff

    if not path.is_file():
        return False
    try:
        sniff(path)
    except UnreadableError:
        return False
    return True


def _index_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.index.json") if p.is_file())


def is_model_folder(folder: Path) -> bool:
    """A folder that is one model: an index weight map, or a Hugging Face config beside weights."""
    if not folder.is_dir():
        return False
    if _index_files(folder):
        return True
    if (folder / "config.json").is_file():
        return any((folder / n).is_file() for n in _WEIGHT_NAMES) or any(folder.glob("*.safetensors"))
    return False


def _members(folder: Path) -> set[str]:
    """File names that belong to the model in ``folder`` (shards, indexes, configs)."""
    names = {p.name for p in _index_files(folder)} | {"config.json"}
    for index in _index_files(folder):
        try:
            if index.stat().st_size > _MAX_INDEX_BYTES:
                continue
            doc = json.loads(index.read_bytes().decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            continue  # the reader reports a broken index when the folder is scored
        wmap = doc.get("weight_map") if isinstance(doc, dict) else None
        if isinstance(wmap, dict):
            names |= {v for v in wmap.values() if isinstance(v, str)}
    return names


def _folder_contents(folder: Path) -> list[Path]:
    """Checkpoint files directly in ``folder`` and model folders directly below it, sorted."""
    out: list[Path] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.is_dir():
            if is_model_folder(entry):
                out.append(entry)
        elif is_checkpoint_file(entry):
            out.append(entry)
    return out


class _Collector:
    """Ordered, de-duplicated specs plus notes."""

    def __init__(self) -> None:
        self.specs: list[str] = []
        self.seen: set[str] = set()
        self.notes: list[str] = []
        self._sets: dict[Path, set[str] | None] = {}  # folder -> member names when it is a model folder

    def model_folder_of(self, path: Path) -> Path | None:
        """The model folder a file belongs to (a shard, an index, the config), or None."""
        folder = path.parent
        if folder not in self._sets:
            self._sets[folder] = _members(folder) if is_model_folder(folder) else None
        members = self._sets[folder]
        return folder if members is not None and path.name in members else None

    def add(self, spec: str, key: str | None = None) -> None:
        key = key or str(Path(spec).resolve())
        if key not in self.seen:
            self.seen.add(key)
            self.specs.append(spec)

    def add_path(self, path: Path, *, explicit: bool) -> bool:
        """Add a file or folder; return False when it is not a checkpoint (globs skip those)."""
        if path.is_dir():
            if is_model_folder(path):
                self.add(str(path))
                return True
            contents = _folder_contents(path)
            if not contents:
                if explicit:
                    raise UsageError(f"{path}: the folder holds no checkpoint wsep can read")
                return False
            for p in contents:
                self._add_file_or_set(p)
            return True
        model = self.model_folder_of(path)
        if model is not None:
            if str(model.resolve()) not in self.seen and not path.name.endswith(".index.json"):
                self.notes.append(f"{path}: part of the model in {model}; scored that set once")
            self.add(str(model))
            return True
        if not explicit and not is_checkpoint_file(path):
            return False
        self.add(str(path))
        return True

    def _add_file_or_set(self, path: Path) -> None:
        model = None if path.is_dir() else self.model_folder_of(path)
        self.add(str(model if model is not None else path))


def expand_inputs(patterns: list[str]) -> Inputs:
    """Expand paths, folders and globs into the checkpoints to read.

    Raises:
        UsageError: a missing path, a glob that matches no checkpoint, a folder with none, no path.
    """
    col = _Collector()
    for p in patterns:
        if p.startswith(SOURCE_PREFIXES):
            col.add(p, key=p)
        elif glob.has_magic(p):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise UsageError(f"{p}: the pattern matches no file")
            skipped = [m for m in matches if not col.add_path(Path(m), explicit=False)]
            if len(skipped) == len(matches):
                raise UsageError(f"{p}: the pattern matches {len(matches)} paths, none of them a checkpoint")
            if skipped:
                col.notes.append(f"{p}: skipped {len(skipped)} match(es) that are not checkpoints")
        elif Path(p).exists() or Path(p).is_symlink():
            col.add_path(Path(p), explicit=True)
        else:
            raise UsageError(f"{p}: no such file or directory")
    if not col.specs:
        raise UsageError("no checkpoint given; pass one or more paths")
    return Inputs(specs=tuple(col.specs), notes=tuple(col.notes))
