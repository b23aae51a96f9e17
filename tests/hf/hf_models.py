"""Tiny Hugging Face models written by the real ``transformers`` ``save_pretrained`` (no download).

Each builder makes a model from a small ``*Config(...)`` with a fixed seed and saves it into a
folder; the tests read those folders back. transformers is a test-only dependency.
"""

from __future__ import annotations

from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

__all__ = ["BUILDERS", "MODELS", "state_of", "save", "vit", "resnet", "roberta", "llama_seq", "gpt2", "gpt2_sharded", "bin_only", "bin_sharded"]

ANIMALS = ("cat", "dog", "bird", "fish", "horse")


def _quiet() -> None:
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


# The model object each folder was saved from, to read the truth from (``from_pretrained`` of
# transformers 5.25 asks for the `kernels` package, which is not installable here).
MODELS: dict[Path, object] = {}


def state_of(folder: Path) -> dict[str, "object"]:
    """The saved model's own ``state_dict`` as float numpy arrays (tied weights included)."""
    model = MODELS[folder]
    return {k: t.detach().float().numpy() for k, t in model.state_dict().items()}  # type: ignore[attr-defined]


def save(model: object, folder: Path, **kw: object) -> Path:
    _quiet()
    model.save_pretrained(folder, **kw)  # type: ignore[attr-defined]
    MODELS[folder] = model
    return folder


def _seed() -> None:
    torch.manual_seed(0)


def vit(folder: Path) -> Path:
    _seed()
    cfg = transformers.ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                                 image_size=32, patch_size=16, num_labels=len(ANIMALS),
                                 id2label=dict(enumerate(ANIMALS)), label2id={a: i for i, a in enumerate(ANIMALS)})
    return save(transformers.ViTForImageClassification(cfg), folder)


def resnet(folder: Path) -> Path:
    _seed()
    cfg = transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=7)
    return save(transformers.ResNetForImageClassification(cfg), folder)


def roberta(folder: Path) -> Path:
    _seed()
    cfg = transformers.RobertaConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=37, max_position_embeddings=40, num_labels=3)
    return save(transformers.RobertaForSequenceClassification(cfg), folder)


def llama_seq(folder: Path) -> Path:
    _seed()
    cfg = transformers.LlamaConfig(vocab_size=60, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, num_labels=4, pad_token_id=0)
    return save(transformers.LlamaForSequenceClassification(cfg), folder)


def gpt2(folder: Path) -> Path:
    _seed()
    cfg = transformers.GPT2Config(vocab_size=80, n_embd=32, n_layer=1, n_head=2, n_positions=16,
                                  bos_token_id=0, eos_token_id=0)
    return save(transformers.GPT2LMHeadModel(cfg), folder)


def gpt2_sharded(folder: Path) -> Path:
    """GPT-2 saved in several safetensors shards (a small max_shard_size)."""
    _seed()
    cfg = transformers.GPT2Config(vocab_size=400, n_embd=64, n_layer=3, n_head=2, n_positions=16,
                                  bos_token_id=0, eos_token_id=0)
    return save(transformers.GPT2LMHeadModel(cfg), folder, max_shard_size="60KB")


def _vit_model() -> object:
    _seed()
    cfg = transformers.ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                                 image_size=32, patch_size=16, num_labels=len(ANIMALS),
                                 id2label=dict(enumerate(ANIMALS)), label2id={a: i for i, a in enumerate(ANIMALS)})
    return transformers.ViTForImageClassification(cfg)


def bin_only(folder: Path) -> Path:
    """The ViT classifier as ``config.json`` + ``pytorch_model.bin`` only.

    transformers 5 writes safetensors only, so the weights file is what transformers 4 wrote for
    ``safe_serialization=False`` (``torch.save`` of the state dict), beside the real ``config.save_pretrained``.
    """
    _quiet()
    model = _vit_model()
    folder.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]  # what model.save_pretrained records
    model.config.save_pretrained(folder)  # type: ignore[attr-defined]
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # type: ignore[attr-defined]
    MODELS[folder] = model
    return folder


def bin_sharded(folder: Path) -> Path:
    """The ViT classifier as ``.bin`` shards + ``pytorch_model.bin.index.json`` (transformers 4's layout)."""
    import json

    _quiet()
    model = _vit_model()
    folder.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]  # what model.save_pretrained records
    model.config.save_pretrained(folder)  # type: ignore[attr-defined]
    state = model.state_dict()  # type: ignore[attr-defined]
    names = list(state)
    halves = {"pytorch_model-00001-of-00002.bin": names[: len(names) // 2],
              "pytorch_model-00002-of-00002.bin": names[len(names) // 2:]}
    wmap = {}
    for shard, keys in halves.items():
        torch.save({k: state[k] for k in keys}, folder / shard)
        wmap.update({k: shard for k in keys})
    total = sum(t.numel() * t.element_size() for t in state.values())
    (folder / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": wmap}, indent=2))
    MODELS[folder] = model
    return folder


BUILDERS = {"vit": vit, "resnet": resnet, "roberta": roberta, "llama_seq": llama_seq, "gpt2": gpt2,
            "gpt2_sharded": gpt2_sharded, "bin_only": bin_only, "bin_sharded": bin_sharded}
