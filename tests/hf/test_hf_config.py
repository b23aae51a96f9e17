"""config.json parsing and hf:/timm: spec parsing (pure data; no transformers needed)."""

from __future__ import annotations

import json

import pytest

from wsep_cli.errors import UnreadableError, UsageError
from wsep_cli.hf.config import parse_config
from wsep_cli.hf.heads import ties_embeddings
from wsep_cli.hf.spec import parse_hf_spec, timm_repo_of


def _cfg(**doc: object):
    return parse_config(json.dumps(doc).encode(), where="config.json")


def test_id2label_in_key_order_and_placeholders_dropped() -> None:
    assert _cfg(id2label={"1": "dog", "0": "cat"}).labels == ("cat", "dog")
    assert _cfg(id2label={"0": "LABEL_0", "1": "LABEL_1"}).labels is None
    assert _cfg(id2label={"0": "cat", "2": "dog"}).labels is None  # a gap: not class order


def test_timm_config_classifier_and_label_names() -> None:
    c = _cfg(architecture="resnet18", pretrained_cfg={"classifier": "fc"}, label_names=["a", "b"])
    assert (c.architectures, c.timm_classifier, c.labels) == (("resnet18",), ("fc",), ("a", "b"))


def test_tie_default_per_model_type() -> None:
    assert ties_embeddings(_cfg(model_type="gpt2"))[0] is True
    assert ties_embeddings(_cfg(model_type="llama"))[0] is False
    assert ties_embeddings(_cfg(model_type="llama", tie_word_embeddings=True))[0] is True


def test_bad_config_is_exit_4() -> None:
    with pytest.raises(UnreadableError):
        parse_config(b"[1, 2]", where="config.json")


def test_specs() -> None:
    assert parse_hf_spec("hf:org/name@v1") == parse_hf_spec("hf:org/name", revision="v1")
    assert timm_repo_of("resnet18.a1_in1k") == "timm/resnet18.a1_in1k" and timm_repo_of("resnet18") is None
    for bad in ("hf:org/na--me", "hf:/x", "hf:a/b/c"):
        with pytest.raises(UsageError):
            parse_hf_spec(bad)
    with pytest.raises(UsageError):
        parse_hf_spec("hf:org/name@a", revision="b")
