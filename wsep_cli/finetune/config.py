"""Every setting of a ``wsep finetune`` run, as one frozen, typed dataclass.

The paper's defaults (Sec. "Experimental results"): SGD, lr 0.1, momentum 0.9, weight decay 1e-4,
batch 128, 300 epochs, lr divided by 10 at 1/3, 2/3 and 5/6 of the run (epochs 100, 200, 250),
lambda = 0.001. ``config.json`` in the output folder holds ``to_dict()``; ``--resume`` reads it
back with :meth:`FinetuneConfig.from_dict`, which refuses unknown keys and wrong types.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from wsep_cli.errors import ConfigError

__all__ = ["FinetuneConfig", "SCHEDULES", "PRECISIONS", "DETACH_CHOICES", "MILESTONE_FRACTIONS"]

SCHEDULES = ("step", "cosine")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DETACH_CHOICES = ("none", "features", "weight")
MILESTONE_FRACTIONS = (1 / 3, 2 / 3, 5 / 6)


@dataclass(frozen=True)
class FinetuneConfig:
    """One training (or evaluation) run. JSON key ``lambda`` maps to :attr:`lam`."""

    output: str
    model: str = "resnet32"
    data: str = "digits"
    data_dir: Optional[str] = None
    val_split: Optional[float] = None
    num_classes: Optional[int] = None
    image_size: Optional[int] = None
    mean: Optional[tuple[float, ...]] = None
    std: Optional[tuple[float, ...]] = None
    augment: bool = True
    epochs: int = 300
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "step"
    lam: float = 0.001
    re_temperature: float = 1.0
    re_detach: str = "none"
    label_smoothing: float = 0.0
    init: Optional[str] = None
    layer: Optional[str] = None
    eval_only: bool = False
    partial_init: bool = False  # accept an --init that leaves model tensors at random init (eval-only)
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "--epochs must be >= 1")
        _check(self.batch_size >= 1, "--batch-size must be >= 1")
        _check(self.lr > 0, "--lr must be > 0")
        _check(0 <= self.momentum < 1, "--momentum must be in [0, 1)")
        _check(self.weight_decay >= 0, "--weight-decay must be >= 0")
        _check(self.lam >= 0, "--lambda must be >= 0")
        _check(self.re_temperature > 0, "--re-temperature must be > 0")
        _check(0 <= self.label_smoothing < 1, "--label-smoothing must be in [0, 1)")
        _check(self.workers >= 0, "--workers must be >= 0")
        _check(self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}")
        _check(self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}")
        _check(self.re_detach in DETACH_CHOICES, f"--re-detach must be one of {', '.join(DETACH_CHOICES)}")
        _check(self.val_split is None or 0 < self.val_split < 1, "--val-split must be in (0, 1)")
        _check(self.num_classes is None or self.num_classes >= 1, "--num-classes must be >= 1")
        _check(self.image_size is None or self.image_size >= 4, "--image-size must be >= 4")
        _check((self.mean is None) == (self.std is None), "--mean and --std go together")
        if self.mean is not None and self.std is not None:
            _check(len(self.mean) == len(self.std), "--mean and --std need the same number of values")
            _check(all(s > 0 for s in self.std), "--std values must be > 0")
        _check(
            self.device == "auto" or self.device == "cpu" or self.device.split(":")[0] == "cuda",
            "--device must be auto, cpu, cuda or cuda:N",
        )
        _check(not (self.eval_only and self.init is None), "--eval-only needs --init CKPT")
        from wsep_cli.finetune.data import parse_data
        from wsep_cli.finetune.models import model_spec

        model_spec(self.model)  # unknown names fail here, before torch is imported
        parse_data(self.data)

    @property
    def detach(self) -> Optional[str]:
        """``re_detach`` as the loss API spells it (None for "none")."""
        return None if self.re_detach == "none" else self.re_detach

    def milestones(self) -> list[int]:
        """Epochs (0-based, counted as completed) after which the step schedule divides lr by 10."""
        return sorted({max(1, round(self.epochs * f)) for f in MILESTONE_FRACTIONS if round(self.epochs * f) < self.epochs})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("extra")
        d["lambda"] = d.pop("lam")
        for k in ("mean", "std"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FinetuneConfig":
        """Rebuild from ``to_dict()`` output; unknown keys and wrong types are a ConfigError."""
        d = dict(d)
        if "lambda" in d:
            d["lam"] = d.pop("lambda")
        names = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ConfigError(f"config.json has unknown setting(s): {', '.join(unknown)}")
        for k in ("mean", "std"):
            if d.get(k) is not None:
                d[k] = tuple(float(x) for x in d[k])
        for k, v in d.items():
            _check_type(k, v, names[k].default)
        return cls(**d)

    def replace(self, **changes: Any) -> "FinetuneConfig":
        return dataclasses.replace(self, **changes)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_type(key: str, value: Any, default: Any) -> None:
    if value is None or default is dataclasses.MISSING or default is None:
        return
    want = type(default)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise ConfigError(f"config.json: {key!r} should be a {want.__name__}, got {value!r}")
