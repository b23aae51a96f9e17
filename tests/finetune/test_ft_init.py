"""``--init``: weights from any checkpoint wsep reads, with key prefixes stripped and mismatches named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ft_helpers import RESNET32_TH

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

from wsep_cli.errors import NonFiniteError, UsageError  # noqa: E402
from wsep_cli.finetune.models import build_model, model_spec  # noqa: E402
from wsep_cli.finetune.weights import best_prefix, load_init  # noqa: E402


def test_best_prefix() -> None:
    model = {"conv.weight", "fc.weight", "fc.bias"}
    assert best_prefix(["conv.weight", "fc.weight"], model) == ""
    assert best_prefix(["module.conv.weight", "module.fc.weight", "module.fc.bias"], model) == "module."
    assert best_prefix(["state_dict.module.fc.weight", "optimizer.state.0.fc.weight", "state_dict.module.fc.bias"],
                       model) == "state_dict.module."
    assert best_prefix(["x.y"], model) == ""


def _lenet(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(model_spec("lenet"), 10, 1)


@pytest.mark.parametrize("prefix", ["", "module.", "model._orig_mod."])
def test_load_init_from_safetensors_with_any_prefix(tmp_path: Path, prefix: str) -> None:
    src = _lenet(1).state_dict()
    path = tmp_path / "w.safetensors"
    save_file({prefix + k: v.contiguous() for k, v in src.items()} | {"extra.thing": torch.zeros(2)}, str(path))
    model = _lenet(2)
    rep = load_init(model, str(path))
    assert rep.prefix == prefix and rep.loaded == len(src) and not rep.missing and not rep.mismatched
    assert rep.outside_prefix + len(rep.unexpected) == 1
    assert all(torch.equal(model.state_dict()[k], v) for k, v in src.items())


def test_shape_mismatch_is_reported_and_the_rest_loads(tmp_path: Path) -> None:
    src = build_model(model_spec("lenet"), 5, 1).state_dict()  # 5 classes, model has 10
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in src.items()}, str(path))
    model = _lenet(0)
    before = model.fc3.weight.detach().clone()
    rep = load_init(model, str(path))
    assert {m.split(":")[0] for m in rep.mismatched} == {"fc3.weight", "fc3.bias"}
    assert not rep.missing and rep.loaded == len(src) - 2
    assert torch.equal(model.fc3.weight, before)
    assert "shape mismatch" in rep.summary()


def test_nothing_matching_and_non_finite_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file({"a.b": torch.zeros(3)}, str(path))
    with pytest.raises(UsageError, match="match"):
        load_init(_lenet(0), str(path))
    sd = {k: v.contiguous().clone() for k, v in _lenet(0).state_dict().items()}
    sd["fc3.weight"][0, 0] = float("nan")
    save_file(sd, str(path))
    with pytest.raises(NonFiniteError, match="fc3.weight"):
        load_init(_lenet(0), str(path))


def test_akamaster_resnet32_th_loads_every_key_through_wseps_reader() -> None:
    if not RESNET32_TH.is_file():
        pytest.skip("../shared/data is absent")
    model = build_model(model_spec("resnet32"), 10, 3)
    rep = load_init(model, str(RESNET32_TH))
    assert rep.loaded == rep.file_keys == 157 and rep.prefix == "module."
    assert not rep.missing and not rep.unexpected and not rep.mismatched
    ref = torch.load(RESNET32_TH, map_location="cpu", weights_only=True)["state_dict"]  # independent reader
    ours = model.state_dict()
    for k, v in ref.items():
        assert np.array_equal(ours[k.removeprefix("module.")].numpy(), v.numpy()), k
