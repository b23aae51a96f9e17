"""From an unpickled checkpoint object to the model's named tensors.

Handles bare state_dicts, the usual wrappers (``state_dict``, ``model``, ``module``, ``net``, ...),
training checkpoints (``optimizer``, ``epoch``, ``arch``, ``args`` beside the weights), Lightning
(``state_dict`` with ``model.``-prefixed keys), EMA copies (used only when there are no plain
weights), nested dicts (flattened with dotted keys) and TorchScript module objects. Optimizer state is
never presented. Keys are reported as stored; the locator strips ``module.`` / ``_orig_mod.``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from wsep_cli.errors import UnreadableError
from wsep_cli.readers.pytorch.globals import InertObject, ScriptObject, TensorRef
from wsep_cli.readers.pytorch.inert import short_repr

__all__ = ["select_weights", "checkpoint_metadata", "MAX_DEPTH", "MAX_NODES", "MAX_NAME_CHARS"]

MAX_DEPTH = 100
MAX_NODES = 2_000_000
# Characters of dotted names built in one walk. The pickle's memo lets one 1 MB key string be reused at
# every level of a 100-deep chain for two bytes a use: the names would need 1 MB x (1 + ... + 100).
MAX_NAME_CHARS = 64 << 20

PRIMARY_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "model_state",
                "weights", "params")
EMA_KEYS = ("state_dict_ema", "model_ema", "ema_state_dict", "model_ema_state_dict", "ema",
            "ema_model", "params_ema")
TRAINING_KEYS = ("optimizer", "optimizer_state_dict", "optimizer_states", "optimizer_state", "optim",
                 "opt_state", "scheduler", "lr_scheduler", "lr_schedulers", "scaler", "grad_scaler",
                 "amp", "callbacks", "loops", "args", "hyper_parameters")


class _Walk:
    """Depth-first flattening with a depth bound and a node budget.

    Each container is entered once per flattening (the first name wins), so cycles and shared
    sub-objects (a pickle's memo can make a DAG that is exponential as a tree) cost linear time.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.nodes = 0
        self.name_chars = 0
        self.seen: set[int] = set()

    def flatten(self, obj: object, prefix: str = "", skip: tuple[str, ...] = ()) -> dict[str, TensorRef]:
        out: dict[str, TensorRef] = {}
        self.seen = set()
        self._visit(obj, prefix, out, 0, skip)
        return out

    def _visit(self, obj: object, prefix: str, out: dict[str, TensorRef], depth: int,
               skip: tuple[str, ...] = ()) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise UnreadableError(f"{self.path}: the checkpoint holds more than {MAX_NODES} objects; refused")
        if depth > MAX_DEPTH:
            raise UnreadableError(f"{self.path}: the checkpoint nests deeper than {MAX_DEPTH} levels; refused")
        if isinstance(obj, TensorRef):
            out.setdefault(prefix or "tensor", obj)
            return
        if isinstance(obj, ScriptObject):
            obj = obj.state
        children = _children(obj)
        if children is None or id(obj) in self.seen or _is_optimizer_state(obj):
            return
        self.seen.add(id(obj))
        for key, value in children:
            if key not in skip:
                self._visit(value, self._name(prefix, key), out, depth + 1)

    def _name(self, prefix: str, key: str) -> str:
        self.name_chars += len(prefix) + 1 + len(key)
        if self.name_chars > MAX_NAME_CHARS:
            raise UnreadableError(
                f"{self.path}: the checkpoint's keys make over {MAX_NAME_CHARS} characters of dotted names "
                "(a long key reused through the pickle memo at many levels); refused"
            )
        return f"{prefix}.{key}" if prefix else key


def _children(obj: object) -> list[tuple[str, object]] | None:
    if isinstance(obj, Mapping):
        return [(_key_text(k), v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(obj)]
    return None


def _key_text(key: object) -> str:
    """A key as a name part: strings and machine-sized ints as ``str`` gives them, anything else
    (a tuple of memoized 10 MB strings, a 5000-digit int) bounded by :func:`short_repr`."""
    if isinstance(key, str):
        return key
    if isinstance(key, int) and key.bit_length() <= 64:
        return str(key)
    if isinstance(key, int):
        return f"<int of {key.bit_length()} bits>"
    return short_repr(key)


def _is_optimizer_state(obj: object) -> bool:
    return isinstance(obj, Mapping) and "param_groups" in obj and "state" in obj


def select_weights(root: object, path: Path) -> tuple[dict[str, TensorRef], str]:
    """The model's tensors by key, and where they came from (``""`` for the top level).

    Args:
        root: the unpickled checkpoint.
        path: for error messages.

    Returns:
        (tensors in pickle order, the wrapper key path such as ``"state_dict"``)
    """
    walk = _Walk(path)
    source: list[str] = []
    obj = root
    for _ in range(4):  # wrappers inside wrappers: {"model": {"state_dict": ...}}
        if not isinstance(obj, Mapping):
            break
        for key in PRIMARY_KEYS + EMA_KEYS:
            sub = obj.get(key)
            if sub is not None and not isinstance(sub, (TensorRef, InertObject)) and walk.flatten(sub):
                obj = sub
                source.append(key)
                break
        else:
            break
    return walk.flatten(obj, skip=TRAINING_KEYS + EMA_KEYS), ".".join(source)


def checkpoint_metadata(root: object) -> dict[str, str]:
    """String facts a training checkpoint records about itself (its ``arch``)."""
    if isinstance(root, Mapping):
        arch = root.get("arch")
        if isinstance(arch, str) and arch:
            return {"arch": arch}
    return {}
