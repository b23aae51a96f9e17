"""Pick a reader by the file's magic bytes (not its suffix) and open it.

Reader modules are imported only when their format is seen, so scoring a safetensors file never
imports onnx, torch or timm.
"""

from __future__ import annotations

import struct
from enum import Enum
from pathlib import Path

from wsep_cli.errors import UnreadableError, UsageError
from wsep_cli.readers.base import Reader

__all__ = ["Format", "sniff", "open_reader"]

_PICKLE_PROTOCOL_BYTES = {0x80}
_ZIP_MAGIC = b"PK\x03\x04"
# Protobuf field tags a serialized onnx.ModelProto can start with (fields 1-8, 14, 20, 21, 25).
_ONNX_FIRST_TAGS = {0x08, 0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0xA2, 0xAA, 0xCA}


class Format(str, Enum):
    SAFETENSORS = "safetensors"
    SAFETENSORS_SHARDED = "safetensors-sharded"
    TORCH_ZIP = "pytorch-zip"
    TORCH_LEGACY = "pytorch-legacy"
    ONNX = "onnx"
    TIMM = "timm"


def sniff(path: Path) -> Format:
    """Name the format of ``path`` from its content."""
    if path.is_dir():
        return Format.SAFETENSORS_SHARDED
    if path.name.endswith(".index.json"):
        return Format.SAFETENSORS_SHARDED
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
        size = path.stat().st_size
    except OSError as e:
        raise UnreadableError(f"{path}: cannot be read ({e.strerror or e})") from e
    if len(head) == 0:
        raise UnreadableError(f"{path}: the file is empty")
    # safetensors first: its first byte is the header length's low byte, 0x80 for 1 file in 256
    if len(head) >= 9:
        (hlen,) = struct.unpack("<Q", head[:8])
        if hlen + 8 <= size and head[8:9] == b"{":
            return Format.SAFETENSORS
    if head[8:9] == b"{" and path.suffix.lower() != ".onnx":
        return Format.SAFETENSORS  # corrupt length field: let the reader say so precisely
    if head.startswith(_ZIP_MAGIC):
        return Format.TORCH_ZIP
    if head[0] in _PICKLE_PROTOCOL_BYTES:
        return Format.TORCH_LEGACY
    if head[0] in _ONNX_FIRST_TAGS and (path.suffix.lower() == ".onnx" or head[0] == 0x08):
        return Format.ONNX
    raise UnreadableError(
        f"{path}: unknown checkpoint format (not safetensors, a PyTorch checkpoint or ONNX)"
    )


def open_reader(spec: str | Path, *, random_init: bool = False) -> Reader:
    """Open a checkpoint path (or ``timm:ARCH``) with the reader its content calls for.

    Raises:
        UsageError: the path does not exist.
        UnreadableError: the content is not a supported format (or is malformed).
        UnsafeError: the file asks for code execution or escapes its folder.
    """
    text = str(spec)
    if text.startswith("timm:"):
        from wsep_cli.readers.timm_hub import TimmReader

        return TimmReader.from_spec(text[len("timm:"):], random_init=random_init)
    path = Path(text)
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{path}: no such file or directory")
    fmt = sniff(path)
    if fmt is Format.SAFETENSORS:
        from wsep_cli.readers.safetensors.reader import SafetensorsReader

        return SafetensorsReader(path)
    if fmt is Format.SAFETENSORS_SHARDED:
        from wsep_cli.readers.safetensors.sharded import ShardedSafetensorsReader

        return ShardedSafetensorsReader(path)
    if fmt in (Format.TORCH_ZIP, Format.TORCH_LEGACY):
        from wsep_cli.readers.pytorch.reader import TorchReader

        return TorchReader(path)
    from wsep_cli.readers.onnx.reader import OnnxReader

    return OnnxReader(path)
