"""The loss API against a direct float64 computation of sum P log(P/Q) (paper Eq. 9), gradient
flow, detach options, soft labels, and lambda = 0 reproducing plain cross-entropy training."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from wsep_cli import FeedBackwardReconstructionLoss, reconstruction_loss  # noqa: E402


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _reference(alpha: np.ndarray, onehot: np.ndarray, v: np.ndarray, t: float) -> np.ndarray:
    """Per-sample KL(P || Q), P = softmax(alpha/T), Q = softmax(o_hat V / T), all float64 numpy."""
    p = _softmax(alpha / t)
    q = _softmax((onehot @ v) / t)
    return (p * np.log(p / q)).sum(axis=1)


def _problem(seed: int, b: int = 6, n: int = 5, m: int = 7):
    rng = np.random.default_rng(seed)
    alpha = rng.normal(size=(b, m)) * 2
    v = rng.normal(size=(n, m))
    y = rng.integers(0, n, size=b)
    return alpha, v, y


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("temperature", [1.0, 0.5, 4.0])
def test_value_matches_float64_reference(seed: int, temperature: float) -> None:
    alpha, v, y = _problem(seed)
    ref = _reference(alpha, np.eye(v.shape[0])[y], v, temperature)
    got = reconstruction_loss(torch.tensor(alpha), torch.tensor(y), torch.tensor(v), temperature=temperature)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(ref.mean(), rel=1e-12)
    per = reconstruction_loss(torch.tensor(alpha), torch.tensor(y), torch.tensor(v), temperature=temperature,
                              reduction="none")
    np.testing.assert_allclose(per.numpy(), ref, rtol=1e-12)
    total = reconstruction_loss(torch.tensor(alpha), torch.tensor(y), torch.tensor(v), temperature=temperature,
                                reduction="sum")
    assert total.item() == pytest.approx(ref.sum(), rel=1e-12)


def test_float32_inputs_match_reference_closely() -> None:
    alpha, v, y = _problem(3, b=32, n=10, m=64)
    ref = _reference(alpha.astype(np.float32).astype(np.float64), np.eye(10)[y], v.astype(np.float32).astype(np.float64), 1.0)
    got = reconstruction_loss(torch.tensor(alpha, dtype=torch.float32), torch.tensor(y), torch.tensor(v, dtype=torch.float32))
    assert got.item() == pytest.approx(ref.mean(), rel=1e-5)


def test_batchmean_not_element_mean() -> None:
    alpha, v, y = _problem(4, b=8, n=4, m=16)
    ref = _reference(alpha, np.eye(4)[y], v, 1.0)
    got = reconstruction_loss(torch.tensor(alpha), torch.tensor(y), torch.tensor(v))
    assert got.item() == pytest.approx(ref.sum() / 8, rel=1e-12)  # divided by B, not by B*m
    with pytest.raises(ValueError, match="element mean"):
        reconstruction_loss(torch.tensor(alpha), torch.tensor(y), torch.tensor(v), reduction="mean")  # type: ignore[arg-type]


def test_zero_when_reconstruction_is_exact() -> None:
    v = torch.randn(5, 9, dtype=torch.float64)
    y = torch.tensor([0, 4, 2])
    assert reconstruction_loss(v[y].clone(), y, v).item() == pytest.approx(0.0, abs=1e-15)
    # shift-invariance of the softmax: alpha = r + c gives zero too
    assert reconstruction_loss(v[y] + 3.0, y, v).item() == pytest.approx(0.0, abs=1e-12)


def test_soft_labels_match_reference_and_one_hot_path() -> None:
    alpha, v, y = _problem(5)
    rng = np.random.default_rng(9)
    soft = rng.dirichlet(np.ones(v.shape[0]), size=len(y))
    got = reconstruction_loss(torch.tensor(alpha), torch.tensor(soft), torch.tensor(v), temperature=2.0)
    assert got.item() == pytest.approx(_reference(alpha, soft, v, 2.0).mean(), rel=1e-12)
    a1, v1 = torch.tensor(alpha, requires_grad=True), torch.tensor(v, requires_grad=True)
    a2, v2 = torch.tensor(alpha, requires_grad=True), torch.tensor(v, requires_grad=True)
    l1 = reconstruction_loss(a1, torch.tensor(y), v1)
    l2 = reconstruction_loss(a2, F.one_hot(torch.tensor(y), v.shape[0]).double(), v2)
    l1.backward()
    l2.backward()
    assert l1.item() == pytest.approx(l2.item(), rel=1e-14)
    torch.testing.assert_close(a1.grad, a2.grad, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(v1.grad, v2.grad, rtol=1e-12, atol=1e-14)


def test_gradients_reach_features_and_weight_and_are_correct() -> None:
    alpha, v, y = _problem(6)
    a = torch.tensor(alpha, requires_grad=True)
    w = torch.tensor(v, requires_grad=True)
    reconstruction_loss(a, torch.tensor(y), w).backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert w.grad is not None and w.grad.abs().sum() > 0
    # rows of V for classes absent from the batch get no gradient (r only uses labelled rows)
    absent = sorted(set(range(v.shape[0])) - set(y.tolist()))
    for i in absent:
        assert torch.all(w.grad[i] == 0)
    for t in (1.0, 3.0):
        assert torch.autograd.gradcheck(
            lambda aa, ww: reconstruction_loss(aa, torch.tensor(y), ww, temperature=t),
            (torch.tensor(alpha, requires_grad=True), torch.tensor(v, requires_grad=True)))


@pytest.mark.parametrize("detach,alpha_grad,weight_grad", [("features", False, True), ("weight", True, False)])
def test_detach_options(detach: str, alpha_grad: bool, weight_grad: bool) -> None:
    alpha, v, y = _problem(7)
    a = torch.tensor(alpha, requires_grad=True)
    w = torch.tensor(v, requires_grad=True)
    loss = reconstruction_loss(a, torch.tensor(y), w, detach=detach)  # type: ignore[arg-type]
    assert loss.item() == pytest.approx(_reference(alpha, np.eye(v.shape[0])[y], v, 1.0).mean(), rel=1e-12)
    loss.backward()
    assert (a.grad is not None) is alpha_grad
    assert (w.grad is not None) is weight_grad


def test_module_matches_function_and_validates() -> None:
    alpha, v, y = _problem(8)
    fn = FeedBackwardReconstructionLoss(temperature=2.0, detach="features")
    args = (torch.tensor(alpha), torch.tensor(y), torch.tensor(v))
    assert fn(*args).item() == reconstruction_loss(*args, temperature=2.0, detach="features").item()
    assert "temperature=2.0" in repr(fn)
    with pytest.raises(ValueError):
        FeedBackwardReconstructionLoss(temperature=0.0)
    with pytest.raises(ValueError):
        FeedBackwardReconstructionLoss(detach="both")  # type: ignore[arg-type]


def test_conv_1x1_kernel_and_shape_errors() -> None:
    alpha, v, y = _problem(9)
    flat = reconstruction_loss(torch.tensor(alpha), torch.tensor(y), torch.tensor(v))
    conv = reconstruction_loss(torch.tensor(alpha)[:, :, None, None], torch.tensor(y), torch.tensor(v)[:, :, None, None])
    assert flat.item() == conv.item()
    with pytest.raises(ValueError, match="columns"):
        reconstruction_loss(torch.randn(2, 3), torch.tensor([0, 1]), torch.randn(4, 5))
    with pytest.raises(ValueError, match="integer"):
        reconstruction_loss(torch.randn(2, 5), torch.tensor([0.0, 1.0]), torch.randn(4, 5))
    with pytest.raises(ValueError, match="soft labels"):
        reconstruction_loss(torch.randn(2, 5), torch.rand(2, 3), torch.randn(4, 5))


# ---- lambda = 0 is plain cross-entropy training, step for step ---------------------------------

def _toy_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16, 12), torch.nn.ReLU(),
        torch.nn.Linear(12, 5),
    )


def _batches(n: int = 5):
    g = torch.Generator().manual_seed(123)
    return [(torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 5, (16,), generator=g)) for _ in range(n)]


def _sgd(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)


def _plain_ce(model: torch.nn.Module) -> torch.nn.Module:
    opt = _sgd(model)
    model.train()
    for x, y in _batches():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


def _trainer_steps(model: torch.nn.Module, lam: float) -> torch.nn.Module:
    from wsep_cli.finetune.head import find_classifier
    from wsep_cli.finetune.steps import LossSettings, train_step

    head = find_classifier(model).attach()
    assert head.key == "7.weight"  # located by structure: the last matrix
    opt = _sgd(model)
    model.train()
    for x, y in _batches():
        train_step(model, head, opt, x, y, LossSettings(lam=lam))
    return model


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_lambda_zero_equals_plain_cross_entropy_bit_for_bit() -> None:
    ref = _plain_ce(_toy_model(0))
    assert _same(_trainer_steps(_toy_model(0), 0.0), ref)
    assert not _same(_trainer_steps(_toy_model(0), 0.5), ref)  # the comparison can fail


def test_library_loss_with_zero_weight_changes_nothing() -> None:
    ref = _plain_ce(_toy_model(1))
    model = _toy_model(1)
    feats: dict[str, torch.Tensor] = {}
    model[7].register_forward_pre_hook(lambda _m, args: feats.__setitem__("a", args[0]))
    opt = _sgd(model)
    for x, y in _batches():
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y) + 0.0 * reconstruction_loss(feats["a"], y, model[7].weight)
        loss.backward()
        opt.step()
    assert _same(model, ref)
    assert not _same(copy.deepcopy(model).train(), _toy_model(1))  # training did move the weights
