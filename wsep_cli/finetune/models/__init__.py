"""Model registry for ``wsep finetune --model NAME``.

Built-in: ``resnet20/32/44/56/110`` (CIFAR, option A), ``densenet40``, ``vgg16``, ``nin``, ``lenet``;
and ``timm:NAME`` for any timm architecture (random init; use ``--init`` for weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from wsep_cli.errors import UsageError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ModelSpec", "MODEL_NAMES", "model_spec", "build_model"]


@dataclass(frozen=True)
class ModelSpec:
    """What the data pipeline needs to know about a model before building it."""

    name: str
    input_size: Optional[int]  # square input it was designed for; None = any (timm)
    timm_arch: Optional[str] = None


def _builtin() -> dict[str, Callable[[int, int], "nn.Module"]]:
    from wsep_cli.finetune.models.cifar_resnet import DEPTHS, cifar_resnet
    from wsep_cli.finetune.models.small import LeNet, NiN, densenet40, vgg16

    table: dict[str, Callable[[int, int], "nn.Module"]] = {
        f"resnet{d}": (lambda n, c, d=d: cifar_resnet(d, n, c)) for d in DEPTHS
    }
    table.update(densenet40=densenet40, vgg16=vgg16, nin=NiN, lenet=LeNet)
    return table


MODEL_NAMES: tuple[str, ...] = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
                                "densenet40", "vgg16", "nin", "lenet")


def model_spec(name: str) -> ModelSpec:
    """Look a model name up without building it (and without importing torch or timm)."""
    if name.startswith("timm:"):
        arch = name[len("timm:"):]
        if not arch:
            raise UsageError("--model timm:NAME needs an architecture name, e.g. timm:resnet18")
        return ModelSpec(name, None, arch)
    if name not in MODEL_NAMES:
        raise UsageError(f"--model {name!r} is not one of {', '.join(MODEL_NAMES)} or timm:NAME")
    return ModelSpec(name, 28 if name == "lenet" else 32)


def build_model(spec: ModelSpec, num_classes: int, in_channels: int) -> "nn.Module":
    """A freshly initialised model (weights from the current torch RNG state)."""
    if spec.timm_arch is None:
        return _builtin()[spec.name](num_classes, in_channels)
    import timm

    if not timm.is_model(spec.timm_arch.split(".")[0]):
        raise UsageError(f"--model {spec.name!r}: timm has no architecture {spec.timm_arch!r}")
    try:
        return timm.create_model(spec.timm_arch, pretrained=False, num_classes=num_classes, in_chans=in_channels)
    except (TypeError, ValueError, RuntimeError) as e:
        raise UsageError(f"--model {spec.name!r}: timm could not build it ({e})") from e
