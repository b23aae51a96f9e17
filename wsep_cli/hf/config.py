"""A Hugging Face ``config.json`` read as data: what says which tensor is the head, and the class names.

Two kinds are understood: a transformers config (``architectures``, ``model_type``, ``id2label``,
``tie_word_embeddings``) and a timm Hub config (``architecture``, ``pretrained_cfg.classifier``,
``label_names``). Nothing from the model's code is run or imported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsep_cli.errors import UnreadableError

__all__ = ["HFConfig", "read_config", "parse_config", "MAX_CONFIG_BYTES"]

MAX_CONFIG_BYTES = 16 * 1024 * 1024  # real configs are kilobytes; id2label of 22k classes is ~1 MB
_DEFAULT_LABEL = re.compile(r"LABEL_\d+")


@dataclass(frozen=True)
class HFConfig:
    """What wsep uses from a ``config.json``.

    Attributes:
        architectures: transformers class names (``ViTForImageClassification``), or ``(timm arch,)``.
        model_type: transformers ``model_type`` (``vit``, ``gpt2``), ``""`` when absent.
        labels: class names in class order, from ``id2label`` or timm ``label_names``; None when
            absent, not a full 0..n-1 map, or only transformers' placeholders ``LABEL_0``...
        tie_word_embeddings: the value written, or None when the config leaves the model's default.
        timm_classifier: timm ``pretrained_cfg.classifier`` module names (timm configs only).
        vocab_size: ``vocab_size`` when given (checks a tied embedding's shape).
    """

    architectures: tuple[str, ...] = ()
    model_type: str = ""
    labels: tuple[str, ...] | None = None
    tie_word_embeddings: bool | None = None
    timm_classifier: tuple[str, ...] = ()
    vocab_size: int | None = None

    @property
    def is_timm(self) -> bool:
        return bool(self.timm_classifier)


def read_config(path: Path) -> HFConfig:
    """Parse ``path`` (a ``config.json``).

    Raises:
        UnreadableError: unreadable, too large, or not a JSON object (exit 4).
    """
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise UnreadableError(f"{path}: {size} bytes, more than any real config.json; refusing it")
        raw = path.read_bytes()
    except OSError as e:
        raise UnreadableError(f"{path}: cannot be read ({e.strerror or e})") from e
    return parse_config(raw, where=str(path))


def parse_config(raw: bytes, *, where: str) -> HFConfig:
    """Parse the bytes of a ``config.json``; see :func:`read_config`."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UnreadableError(f"{where}: not valid JSON ({e}); the model folder's config is corrupt") from e
    if not isinstance(doc, dict):
        raise UnreadableError(f"{where}: config.json is not a JSON object")
    pcfg = doc.get("pretrained_cfg") if isinstance(doc.get("pretrained_cfg"), dict) else {}
    timm_cls = _names(pcfg.get("classifier"))
    archs = _names(doc.get("architectures"))
    if not archs and isinstance(doc.get("architecture"), str):
        archs = (doc["architecture"],)
    tie = doc.get("tie_word_embeddings")
    vocab = doc.get("vocab_size")
    labels = _id2label(doc.get("id2label"))
    if labels is None:
        labels = _label_list(doc.get("label_names", pcfg.get("label_names")))
    return HFConfig(
        architectures=archs,
        model_type=doc["model_type"] if isinstance(doc.get("model_type"), str) else "",
        labels=labels,
        tie_word_embeddings=tie if isinstance(tie, bool) else None,
        timm_classifier=timm_cls,
        vocab_size=vocab if isinstance(vocab, int) and not isinstance(vocab, bool) and vocab > 0 else None,
    )


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _id2label(value: Any) -> tuple[str, ...] | None:
    """``{"0": "cat", "1": "dog"}`` -> ``("cat", "dog")``; None unless keys are exactly 0..n-1."""
    if not isinstance(value, dict) or not value:
        return None
    by_index: dict[int, str] = {}
    for k, v in value.items():
        try:
            i = int(k)
        except (TypeError, ValueError):
            return None
        if not isinstance(v, str):
            return None
        by_index[i] = v
    if sorted(by_index) != list(range(len(by_index))):
        return None
    names = tuple(by_index[i] for i in range(len(by_index)))
    if all(_DEFAULT_LABEL.fullmatch(n) for n in names):
        return None  # transformers' placeholders say nothing
    return names


def _label_list(value: Any) -> tuple[str, ...] | None:
    """timm ``label_names``: a list in class order, or a ``{id: name}`` map without gaps."""
    if isinstance(value, dict):
        return _id2label(value)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None
