"""Built-in class-name lists for ``--class-names``: CIFAR-100 and ImageNet-1k.

ImageNet names are read from the synset files that timm ships (``timm/data/_info``) without
importing timm, so the lookup costs a file read, not timm's import time.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from wsep_cli.errors import UsageError

__all__ = ["CIFAR100", "imagenet1k"]

# CIFAR-100 fine labels in label order (alphabetical, as in the dataset's meta file).
CIFAR100: tuple[str, ...] = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
    "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
    "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)


def _timm_info_dir() -> Path:
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("--class-names imagenet needs the timm package (pip install timm)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "_info"


def imagenet1k() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in the standard label order (first lemma of each synset)."""
    info = _timm_info_dir()
    try:
        synsets = (info / "imagenet_synsets.txt").read_text(encoding="utf-8").split()
        lemmas = dict(
            line.split("\t", 1)
            for line in (info / "imagenet_synset_to_lemma.txt").read_text(encoding="utf-8").splitlines()
            if "\t" in line
        )
    except OSError as e:
        raise UsageError(f"--class-names imagenet: timm's synset files are missing ({e})") from e
    return tuple(lemmas.get(s, s).split(",")[0].strip() for s in synsets)
