"""Checkpoint readers, one module per format, chosen by sniffing content rather than the suffix."""

from __future__ import annotations

from wsep_cli.readers.base import HeadHint, Reader, TensorInfo
from wsep_cli.readers.sniff import Format, open_reader, sniff

__all__ = ["Format", "HeadHint", "Reader", "TensorInfo", "open_reader", "sniff"]
