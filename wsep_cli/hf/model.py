"""A Hugging Face model as a reader: any tensor reader plus what its ``config.json`` says.

:class:`HFModelReader` wraps the reader of the weights (a safetensors file or shard set, a
``pytorch_model.bin``, the same read remotely from the Hub) and adds the head(s) named by the
config (:mod:`wsep_cli.hf.heads`), the class names (``id2label`` / ``label_names``) and the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from wsep_cli.hf.config import HFConfig
from wsep_cli.hf.heads import hints_for
from wsep_cli.readers.base import HeadHint, Reader, TensorInfo
from wsep_cli.results import SourceInfo

__all__ = ["HFModelReader"]


@dataclass
class HFModelReader(Reader):
    """``inner``'s tensors, the config's heads and class names; ``source`` says where it came from."""

    inner: Reader | None = None
    config: HFConfig = field(default_factory=HFConfig)
    source: Callable[[], SourceInfo | None] = lambda: None

    @property  # type: ignore[override]
    def format(self) -> str:  # noqa: D401 - the format of the weights
        assert self.inner is not None
        return self.inner.format

    def tensors(self) -> list[TensorInfo]:
        assert self.inner is not None
        return self.inner.tensors()

    def load(self, name: str) -> np.ndarray:
        assert self.inner is not None
        return self.inner.load(name)

    def hints(self) -> list[HeadHint]:
        assert self.inner is not None
        return hints_for(self.config, self.tensors()) or self.inner.hints()

    def metadata(self) -> dict[str, str]:
        assert self.inner is not None
        return self.inner.metadata()

    def class_names(self) -> tuple[str, ...] | None:
        return self.config.labels

    def source_info(self) -> SourceInfo | None:
        return self.source()

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
        super().close()
