"""Hugging Face model folders written by the real ``save_pretrained`` (issue 12, part 1).

Every folder is made here from a tiny ``*Config(...)`` (no download); the expected head, its values
and the class names come from the transformers model object itself, not from wsep.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import hf_models as M  # skips the module when transformers or torch is missing
from conftest import run_wsep
from wsep_cli.pipeline import ScoreOptions, list_layers, score_file

transformers, torch = M.transformers, M.torch


def _epsilon(v: np.ndarray) -> float:
    v = v.astype(np.float64)
    g = v @ v.T - np.eye(v.shape[0])
    return float((g * g).sum() / v.shape[0])


CASES = [
    # builder, transformers class (to read the truth back), stored head key, words the reason must hold
    ("vit", "ViTForImageClassification", "classifier.weight", "'classifier'"),
    ("resnet", "ResNetForImageClassification", "classifier.1.weight", "'classifier.1'"),
    ("roberta", "RobertaForSequenceClassification", "classifier.out_proj.weight", "'classifier.out_proj'"),
    ("llama_seq", "LlamaForSequenceClassification", "score.weight", "'score'"),
    ("gpt2", "GPT2LMHeadModel", "transformer.wte.weight", "tied to the input embedding"),
    ("gpt2_sharded", "GPT2LMHeadModel", "transformer.wte.weight", "tied to the input embedding"),
    ("bin_only", "ViTForImageClassification", "classifier.weight", "'classifier'"),
    ("bin_sharded", "ViTForImageClassification", "classifier.weight", "'classifier'"),
]


@pytest.mark.parametrize("name,cls,layer,why", CASES, ids=[c[0] for c in CASES])
def test_head_by_the_models_convention(tmp_path: Path, name: str, cls: str, layer: str, why: str) -> None:
    folder = M.BUILDERS[name](tmp_path / name)
    r = score_file(str(folder))
    assert r.status == "ok", r.error
    (head,) = r.heads
    assert (head.layer, head.located_by) == (layer, "metadata")
    assert why in head.reason and "config.json architectures" in head.reason
    truth = M.state_of(folder)
    # the tied LM head: transformers' own lm_head is the embedding's very values
    expect = truth["lm_head.weight"] if "LMHead" in cls else truth[layer]
    assert head.num_classes == expect.shape[0]
    assert head.metrics.epsilon == pytest.approx(_epsilon(expect), rel=1e-9)
    assert r.source.kind == "local"


def test_id2label_names_the_most_similar_pair(tmp_path: Path) -> None:
    folder = M.vit(tmp_path / "vit")
    v = M.state_of(folder)["classifier.weight"].astype(np.float64)
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    c = u @ u.T
    np.fill_diagonal(c, -np.inf)
    i, j = np.unravel_index(np.argmax(c), c.shape)
    r = score_file(str(folder))
    ms = r.heads[0].metrics.cosine.most_similar
    assert ms.names == (M.ANIMALS[min(i, j)], M.ANIMALS[max(i, j)])
    # --labels wins over id2label
    own = score_file(str(folder), ScoreOptions(labels=tuple("ABCDE")))
    assert own.heads[0].metrics.cosine.most_similar.names == ("ABCDE"[min(i, j)], "ABCDE"[max(i, j)])


def test_placeholder_labels_are_not_names(tmp_path: Path) -> None:
    r = score_file(str(M.llama_seq(tmp_path / "llama")))  # id2label is LABEL_0..LABEL_3
    assert r.heads[0].metrics.cosine.most_similar.names is None


@pytest.mark.parametrize("tie,expect", [(True, "model.embed_tokens.weight"), (False, "lm_head.weight")])
def test_llama_causal_lm_tied_or_not(tmp_path: Path, tie: bool, expect: str) -> None:
    M._seed()
    cfg = transformers.LlamaConfig(vocab_size=70, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=tie)
    folder = M.save(transformers.LlamaForCausalLM(cfg), tmp_path / "llama")
    r = score_file(str(folder))
    assert r.status == "ok", r.error
    assert r.heads[0].layer == expect
    assert ("tied" in r.heads[0].reason) is tie
    truth = M.state_of(folder)["lm_head.weight"]
    assert r.heads[0].metrics.epsilon == pytest.approx(_epsilon(truth), rel=1e-9)


def test_only_the_head_shard_body_is_read(tmp_path: Path) -> None:
    folder = M.gpt2_sharded(tmp_path / "gs")
    index = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    head_shard = index["transformer.wte.weight"]
    before = score_file(str(folder))
    # overwrite every other shard's tensor bytes (headers stay valid): the result cannot change
    for shard in set(index.values()) - {head_shard}:
        p = folder / shard
        raw = bytearray(p.read_bytes())
        hlen = int.from_bytes(raw[:8], "little")
        raw[8 + hlen:] = b"\xff" * (len(raw) - 8 - hlen)  # NaN everywhere
        p.write_bytes(bytes(raw))
    after = score_file(str(folder))
    assert after.status == "ok" and after.heads[0].metrics == before.heads[0].metrics
    assert len(set(index.values())) > 2


def test_timm_folder_uses_pretrained_cfg_and_label_names(tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    from timm.models._hub import save_for_hf

    torch.manual_seed(0)
    model = timm.create_model("test_vit", pretrained=False, num_classes=4)
    save_for_hf(model, str(tmp_path / "tv"), model_config={"label_names": ["w", "x", "y", "z"]},
                safe_serialization=True)
    cfg = json.loads((tmp_path / "tv" / "config.json").read_text())
    assert cfg["pretrained_cfg"]["classifier"] == "head" and cfg["label_names"] == ["w", "x", "y", "z"]
    r = score_file(str(tmp_path / "tv"))
    assert r.status == "ok", r.error
    assert r.heads[0].layer == "head.weight" and "timm config.json pretrained_cfg" in r.heads[0].reason
    assert set(r.heads[0].metrics.cosine.most_similar.names) <= {"w", "x", "y", "z"}


def test_cli_score_and_layers_on_a_folder(tmp_path: Path) -> None:
    folder = M.roberta(tmp_path / "my-model")
    proc = run_wsep("score", "--json", str(folder))
    assert proc.returncode == 0, proc.stderr
    (res,) = json.loads(proc.stdout)["results"]
    assert res["heads"][0]["layer"] == "classifier.out_proj.weight"
    assert res["source"] == {"kind": "local", "repo": None, "revision": None, "commit": None, "bytes_downloaded": None}
    listing = list_layers(str(folder))
    chosen = [row for row in listing.rows if row.chosen]
    assert [row.name for row in chosen] == ["classifier.out_proj.weight"]
    assert "classifier.dense.weight" in {row.name for row in listing.rows}
