"""A local Hugging Face model folder (what ``save_pretrained`` writes) opened as one model.

The weights are chosen the way transformers loads them: a safetensors index or ``model.safetensors``
first, then ``pytorch_model.bin.index.json``, then ``pytorch_model.bin``. ``config.json``, when
present, names the head and the class names (:class:`~wsep_cli.hf.model.HFModelReader`).
"""

from __future__ import annotations

from pathlib import Path

from wsep_cli.hf.config import HFConfig, read_config
from wsep_cli.hf.model import HFModelReader
from wsep_cli.readers.base import Reader

__all__ = ["open_folder", "is_hf_folder"]

_BIN_INDEX = "pytorch_model.bin.index.json"
_BIN = "pytorch_model.bin"


def _has_safetensors(folder: Path) -> bool:
    return any(p.is_file() for p in folder.glob("*.safetensors")) or any(
        p.is_file() for p in folder.glob("*.safetensors.index.json")
    )


def is_hf_folder(folder: Path) -> bool:
    """A folder with a ``config.json``, or PyTorch shards indexed by ``pytorch_model.bin.index.json``."""
    return folder.is_dir() and ((folder / "config.json").is_file() or (folder / _BIN_INDEX).is_file())


def _weights_reader(folder: Path) -> Reader | None:
    if _has_safetensors(folder):
        from wsep_cli.readers.safetensors.sharded import ShardedSafetensorsReader

        return ShardedSafetensorsReader(folder)
    if (folder / _BIN_INDEX).is_file():
        from wsep_cli.hf.bin_index import ShardedTorchReader

        return ShardedTorchReader(folder / _BIN_INDEX)
    if (folder / _BIN).is_file():
        from wsep_cli.readers.pytorch.reader import TorchReader

        return TorchReader(folder / _BIN)
    return None


def open_folder(folder: Path) -> HFModelReader | None:
    """The model in ``folder``, or None when it is not a Hugging Face folder with weights wsep reads.

    Raises:
        UnreadableError: a corrupt ``config.json`` or weights (exit 4).
    """
    if not is_hf_folder(folder):
        return None
    cfg = read_config(folder / "config.json") if (folder / "config.json").is_file() else HFConfig()
    inner = _weights_reader(folder)
    if inner is None:
        return None
    return HFModelReader(path=folder, inner=inner, config=cfg)
