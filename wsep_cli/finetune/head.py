"""Find a live model's classifier with wsep's own locator, and capture its input alpha.

The model's ``state_dict()`` is presented to :func:`wsep_cli.locate.locate` through a tiny
:class:`Reader` adapter, so training uses exactly the name rules that ``wsep score`` uses on the
saved file. A forward pre-hook on the located module records its input alpha on every forward pass,
so any architecture (timm included) trains with L_re without model-specific code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Optional

import numpy as np

from wsep_cli.errors import NoClassifierError
from wsep_cli.locate import Head, locate
from wsep_cli.locate.rules import module_of
from wsep_cli.readers.base import Reader, TensorInfo

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["StateDictReader", "ClassifierHead", "find_classifier"]

_DTYPE_NAMES = {"torch.float32": "float32", "torch.float64": "float64", "torch.float16": "float16",
                "torch.bfloat16": "bfloat16"}


@dataclass
class StateDictReader(Reader):
    """A :class:`Reader` over an in-memory ``state_dict`` (tensors are only read by ``load``)."""

    format: ClassVar[str] = "state_dict"
    state: dict[str, Any] = field(default_factory=dict)

    def tensors(self) -> list[TensorInfo]:
        return [
            TensorInfo(k, tuple(int(d) for d in v.shape), _DTYPE_NAMES.get(str(v.dtype), str(v.dtype).replace("torch.", "")))
            for k, v in self.state.items()
        ]

    def load(self, name: str) -> np.ndarray:
        return self.state[name].detach().float().cpu().numpy()


@dataclass
class ClassifierHead:
    """The located classifier module and the features alpha of the latest forward pass."""

    key: str  # state_dict key of the weight, e.g. "linear.weight"
    module: "nn.Module"
    located_by: str
    reason: str
    _features: Optional["torch.Tensor"] = field(default=None, repr=False)
    _handle: Any = field(default=None, repr=False)

    @property
    def weight(self) -> "torch.Tensor":
        """V (n x m, or an n x m x 1 x 1 kernel): the live parameter, so gradients reach it."""
        return self.module.weight  # type: ignore[return-value]

    def attach(self) -> "ClassifierHead":
        self._handle = self.module.register_forward_pre_hook(self._hook)
        return self

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _hook(self, _module: "nn.Module", args: tuple[Any, ...]) -> None:
        x = args[0]
        if x.dim() == 4:  # a 1x1-conv head followed by global pooling: pooled alpha (linear ops commute)
            x = x.mean(dim=(2, 3))
        elif x.dim() > 2:  # tokens/sequence heads: average over the middle dims
            x = x.flatten(1, -2).mean(dim=1)
        self._features = x

    def features(self) -> "torch.Tensor":
        """alpha (B x m) from the latest forward pass."""
        if self._features is None:
            raise RuntimeError("the classifier has not run yet; call the model first")
        return self._features


def find_classifier(model: "nn.Module", *, layer: Optional[str] = None,
                    arch_classifiers: Optional[list[str]] = None) -> ClassifierHead:
    """Locate the classifier of ``model`` (rules of :func:`wsep_cli.locate.locate`).

    Raises:
        NoClassifierError: nothing fits, or the located tensor is not a Linear / 1x1 Conv2d weight.
    """
    state = {k: v for k, v in model.state_dict().items() if hasattr(v, "shape")}
    reader = StateDictReader(path=Path("<model>"), state=state)
    heads: list[Head] = locate(reader, layer=layer, arch_classifiers=arch_classifiers)
    key = heads[0].layer
    name = module_of(key)
    try:
        module = model.get_submodule(name)
    except AttributeError as e:
        raise NoClassifierError(f"classifier {key!r} is not the weight of a module; name one with --layer") from e
    w = getattr(module, "weight", None)
    ok_linear = w is not None and w.dim() == 2
    ok_conv = w is not None and w.dim() == 4 and tuple(w.shape[2:]) == (1, 1)
    if not (ok_linear or ok_conv) or not key.endswith("weight"):
        raise NoClassifierError(
            f"located classifier {key!r} is not a Linear or 1x1 Conv2d weight; name one with --layer"
        )
    return ClassifierHead(key=key, module=module, located_by=heads[0].located_by, reason=heads[0].reason)
