"""Models: sizes from the literature, akamaster-compatible names, and the located classifier and its
captured input alpha (logits must be alpha V^T + b for every architecture)."""

from __future__ import annotations

import pytest
from ft_helpers import RESNET32_TH

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from wsep_cli.errors import NoClassifierError, UsageError  # noqa: E402
from wsep_cli.finetune.head import find_classifier  # noqa: E402
from wsep_cli.finetune.models import MODEL_NAMES, build_model, model_spec  # noqa: E402

# Parameter counts published for these CIFAR-10 models (He et al. 2016 Table 6 / akamaster README:
# 0.27M, 0.46M, 0.66M, 0.85M, 1.7M; the issue gives ResNet-32 exactly; Huang et al. 2017: 1.0M).
PUBLISHED = {"resnet20": 0.27e6, "resnet44": 0.66e6, "resnet56": 0.85e6, "resnet110": 1.7e6, "densenet40": 1.0e6}
HEADS = {"resnet20": "linear.weight", "resnet32": "linear.weight", "densenet40": "classifier.weight",
         "vgg16": "classifier.weight", "nin": "classifier.weight", "lenet": "fc3.weight"}


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_resnet32_has_exactly_464154_parameters() -> None:
    assert _params(build_model(model_spec("resnet32"), 10, 3)) == 464_154


@pytest.mark.parametrize("name,count", sorted(PUBLISHED.items()))
def test_parameter_counts_match_the_papers(name: str, count: float) -> None:
    assert _params(build_model(model_spec(name), 10, 3)) == pytest.approx(count, rel=0.03)


def test_resnet32_names_match_akamaster_checkpoint() -> None:
    if not RESNET32_TH.is_file():
        pytest.skip("../shared/data is absent")
    theirs = torch.load(RESNET32_TH, map_location="cpu", weights_only=True)["state_dict"]  # independent reader
    ours = build_model(model_spec("resnet32"), 10, 3).state_dict()
    assert {k.removeprefix("module.") for k in theirs} == {k for k in ours if not k.endswith("num_batches_tracked")}
    assert all(tuple(theirs["module." + k].shape) == tuple(v.shape) for k, v in ours.items()
               if not k.endswith("num_batches_tracked"))


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n not in ("resnet44", "resnet56", "resnet110")])
def test_classifier_is_found_and_alpha_reproduces_the_logits(name: str) -> None:
    torch.manual_seed(0)
    spec = model_spec(name)
    ch = 1 if name == "lenet" else 3
    model = build_model(spec, 7, ch).eval()
    head = find_classifier(model).attach()
    assert head.key == HEADS[name]
    x = torch.randn(3, ch, spec.input_size, spec.input_size)
    with torch.no_grad():
        logits = model(x)
    alpha = head.features()
    assert alpha.shape == (3, head.weight.shape[1]) and logits.shape == (3, 7)
    v = head.weight.flatten(1)
    torch.testing.assert_close(F.linear(alpha, v, head.module.bias), logits, rtol=1e-4, atol=1e-5)


def test_timm_model_uses_timms_classifier_name() -> None:
    pytest.importorskip("timm")
    from wsep_cli.locate.timm_names import classifier_names_for

    spec = model_spec("timm:resnet18")
    model = build_model(spec, 5, 3).eval()
    head = find_classifier(model, arch_classifiers=classifier_names_for("resnet18", required=False)).attach()
    assert head.key == "fc.weight" and head.located_by == "metadata"
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(F.linear(head.features(), head.weight, head.module.bias), logits, rtol=1e-4, atol=1e-5)


def test_layer_option_and_errors() -> None:
    model = build_model(model_spec("lenet"), 10, 1)
    assert find_classifier(model, layer="fc2").key == "fc2.weight"
    with pytest.raises(NoClassifierError):
        find_classifier(model, layer="conv1.bias")
    with pytest.raises(UsageError):
        model_spec("resnet33")
    with pytest.raises(UsageError):
        model_spec("timm:")
