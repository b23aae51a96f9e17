"""``timm:ARCH``: pretrained weights from the Hugging Face cache, a clean exit 2 when they cannot be had,
seeded ``--random-init``, timm's tensor names and classifier hints (issue 2, timm reader).

The cache tests point huggingface_hub at a temporary cache folder laid out the way it lays out its own
(``models--timm--ARCH/refs/main`` + ``snapshots/<commit>/model.safetensors``), holding weights written
here, so they behave the same on a connected machine and on this offline one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_wsep
from wsep_cli.errors import UsageError

timm = pytest.importorskip("timm")
torch = pytest.importorskip("torch")
hub_constants = pytest.importorskip("huggingface_hub.constants")

from wsep_cli.readers import timm_hub  # noqa: E402  (after the skips: imports nothing heavy itself)
from wsep_cli.readers.timm_hub import TimmReader  # noqa: E402

ARCH = "test_vit"  # 0.4 M parameters, pretrained weights on the hub as timm/test_vit.r160_in1k
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _epsilon(v: np.ndarray) -> float:
    """ε = ||V Vᵀ - I||_F² / n straight from the definition, float64."""
    v = v.astype(np.float64)
    g = v @ v.T - np.eye(v.shape[0])
    return float((g * g).sum() / v.shape[0])


@pytest.fixture()
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, and a probe host that refuses at once (no network either way)."""
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(timm_hub, "_PROBE_HOST", ("127.0.0.1", 9))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "hub"


def _fill_cache(cache: Path, arch: str) -> dict[str, np.ndarray]:
    """Put seeded weights for ``arch`` where huggingface_hub looks for timm's pretrained file."""
    from safetensors.torch import save_file

    hub_id = timm.models.get_pretrained_cfg(arch).hf_hub_id
    repo = cache / ("models--" + hub_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snap = repo / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = timm.create_model(arch, pretrained=False)
        torch.nn.init.normal_(model.get_classifier().weight)  # not what any init would produce
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(snap / "model.safetensors"))
    return {k: v.numpy() for k, v in state.items()}


def test_pretrained_weights_come_from_the_cache(empty_cache: Path) -> None:
    saved = _fill_cache(empty_cache, ARCH)
    with TimmReader.from_spec(ARCH) as r:
        assert [t.name for t in r.tensors()] == list(saved)  # timm's own names, in its order
        np.testing.assert_array_equal(r.load("head.weight"), saved["head.weight"])
        (hint,) = r.hints()
        assert hint.name == "head.weight" and "pretrained_cfg" in hint.reason and "pretrained" in hint.reason
        assert r.format == "timm" and r.metadata()["weights"] == "pretrained"


def test_no_cache_and_no_network_is_a_clean_exit_2(empty_cache: Path) -> None:
    with pytest.raises(UsageError) as info:  # the documented code for a source that cannot be had
        TimmReader.from_spec(ARCH)
    assert info.value.exit_code == 2
    msg = str(info.value)
    assert "could not be downloaded" in msg and "--random-init" in msg and "\n" not in msg


def test_user_offline_mode_is_a_clean_exit_2(empty_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UsageError, match="HF_HUB_OFFLINE"):
        TimmReader.from_spec(ARCH)


def test_unknown_arch_is_a_usage_error_with_a_hint() -> None:
    with pytest.raises(UsageError, match="did you mean resnet18"):
        TimmReader.from_spec("resnt18")
    with pytest.raises(UsageError, match="not a timm architecture"):
        TimmReader.from_spec("zzzz_no_such_model")


def test_arch_without_pretrained_weights_says_random_init() -> None:
    no_weights = next(
        n for n in timm.list_models()
        if not any(getattr(timm.models.get_pretrained_cfg(n), k, None) for k in ("hf_hub_id", "url", "file"))
    )
    with pytest.raises(UsageError, match="--random-init"):
        TimmReader.from_spec(no_weights)


def test_random_init_is_seeded_and_leaves_the_global_rng_alone() -> None:
    before = torch.random.get_rng_state()
    with TimmReader.from_spec(ARCH, random_init=True) as a, TimmReader.from_spec(ARCH, random_init=True) as b:
        assert torch.equal(before, torch.random.get_rng_state())
        for t in a.tensors():
            np.testing.assert_array_equal(a.load(t.name), b.load(t.name))
        assert a.metadata()["weights"] == "random-init"


def test_tuple_classifier_gives_every_head_primary_first() -> None:
    arch = "deit_tiny_distilled_patch16_224"
    with TimmReader.from_spec(arch, random_init=True) as r:
        assert [h.name for h in r.hints()] == ["head.weight", "head_dist.weight"]
        model = timm.create_model(arch, pretrained=False)
        assert [t.name for t in r.tensors()] == list(model.state_dict())
        assert {t.dtype for t in r.tensors()} <= {"float32", "int64"}


def test_cli_cache_offline_and_unknown_in_one_call(tmp_path: Path) -> None:
    # One process, three specs: cached weights (ok), no cache while offline (2, like a missing path), a typo (2).
    saved = _fill_cache(tmp_path / "hub", ARCH)
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "TORCH_HOME": str(tmp_path / "t")}
    proc = run_wsep("score", "--json", f"timm:{ARCH}", "timm:test_convnext", "timm:resnt18", env=env)
    cached, offline, unknown = json.loads(proc.stdout)["results"]
    assert (cached["status"], cached["format"]) == ("ok", "timm")
    (head,) = cached["heads"]
    assert (head["layer"], head["located_by"], head["num_classes"]) == ("head.weight", "metadata", 1000)
    assert head["epsilon"] == pytest.approx(_epsilon(saved["head.weight"]), rel=1e-9)
    assert offline["exit_code"] == 2 and "could not be downloaded" in offline["error"]
    assert unknown["exit_code"] == 2 and "resnet18" in unknown["error"]
    assert proc.returncode == 2
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in proc.stderr


def test_cli_random_init(tmp_path: Path) -> None:
    proc = run_wsep("score", "--json", "--random-init", f"timm:{ARCH}", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    (head,) = json.loads(proc.stdout)["results"][0]["heads"]
    assert (head["layer"], head["located_by"]) == ("head.weight", "metadata")
    with TimmReader.from_spec(ARCH, random_init=True) as r:
        assert head["epsilon"] == pytest.approx(_epsilon(r.load("head.weight")), rel=1e-9)
