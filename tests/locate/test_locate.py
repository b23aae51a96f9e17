"""The classifier locator: order of evidence, name rules, the structure heuristic, multi-head models,
``wsep layers``, real third-party files, and the timm acceptance sample (issue 2, Locator).

Every checkpoint here is a real safetensors file written by the ``safetensors`` library (which stores
tensors in alphabetical order), or a real timm model's state_dict.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import run_json, run_wsep, shared_file
from wsep_cli.errors import NoClassifierError, UsageError
from wsep_cli.locate import KNOWN_CLASSIFIER_NAMES, canonical_key, candidate_matrices, locate
from wsep_cli.readers.base import HeadHint, TensorInfo
from wsep_cli.readers.safetensors.reader import SafetensorsReader
from wsep_cli.pipeline import ScoreOptions, list_layers, score_file

Shapes = dict[str, tuple[int, ...]]


def save(path: Path, shapes: Shapes, metadata: dict[str, str] | None = None) -> Path:
    """A real safetensors file with random float32 tensors of the given shapes."""
    rng = np.random.default_rng(0)
    save_file({k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}, str(path), metadata)
    return path


def heads_of(path: Path, **kw: object) -> list[tuple[str, str]]:
    with SafetensorsReader(path) as r:
        return [(h.layer, h.located_by) for h in locate(r, **kw)]  # type: ignore[arg-type]


def linear(name: str, n: int, m: int, bias: bool = True) -> Shapes:
    out: Shapes = {f"{name}.weight": (n, m)}
    if bias:
        out[f"{name}.bias"] = (n,)
    return out


# A small CNN body: 3x3 convs and a batch norm, no matrices.
BODY: Shapes = {"features.0.weight": (16, 3, 3, 3), "features.1.weight": (16,), "features.1.bias": (16,),
                "features.3.weight": (32, 16, 3, 3)}


# ---------------------------------------------------------------- order of evidence


class _HintedReader(SafetensorsReader):
    """A safetensors file whose reader also reports a format hint (as the ONNX and timm readers do)."""

    def hints(self) -> list[HeadHint]:
        return [HeadHint("hinted.weight", reason="format metadata")]


def test_order_of_evidence(tmp_path: Path) -> None:
    # Each kind of evidence points at a different matrix; each level must beat the ones below it.
    shapes = {**BODY, **linear("hinted", 7, 32), **linear("by_meta", 6, 32), **linear("fc", 5, 32),
              **linear("mystery", 4, 32)}
    f = save(tmp_path / "m.safetensors", shapes, {"classifier": "by_meta.weight"})
    plain = save(tmp_path / "plain.safetensors", {**BODY, **linear("fc", 5, 32), **linear("mystery", 4, 32)})
    anon = save(tmp_path / "anon.safetensors", {**BODY, **linear("mystery", 4, 32)})

    with _HintedReader(f) as r:
        assert [h.layer for h in locate(r, layer="mystery")] == ["mystery.weight"]  # --layer beats all
        assert [(h.layer, h.located_by) for h in locate(r)] == [("hinted.weight", "metadata")]
    assert heads_of(f, arch_classifiers=["mystery"]) == [("mystery.weight", "metadata")]  # timm cfg
    assert heads_of(f) == [("by_meta.weight", "metadata")]  # the file's own "classifier" entry
    assert heads_of(plain) == [("fc.weight", "name")]
    assert heads_of(anon) == [("mystery.weight", "structure")]


def test_arch_names_absent_from_file_fall_through(tmp_path: Path) -> None:
    f = save(tmp_path / "m.safetensors", {**BODY, **linear("fc", 5, 32)})
    with SafetensorsReader(f) as r:
        (h,) = locate(r, arch_classifiers=["head"])
    assert (h.layer, h.located_by) == ("fc.weight", "name")
    assert "'head'" in h.reason  # says the architecture's name was not found


def test_layer_option_accepts_module_name_and_rejects_non_matrix(tmp_path: Path) -> None:
    f = save(tmp_path / "m.safetensors", {**BODY, **linear("fc", 5, 32)})
    assert heads_of(f, layer="fc") == [("fc.weight", "option")]
    with pytest.raises(NoClassifierError, match="3x3|1x1 conv"):
        heads_of(f, layer="features.0.weight")
    with pytest.raises(NoClassifierError, match="wsep layers"):
        heads_of(f, layer="nope")


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    "shapes, expected",
    [
        # timm names, matched on the whole key
        ({**linear("blocks.0.mlp.fc1", 128, 32), **linear("blocks.0.mlp.fc2", 32, 128), **linear("head", 9, 32)},
         ["head.weight"]),
        ({**linear("head.fc1", 64, 32), **linear("head.fc2", 9, 64)}, ["head.fc2.weight"]),
        ({**linear("head.fc.fc1", 64, 32), **linear("head.fc.fc2", 9, 64)}, ["head.fc.fc2.weight"]),
        ({**linear("stages.3.mlp.fc2", 32, 64), **linear("head.fc", 9, 32)}, ["head.fc.weight"]),
        ({**linear("conv_head", 48, 32), **linear("classifier", 9, 48)}, ["classifier.weight"]),
        ({**linear("head.pre_classifier.linear", 48, 32), **linear("head.classifier.linear", 9, 48)},
         ["head.classifier.linear.weight"]),
        # VGG / AlexNet: the last Linear of the classifier Sequential
        ({**linear("classifier.0", 64, 32), **linear("classifier.3", 64, 64), **linear("classifier.6", 9, 64)},
         ["classifier.6.weight"]),
        # efficientvit: Linear, norm, act, dropout, Linear
        ({**linear("head.classifier.0", 64, 32), "head.classifier.1.weight": (64,), "head.classifier.1.bias": (64,),
          **linear("head.classifier.4", 9, 64)}, ["head.classifier.4.weight"]),
        # squeezenet: a 1x1 conv head
        ({"classifier.1.weight": (9, 32, 1, 1), "classifier.1.bias": (9,)}, ["classifier.1.weight"]),
        # LeNet-style top-level fc1/fc2/fc3, and a hidden `fc` feeding `fc2`
        ({**linear("fc1", 120, 32), **linear("fc2", 84, 120), **linear("fc3", 9, 84)}, ["fc3.weight"]),
        ({**linear("fc", 64, 32), **linear("fc2", 9, 64)}, ["fc2.weight"]),
        ({**linear("linear", 9, 32)}, ["linear.weight"]),
        ({**linear("heads.head", 9, 32)}, ["heads.head.weight"]),
    ],
)
def test_known_names(tmp_path: Path, shapes: Shapes, expected: list[str]) -> None:
    f = save(tmp_path / "m.safetensors", {**BODY, **shapes})
    assert heads_of(f) == [(e, "name") for e in expected]


def test_wrapper_prefixes_are_stripped_for_matching_but_reported_as_stored(tmp_path: Path) -> None:
    assert canonical_key("module._orig_mod.head.fc.weight") == "head.fc.weight"
    assert canonical_key("model.fc.weight") == "fc.weight"
    for prefix in ("module.", "_orig_mod.", "model.", "module._orig_mod."):
        shapes = {f"{prefix}{k}": s for k, s in {**BODY, **linear("blocks.0.fc1", 40, 32), **linear("fc", 9, 40)}.items()}
        f = save(tmp_path / "m.safetensors", shapes)
        assert heads_of(f) == [(f"{prefix}fc.weight", "name")]


def test_mlp_fc1_inside_a_block_is_never_a_name_match(tmp_path: Path) -> None:
    # A ViT without its head: `blocks.N.mlp.fc1` and `fc2` must not be taken for top-level fc1 / fc2.
    shapes: Shapes = {}
    for i in range(3):
        shapes |= linear(f"blocks.{i}.attn.qkv", 96, 32) | linear(f"blocks.{i}.attn.proj", 32, 32)
        shapes |= linear(f"blocks.{i}.mlp.fc1", 128, 32) | linear(f"blocks.{i}.mlp.fc2", 32, 128)
        shapes |= {f"blocks.{i}.norm1.weight": (32,), f"blocks.{i}.norm2.weight": (32,)}
    f = save(tmp_path / "vit.safetensors", {**shapes, "norm.weight": (32,)})
    with pytest.raises(NoClassifierError, match="--layer"):
        heads_of(f)
    g = save(tmp_path / "vit_head.safetensors", {**shapes, "norm.weight": (32,), **linear("head", 9, 32)})
    assert heads_of(g) == [("head.weight", "name")]


def test_known_names_cover_every_name_timm_and_torchvision_use() -> None:
    names = set(KNOWN_CLASSIFIER_NAMES)
    for n in ("fc", "head", "head.fc", "classifier", "last_linear", "head.linear", "head.l", "head.head.l",
              "head.fc2", "head.fc.fc2", "head.classifier", "head.proj", "classif", "linear", "fc1", "heads.head"):
        assert n in names


# ---------------------------------------------------------------- multi-head


@pytest.mark.parametrize(
    "shapes, expected",
    [
        ({**linear("head", 9, 32), **linear("head_dist", 9, 32)}, ["head.weight", "head_dist.weight"]),
        ({**linear("head_dist.linear", 9, 32), **linear("head.linear", 9, 32)},
         ["head.linear.weight", "head_dist.linear.weight"]),
        ({**linear("head.head.l", 9, 32), **linear("head.head_dist.l", 9, 32)},
         ["head.head.l.weight", "head.head_dist.l.weight"]),
        ({**linear("aux_head", 9, 32), **linear("head", 9, 32)}, ["head.weight", "aux_head.weight"]),
        ({**linear("head.0", 9, 16), **linear("head.1", 9, 32)}, ["head.0.weight", "head.1.weight"]),
        ({**linear("heads_dist.0", 9, 16), **linear("heads.1", 9, 32), **linear("heads.0", 9, 16),
          **linear("heads_dist.1", 9, 32)},
         ["heads.0.weight", "heads.1.weight", "heads_dist.0.weight", "heads_dist.1.weight"]),
    ],
)
def test_every_head_is_reported_primary_first(tmp_path: Path, shapes: Shapes, expected: list[str]) -> None:
    f = save(tmp_path / "m.safetensors", {**BODY, **shapes})
    assert [layer for layer, _ in heads_of(f)] == expected


def test_inception_aux_logits_are_not_a_second_head(tmp_path: Path) -> None:
    shapes = {**BODY, **linear("AuxLogits.fc", 9, 24), **linear("fc", 9, 32)}
    assert heads_of(save(tmp_path / "m.safetensors", shapes)) == [("fc.weight", "name")]


# ---------------------------------------------------------------- structure


def test_structure_chain_stored_alphabetically(tmp_path: Path) -> None:
    # 784 -> 256 -> 128 -> 10 under names no rule knows; alphabetical storage puts the head first.
    shapes = {**linear("body.2", 256, 784), **linear("body.4", 128, 256), **linear("body.10", 10, 128)}
    f = save(tmp_path / "mlp.safetensors", shapes)
    with SafetensorsReader(f) as r:
        assert [t.name for t in candidate_matrices(r.tensors())][0] == "body.10.weight"  # stored first
    assert heads_of(f) == [("body.10.weight", "structure")]


def test_structure_ignores_optimizer_state(tmp_path: Path) -> None:
    model = {**linear("net.0", 128, 784), **linear("net.2", 10, 128)}
    optim = {"optimizer.state.1.exp_avg": (10, 128), "optimizer.state.1.exp_avg_sq": (10, 128),
             "optimizer.state.0.momentum_buffer": (128, 784), "optimizer.state.2.exp_avg": (7, 10)}
    f = save(tmp_path / "ckpt.safetensors", {**model, **optim})
    assert heads_of(f) == [("net.2.weight", "structure")]
    g = save(tmp_path / "optim_only.safetensors", optim)
    with pytest.raises(NoClassifierError):
        heads_of(g)


def test_structure_finds_a_1x1_conv_head_with_bias(tmp_path: Path) -> None:
    shapes = {**BODY, "final.weight": (10, 32, 1, 1), "final.bias": (10,)}
    assert heads_of(save(tmp_path / "fcn.safetensors", shapes)) == [("final.weight", "structure")]


def test_structure_rejects_the_end_of_a_headless_backbone(tmp_path: Path) -> None:
    # ResNet-like bottleneck 1x1 convs without a head: every output size is taken up again.
    shapes = {"layer1.conv1.weight": (16, 64, 1, 1), "layer1.conv3.weight": (64, 16, 1, 1),
              "layer2.conv1.weight": (16, 64, 1, 1), "layer2.conv3.weight": (64, 16, 1, 1),
              "layer2.bn3.weight": (64,)}
    with pytest.raises(NoClassifierError, match="--layer"):
        heads_of(save(tmp_path / "headless.safetensors", shapes))


# ---------------------------------------------------------------- --arch and the checkpoint's arch key


def test_arch_option_and_arch_metadata(tmp_path: Path) -> None:
    shapes = {**BODY, **linear("head", 9, 32), **linear("fc", 9, 32)}
    f = save(tmp_path / "two.safetensors", shapes)
    assert [h.layer for h in score_file(str(f)).heads] == ["head.weight"]  # by name priority
    r = score_file(str(f), ScoreOptions(arch="resnet18"))  # timm names resnet18's classifier `fc`
    assert [(h.layer, h.located_by) for h in r.heads] == [("fc.weight", "metadata")]
    g = save(tmp_path / "arch.safetensors", shapes, {"arch": "resnet18"})
    assert [(h.layer, h.located_by) for h in score_file(str(g)).heads] == [("fc.weight", "metadata")]
    h = save(tmp_path / "custom.safetensors", shapes, {"arch": "my_own_net"})  # unknown: ignored
    assert [(x.layer, x.located_by) for x in score_file(str(h)).heads] == [("head.weight", "name")]
    bad = score_file(str(f), ScoreOptions(arch="my_own_net"))
    assert bad.status == "error" and bad.exit_code == UsageError.exit_code


def test_training_checkpoint_arch_key_and_optimizer_state(tmp_path: Path) -> None:
    # A real torch.save training checkpoint: weights, Adam state of the same shapes, epoch and arch.
    torch = pytest.importorskip("torch")
    if importlib.util.find_spec("wsep_cli.readers.pytorch.reader") is None:
        pytest.skip("the PyTorch reader is not there yet")
    model = torch.nn.ModuleDict({"body": torch.nn.Linear(8, 16), "head": torch.nn.Linear(16, 5),
                                 "fc": torch.nn.Linear(16, 5)})
    opt = torch.optim.Adam(model.parameters())
    x = model["body"](torch.randn(4, 8))
    (model["head"](x).sum() + model["fc"](x).sum()).backward()
    opt.step()
    for arch, expected in (("resnet18", ("fc.weight", "metadata")), ("my_own_net", ("head.weight", "name"))):
        path = tmp_path / f"{arch}.pth"
        torch.save({"epoch": 3, "arch": arch, "state_dict": model.state_dict(), "optimizer": opt.state_dict()}, path)
        r = score_file(str(path))
        assert [(h.layer, h.located_by) for h in r.heads] == [expected], r.error


# ---------------------------------------------------------------- wsep layers and exit 3 (subprocess)


def test_layers_marks_the_chosen_head_and_says_why(tmp_path: Path) -> None:
    f = save(tmp_path / "m.safetensors", {**BODY, **linear("head", 9, 32), **linear("head_dist", 9, 32)})
    proc = run_wsep("layers", str(f))
    assert proc.returncode == 0, proc.stderr
    marked = [ln for ln in proc.stdout.splitlines() if ln.lstrip().startswith("*")]
    assert [ln.split()[1] for ln in marked] == ["head.weight", "head_dist.weight"]
    assert "known classifier name 'head'" in marked[0]
    assert "9×32" in marked[0] and "float32" in marked[0]


def test_no_classifier_exits_3_with_a_layer_hint(tmp_path: Path) -> None:
    f = save(tmp_path / "convs.safetensors", BODY)
    proc = run_wsep("layers", str(f))
    assert proc.returncode == 3
    assert "--layer" in proc.stderr and "Traceback" not in proc.stderr
    proc, doc = run_json(str(f))
    assert proc.returncode == 3
    assert doc["results"][0]["status"] == "error" and "--layer" in doc["results"][0]["error"]
    assert len(proc.stderr.strip().splitlines()) == 1


def test_layers_unknown_arch_is_a_usage_error_not_exit_3(tmp_path: Path) -> None:
    f = save(tmp_path / "m.safetensors", {**BODY, **linear("fc", 9, 32)})
    with pytest.raises(UsageError, match="not_a_timm_arch"):
        list_layers(str(f), ScoreOptions(arch="not_a_timm_arch"))


# ---------------------------------------------------------------- real third-party files


def test_denograd_mnist_head_found_by_structure() -> None:
    path = shared_file("karelnagel_denograd/mnist.safetensors")
    assert heads_of(path) == [("layers.13.weight", "structure")]
    rows = list_layers(str(path)).rows
    assert [r.name for r in rows if r.chosen] == ["layers.13.weight"]
    proc = run_wsep("layers", str(path))
    assert proc.returncode == 0 and "* layers.13.weight" in proc.stdout and "structure" in proc.stdout


def test_akamaster_resnet20_head_is_module_linear() -> None:
    path = shared_file("akamaster_pytorch_resnet_cifar10/resnet20-12fca82f.th")
    if importlib.util.find_spec("wsep_cli.readers.pytorch.reader") is None:
        pytest.skip("the PyTorch reader is not there yet")
    proc, doc = run_json(str(path))
    assert proc.returncode == 0, proc.stderr
    heads = doc["results"][0]["heads"]
    assert [(h["layer"], h["located_by"], h["num_classes"]) for h in heads] == [("module.linear.weight", "name", 10)]
    proc = run_wsep("layers", str(path))
    assert proc.returncode == 0 and "* module.linear.weight" in proc.stdout


# ---------------------------------------------------------------- acceptance: a timm sample

# At least one architecture per distinct pretrained_cfg["classifier"] value in timm (the smallest
# variants, several families for the common names). Each is created with pretrained=False and its
# default num_classes, saved as a bare safetensors state_dict (no metadata) and scored with no --arch.
TIMM_SAMPLE = (
    # "head"
    "test_vit", "starnet_s1", "xcit_nano_12_p8_224", "pvt_v2_b0", "pit_ti_224", "convit_tiny",
    "deit_tiny_patch16_224", "coat_lite_tiny",
    # "head.fc"
    "test_convnext", "mobilevit_xxs", "edgenext_xx_small", "mobilevitv2_050", "regnetx_002",
    "cspnext_tiny", "convnextv2_atto", "fastvit_t8",
    # "classifier"
    "test_efficientnet_gn", "mobilenetv3_small_050", "lcnet_050", "mnasnet_small", "tinynet_e",
    "repghostnet_050",
    # "fc"
    "test_resnet", "dla46x_c", "resnet10t", "resnet18",
    # one each for the rarer names and the tuples
    "caformer_s18",  # head.fc.fc2
    "cpubone_nano",  # head.classifier.linear
    "crossvit_tiny_240",  # (head.0, head.1)
    "swiftformer_xs", "efficientformerv2_s0", "deit_tiny_distilled_patch16_224",  # (head, head_dist)
    "efficientvim_m1",  # (heads.0 .. heads.3)
    "efficientvim_m1_dist",  # (heads.0 .. heads.3, heads_dist.0 .. heads_dist.3)
    "efficientvit_b0",  # head.classifier.4
    "efficientvit_m0",  # head.linear
    "iformer_t",  # head.head.l
    "repvit_m1",  # (head.head.l, head.head_dist.l)
    "inception_next_atto",  # head.fc2
    "inception_resnet_v2",  # classif
    "legacy_seresnet18",  # last_linear
    "levit_128s",  # (head.linear, head_dist.linear)
    "resnet50_clip",  # head.proj
    "shvit_s1",  # head.l
    "volo_d1_224",  # (head, aux_head)
)
HEADLESS_SAMPLE = ("test_vit", "test_resnet", "test_efficientnet_gn", "efficientvit_b0", "inception_next_atto")


def _classifier_names(cfg: object) -> tuple[str, ...]:
    c = cfg.get("classifier") if isinstance(cfg, dict) else getattr(cfg, "classifier", None)
    if c is None:
        return ()
    return (c,) if isinstance(c, str) else tuple(c)


def _save_state_dict(model: object, path: Path) -> None:
    from safetensors.torch import save_file as save_torch

    # clone: some models share tensors, which save_file refuses; no metadata on purpose
    save_torch({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, str(path))  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def timm_sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Each sample architecture as a bare safetensors file, with timm's own classifier names."""
    timm = pytest.importorskip("timm")
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("timm_sample")
    out = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for arch in TIMM_SAMPLE:
            model = timm.create_model(arch, pretrained=False)
            out[arch] = (folder / f"{arch}.safetensors", _classifier_names(model.pretrained_cfg))
            _save_state_dict(model, out[arch][0])
            del model
    return out


