"""``timm:ARCH``: a timm model's pretrained (or seeded random) weights, read from its state_dict.

timm and torch are imported only here, when a ``timm:`` spec is scored. Pretrained weights come from
the local Hugging Face / torch-hub cache first; only on a cache miss is the network tried, after a
quick reachability check, so an offline machine gets a one-line error in seconds instead of minutes
of retries. The head is named by the model's own ``pretrained_cfg["classifier"]``.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wsep_cli.errors import UnreadableError, UsageError
from wsep_cli.readers.base import HeadHint, Reader, TensorInfo

__all__ = ["TimmReader", "RANDOM_INIT_SEED"]

RANDOM_INIT_SEED = 0
_PROBE_HOST = ("huggingface.co", 443)
_PROBE_TIMEOUT_S = 3.0
_SOCKET_TIMEOUT_S = 15.0


@dataclass
class TimmReader(Reader):
    """The tensors of ``timm.create_model(arch)``; build it with :meth:`from_spec`."""

    format: ClassVar[str] = "timm"
    arch: str = ""
    random_init: bool = False
    _state: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _classifier: tuple[str, ...] = field(default=(), init=False, repr=False)

    @classmethod
    def from_spec(cls, arch: str, *, random_init: bool = False) -> "TimmReader":
        """Create ``arch`` with timm's pretrained weights, or seeded random ones.

        Raises:
            UsageError: ``arch`` is not a timm model, has no pretrained weights, or its weights are
                neither cached nor downloadable (exit 2, like a missing path).
        """
        arch = arch.strip()
        timm = _import_timm()
        _check_arch(timm, arch)
        model = _random_model(timm, arch) if random_init else _pretrained_model(timm, arch)
        reader = cls(path=Path(f"timm:{arch}"), arch=arch, random_init=random_init)
        reader._state = {k: v.detach() for k, v in model.state_dict().items()}
        reader._classifier = _classifier_names(model)
        return reader

    def tensors(self) -> list[TensorInfo]:
        return [TensorInfo(k, tuple(int(d) for d in v.shape), _dtype_name(v)) for k, v in self._state.items()]

    def load(self, name: str) -> np.ndarray:
        import torch

        try:
            t = self._state[name]
        except KeyError:
            raise UnreadableError(f"{self.path}: no tensor named {name!r}") from None
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.cpu().numpy()

    def hints(self) -> list[HeadHint]:
        """Every head ``pretrained_cfg["classifier"]`` names that the model has, primary first."""
        names = ", ".join(repr(c) for c in self._classifier)
        how = "seeded random init" if self.random_init else "pretrained weights"
        out = []
        for i, module in enumerate(self._classifier):
            key = f"{module}.weight"
            t = self._state.get(key)
            if t is None or not (t.dim() == 2 or (t.dim() == 4 and tuple(t.shape[2:]) == (1, 1))):
                continue
            extra = "" if i == 0 else f"; a further head beside {self._classifier[0]!r}"
            out.append(HeadHint(key, reason=f"timm pretrained_cfg classifier {names} of {self.arch} ({how}){extra}"))
        return out

    def metadata(self) -> dict[str, str]:
        return {"timm_arch": self.arch, "weights": "random-init" if self.random_init else "pretrained"}

    def close(self) -> None:
        self._state = {}
        super().close()


def _import_timm() -> Any:
    from wsep_cli.extras import require

    require("train", "timm:ARCH", ("torch", "timm"))
    import timm

    return timm


def _check_arch(timm: Any, arch: str) -> None:
    base = arch.split(".", 1)[0]
    if base and timm.is_model(base):
        return
    close = difflib.get_close_matches(base, timm.list_models(), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; list them with `python -c \"import timm; print(timm.list_models())\"`"
    raise UsageError(f"timm:{arch}: not a timm architecture{hint}")


def _dtype_name(t: Any) -> str:
    return str(t.dtype).replace("torch.", "")


def _classifier_names(model: Any) -> tuple[str, ...]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    c = cfg.get("classifier") if isinstance(cfg, dict) else getattr(cfg, "classifier", None)
    if c is None:
        return ()
    return (c,) if isinstance(c, str) else tuple(str(x) for x in c)


def _random_model(timm: Any, arch: str) -> Any:
    """A freshly initialised model; the same seed every time, without touching the global RNG."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        model = timm.create_model(arch, pretrained=False)
    return model.eval()


def _has_pretrained(timm: Any, arch: str) -> bool:
    cfg = timm.models.get_pretrained_cfg(arch)
    if cfg is None:
        return False
    return any(getattr(cfg, k, None) for k in ("hf_hub_id", "url", "file"))


def _pretrained_model(timm: Any, arch: str) -> Any:
    if not _has_pretrained(timm, arch):
        raise UsageError(
            f"timm:{arch}: timm has no pretrained weights for this architecture; "
            "pass --random-init to score a freshly initialised model"
        )
    try:
        with _hub_offline(True), _socket_timeout():
            return timm.create_model(arch, pretrained=True).eval()
    except Exception as e:  # noqa: BLE001 - a cache miss surfaces as many exception types
        cache_miss: Exception = e
    if _user_offline() or not _reachable(*_PROBE_HOST):
        why = "offline mode is set (HF_HUB_OFFLINE)" if _user_offline() else f"{_PROBE_HOST[0]} is not reachable"
        raise UsageError(  # like a missing path (docs: exit 2): nothing here is unreadable
            f"timm:{arch}: pretrained weights could not be downloaded ({why}) and are not in the local "
            "cache; download them once on a connected machine, score a local checkpoint file instead, "
            "or pass --random-init"
        ) from cache_miss
    try:
        with _socket_timeout():
            return timm.create_model(arch, pretrained=True).eval()
    except Exception as e:  # noqa: BLE001
        raise UsageError(
            f"timm:{arch}: pretrained weights could not be downloaded ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else 'no detail'}); score a local checkpoint file "
            "instead or pass --random-init"
        ) from e


def _user_offline() -> bool:
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover
        return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


@contextlib.contextmanager
def _hub_offline(offline: bool) -> Iterator[None]:
    """Make huggingface_hub answer from its cache only (it reads this flag on every call)."""
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - no hub: timm falls back to torch-hub URLs
        yield
        return
    old = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = offline or old
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = old


@contextlib.contextmanager
def _socket_timeout() -> Iterator[None]:
    """Bound torch-hub URL downloads, which otherwise wait on the OS defaults."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_SOCKET_TIMEOUT_S)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _reachable(host: str, port: int) -> bool:
    """Whether a TCP connection opens within a few seconds (DNS included, in a daemon thread)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S):
                result.append(True)
        except OSError:
            result.append(False)

    th = threading.Thread(target=probe, daemon=True)
    th.start()
    th.join(_PROBE_TIMEOUT_S + 1.0)
    return bool(result and result[0])
