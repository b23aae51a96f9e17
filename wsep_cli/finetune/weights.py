"""``--init CKPT``: copy weights from any checkpoint wsep reads into a model, and say what matched.

The file is read with wsep's own readers behind the malformed-input net
(:func:`wsep_cli.readers.guard.open_guarded`: safetensors,
sharded safetensors, PyTorch zip/legacy through the restricted unpickler, ONNX, ``timm:ARCH``), so
no code from the file runs. Keys may carry any prefix (``module.``, ``state_dict.module.``,
``model.``, ``_orig_mod.``): the prefix that makes most keys match the model is stripped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wsep_cli.errors import NonFiniteError, UsageError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["InitReport", "load_init", "best_prefix"]

_BENIGN_MISSING = ("num_batches_tracked",)  # buffers older PyTorch versions did not save


@dataclass(frozen=True)
class InitReport:
    """What ``--init`` did: keys loaded, and the ones that did not fit."""

    source: str
    prefix: str
    loaded: int
    file_keys: int
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = field(default=())  # "key: file (a, b) vs model (c, d)"
    outside_prefix: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source, "prefix": self.prefix, "loaded": self.loaded, "file_keys": self.file_keys,
            "missing": list(self.missing), "unexpected": list(self.unexpected),
            "mismatched": list(self.mismatched), "outside_prefix": self.outside_prefix,
        }

    def summary(self) -> str:
        parts = [f"--init {self.source}: loaded {self.loaded} of {self.file_keys} tensors"]
        if self.prefix:
            parts.append(f"(prefix {self.prefix!r} stripped)")
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("shape mismatch", self.mismatched)):
            if keys:
                shown = ", ".join(keys[:4]) + (f", ... ({len(keys)} in all)" if len(keys) > 4 else "")
                parts.append(f"; {label}: {shown}")
        return " ".join(parts)


def best_prefix(file_keys: list[str], model_keys: set[str]) -> str:
    """The key prefix (ending in '.') whose removal matches the most model keys; '' if none needed."""
    votes: Counter[str] = Counter()
    for f in file_keys:
        parts = f.split(".")
        for i in range(len(parts)):
            if ".".join(parts[i:]) in model_keys:
                votes[".".join(parts[:i]) + "." if i else ""] += 1
                break
    if not votes:
        return ""
    best = max(votes.values())
    return min((p for p, c in votes.items() if c == best), key=len)


def load_init(model: "nn.Module", spec: str, *, require_complete: bool = False) -> InitReport:
    """Load matching tensors of ``spec`` into ``model`` (in place); return what matched.

    Args:
        model: the freshly built model.
        spec: any checkpoint wsep reads.
        require_complete: refuse a file that leaves any model tensor at its random initial value
            (``--eval-only`` without ``--partial-init``: evaluating such a model measures nothing).

    Raises:
        UsageError: no tensor of the file matches the model, or (``require_complete``) some do not.
        NonFiniteError: a matching tensor holds NaN or Inf.
    """
    import numpy as np
    import torch

    from wsep_cli.readers.guard import open_guarded

    target = model.state_dict()
    new: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    mismatched: list[str] = []
    with open_guarded(spec) as reader:
        infos = reader.tensors()
        prefix = best_prefix([t.name for t in infos], set(target))
        inside = [t for t in infos if t.name.startswith(prefix)]
        for t in inside:
            key = t.name[len(prefix):]
            if key not in target:
                unexpected.append(t.name)
            elif tuple(t.shape) != tuple(target[key].shape):
                mismatched.append(f"{key}: file {tuple(t.shape)} vs model {tuple(target[key].shape)}")
            else:
                arr = np.array(reader.load(t.name), copy=True, order="C")  # writable, owned
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise NonFiniteError(f"--init {spec}: tensor {t.name!r} holds NaN or Inf values")
                new[key] = torch.from_numpy(arr).to(target[key].dtype)
    if not new:
        raise UsageError(
            f"--init {spec}: none of its {len(infos)} tensors match the model's parameter names; "
            "check --model (and --num-classes)"
        )
    model.load_state_dict(new, strict=False)
    missing = tuple(k for k in target if k not in new and not k.endswith(_BENIGN_MISSING)
                    and not any(m.startswith(k + ":") for m in mismatched))
    report = InitReport(str(spec), prefix, len(new), len(infos), missing, tuple(unexpected), tuple(mismatched),
                        len(infos) - len(inside))
    if require_complete and (missing or mismatched):
        left = len(missing) + len(mismatched)
        raise UsageError(
            f"{report.summary()}. {left} model tensor(s) would stay at random init, so the evaluation would "
            "measure nothing; check --model (and --num-classes), or pass --partial-init to evaluate anyway"
        )
    return report