@pytest.mark.slow
def test_timm_sample_covers_every_classifier_name() -> None:
    timm = pytest.importorskip("timm")
    used = {_classifier_names(timm.models.get_pretrained_cfg(n)) for n in timm.list_models(pretrained=True)}
    used.discard(())
    covered = {_classifier_names(timm.models.get_pretrained_cfg(a)) for a in TIMM_SAMPLE}
    assert len(TIMM_SAMPLE) >= 40
    assert used - covered == set(), "add an architecture for each new classifier name to TIMM_SAMPLE"


@pytest.mark.slow
def test_timm_sample_first_head_is_timms_classifier(timm_sample: dict[str, tuple[Path, tuple[str, ...]]]) -> None:
    hits, misses = 0, []
    for arch, (path, names) in timm_sample.items():
        r = score_file(str(path))
        got = [h.layer for h in r.heads]
        want = [f"{n}.weight" for n in names]
        ok = r.status == "ok" and got[:1] == want[:1] and all(w in got for w in want)
        hits += ok
        if not ok:
            misses.append(f"{arch}: timm {names}, got {got or r.error}")
    rate = hits / len(timm_sample)
    print(f"timm sample: {hits}/{len(timm_sample)} = {rate:.1%}; misses: {misses}")
    assert rate >= 0.98, misses


@pytest.mark.slow
@pytest.mark.parametrize("arch", HEADLESS_SAMPLE)
def test_timm_model_without_head_exits_3(arch: str, tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    model = timm.create_model(arch, pretrained=False, num_classes=0)
    path = tmp_path / f"{arch}_headless.safetensors"
    _save_state_dict(model, path)
    r = score_file(str(path))
    assert (r.status, r.exit_code) == ("error", 3), [h.layer for h in r.heads]
    assert "--layer" in (r.error or "")


def test_tensor_info_candidates_include_1x1_convs_only() -> None:
    ts = [TensorInfo("a", (4, 3), "float32"), TensorInfo("b", (4, 3, 1, 1), "float16"),
          TensorInfo("c", (4, 3, 3, 3), "float32"), TensorInfo("d", (4, 3), "int64"), TensorInfo("e", (4,), "float32")]
    assert [t.name for t in candidate_matrices(ts)] == ["a", "b"]
