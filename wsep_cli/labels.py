"""Class names for the most-similar pair: a ``--labels`` file or a built-in list."""

from __future__ import annotations

from pathlib import Path

from wsep_cli.errors import UsageError

__all__ = ["CIFAR10", "load_labels"]

CIFAR10: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)


def load_labels(path: Path | None, named: str | None) -> tuple[str, ...] | None:
    """Read one class name per line from ``path``, or return a built-in list by name."""
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise UsageError(f"--labels {path}: cannot read ({e.strerror or e})") from e
        names = tuple(x.strip() for x in lines if x.strip())
        if not names:
            raise UsageError(f"--labels {path}: the file holds no class names")
        return names
    if named is None:
        return None
    key = named.lower().replace("-", "")
    if key == "cifar10":
        return CIFAR10
    if key == "cifar100":
        from wsep_cli._class_names import CIFAR100

        return CIFAR100
    if key in ("imagenet", "imagenet1k"):
        from wsep_cli._class_names import imagenet1k

        return imagenet1k()
    raise UsageError(f"--class-names {named!r}: use cifar10, cifar100 or imagenet")
