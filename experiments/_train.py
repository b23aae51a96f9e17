"""A small, deterministic CPU training harness for the LeNet experiments, built on wsep's library.

From the library it uses the model registry (``build_model(model_spec("lenet"))``), the data
readers and batched augmentation (``load_data``, ``idx_dataset``, ``plan_epoch``, ``random_crop``,
``normalize``), the classifier locator + feature hook (``find_classifier``), the paper's loss
(``reconstruction_loss``), the step schedule (``FinetuneConfig.milestones``) and the float64 metrics
(``compute_metrics``). What it adds are the things an experiment needs and ``wsep finetune`` does
not offer, each labelled *script-local*:

- the paper's fixed QR-orthogonal last layer (Eq. 2, not updated during training);
- the reversed KL direction KL(Q ‖ P) for the ablation;
- a direct ε(V) penalty (not in the paper) as a control;
- test-set latent features α for PCA plots and a Fisher ratio.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F

from _common import head_diagnostics
from wsep_cli.finetune.augment import apply_flip, normalize, plan_epoch, random_crop
from wsep_cli.finetune.config import FinetuneConfig
from wsep_cli.finetune.data import DataBundle, TensorSplit, load_data
from wsep_cli.finetune.head import find_classifier
from wsep_cli.finetune.loss import reconstruction_loss
from wsep_cli.finetune.models import build_model, model_spec
from wsep_cli.metrics import compute_metrics

__all__ = [
    "Variant",
    "Schedule",
    "digits_bundle",
    "mnist_split_bundle",
    "reverse_reconstruction_loss",
    "epsilon_penalty",
    "fisher_ratio",
    "train_one",
    "run_cached",
    "run_many",
]


@dataclass(frozen=True)
class Variant:
    """One training condition. ``lam`` = λ of Eq. 10; the other fields select ablation variants."""

    name: str
    lam: float = 0.0
    temperature: float = 1.0
    detach: Optional[str] = None  # None | "features" | "weight" (library option)
    direction: str = "forward"  # "forward": library KL(P‖Q); "reverse": script-local KL(Q‖P)
    fixed_qr: bool = False  # script-local: paper Eq. 2, last layer fixed to a QR-orthogonal matrix
    eps_penalty: float = 0.0  # script-local control: + eps_penalty · ε(V), not in the paper


@dataclass(frozen=True)
class Schedule:
    """SGD with the paper's settings (lr ÷10 at 1/3, 2/3, 5/6 of the run)."""

    epochs: int
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4


# ---------------------------------------------------------------- data


def digits_bundle(n_train: Optional[int] = None) -> DataBundle:
    """scikit-learn's digits through wsep's loader: 1,437 train / 360 test, resized to 28 × 28.

    ``n_train`` keeps only the first images of the training split (CI-sized runs).
    """
    cfg = FinetuneConfig(output="-", model="lenet", data="digits")
    b = load_data(cfg, model_spec("lenet"))
    if n_train is not None and isinstance(b.train, TensorSplit):
        b.train = TensorSplit(b.train.x[:n_train], b.train.y[:n_train])
    return b


def mnist_split_bundle(folder: Path, n_train: int = 8000, n_test: Optional[int] = None) -> DataBundle:
    """The official MNIST *test* set (10,000 images) split by a fixed permutation (seed 0) into
    ``n_train`` training and the remaining test images (or only ``n_test`` of them, for CI-sized
    runs); read and normalised by wsep's loader."""
    cfg = FinetuneConfig(output="-", model="lenet", data="mnist", data_dir=str(folder))
    b = load_data(cfg, model_spec("lenet"), need_train=False)
    x, y = b.test.x, b.test.y  # type: ignore[union-attr]
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    tr, te = perm[:n_train], perm[n_train:]
    te = te[:n_test] if n_test is not None else te
    b.train, b.test = TensorSplit(x[tr], y[tr]), TensorSplit(x[te], y[te])
    return b


# ---------------------------------------------------------------- script-local loss variants


def reverse_reconstruction_loss(features: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor,
                                *, temperature: float = 1.0, detach: Optional[str] = None) -> torch.Tensor:
    """Script-local ablation: KL(Q ‖ P) = Σ_j Q_j (log Q_j − log P_j), the paper's Eq. 9 reversed.

    Same P = softmax(α/T), Q = softmax(ô·V/T) and batch mean as the library's
    :func:`~wsep_cli.finetune.loss.reconstruction_loss`; only the direction differs.
    """
    if detach == "features":
        features = features.detach()
    elif detach == "weight":
        weight = weight.detach()
    r = weight.index_select(0, targets)  # ô·V for one-hot ô
    log_p = F.log_softmax(features.float() / temperature, dim=1)
    log_q = F.log_softmax(r.float() / temperature, dim=1)
    return (log_q.exp() * (log_q - log_p)).sum(dim=1).mean()


def epsilon_penalty(weight: torch.Tensor) -> torch.Tensor:
    """Script-local control: differentiable ε(V) = ‖V Vᵀ − I‖²_F / n (paper Eq. 6)."""
    n = weight.shape[0]
    g = weight @ weight.T
    return ((g - torch.eye(n, dtype=g.dtype)) ** 2).sum() / n


def _aux_loss(v: Variant, alpha: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> Optional[torch.Tensor]:
    out: Optional[torch.Tensor] = None
    if v.lam > 0:
        fn = reconstruction_loss if v.direction == "forward" else reverse_reconstruction_loss
        out = v.lam * fn(alpha, y, w, temperature=v.temperature, detach=v.detach)
    if v.eps_penalty > 0:
        e = v.eps_penalty * epsilon_penalty(w)
        out = e if out is None else out + e
    return out


# ---------------------------------------------------------------- measurement


def fisher_ratio(feats: np.ndarray, y: np.ndarray) -> float:
    """tr(S_between) / tr(S_within) of features by class: larger = more separated classes."""
    mu = feats.mean(axis=0)
    sb = sw = 0.0
    for c in np.unique(y):
        fc = feats[y == c]
        mc = fc.mean(axis=0)
        sb += len(fc) * float(((mc - mu) ** 2).sum())
        sw += float(((fc - mc) ** 2).sum())
    return sb / sw if sw > 0 else math.inf


@torch.no_grad()
def _evaluate(model: torch.nn.Module, head: Any, split: TensorSplit, mean: torch.Tensor,
              std: torch.Tensor) -> tuple[float, np.ndarray, np.ndarray]:
    model.eval()
    correct, feats = 0, []
    for i in range(0, len(split), 1000):
        xb = normalize(split.x[i:i + 1000], mean, std)
        logits = model(xb)
        correct += int((logits.argmax(1) == split.y[i:i + 1000]).sum())
        feats.append(head.features().double().numpy())
    return correct / len(split), np.concatenate(feats), split.y.numpy()


def _fix_qr_(head: Any, seed: int) -> None:
    """Paper Eq. 2: W = Ŵ R with W ~ U(−1, 1)^{m×n}; V = Ŵᵀ has orthonormal rows; frozen, bias 0."""
    n, m = head.weight.shape
    g = torch.Generator().manual_seed(10_000 + seed)
    q, _ = torch.linalg.qr(torch.rand(m, n, generator=g, dtype=torch.float64) * 2 - 1)
    with torch.no_grad():
        head.module.weight.copy_(q.T.to(head.weight.dtype))
        if head.module.bias is not None:
            head.module.bias.zero_()
    for p in head.module.parameters():
        p.requires_grad_(False)


def train_one(v: Variant, seed: int, bundle: DataBundle, sched: Schedule,
              keep_features: bool = False) -> dict[str, Any]:
    """Train LeNet under ``v`` with ``seed`` (init, order, augmentation); return test metrics."""
    torch.manual_seed(seed)
    model = build_model(model_spec("lenet"), bundle.num_classes, bundle.in_channels)
    head = find_classifier(model).attach()
    if v.fixed_qr:
        _fix_qr_(head, seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=sched.lr, momentum=sched.momentum, weight_decay=sched.weight_decay)
    milestones = FinetuneConfig(output="-", epochs=sched.epochs).milestones()
    lr_sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    mean = torch.tensor(bundle.mean).view(-1, 1, 1)
    std = torch.tensor(bundle.std).view(-1, 1, 1)
    train = bundle.train
    assert isinstance(train, TensorSplit)
    n, t0 = len(train), time.perf_counter()
    re_sum = cls_sum = 0.0
    eps_curve = [compute_metrics(head.weight.detach().double().numpy()).epsilon]  # ε after each epoch
    for epoch in range(sched.epochs):
        model.train()
        plan = plan_epoch(n, seed, epoch, bundle.pad, bundle.flip)
        re_sum = cls_sum = 0.0
        steps = 0
        for i in range(0, n, sched.batch_size):
            sl = slice(i, i + sched.batch_size)
            idx = plan.order[sl]
            xb = apply_flip(random_crop(train.x[idx], bundle.pad, plan.dx[sl], plan.dy[sl]), plan.flip[sl])
            yb = train.y[idx]
            logits = model(normalize(xb, mean, std))
            alpha = head.features()
            loss = F.cross_entropy(logits, yb)
            cls_sum += loss.item()
            with torch.no_grad():  # L_re (paper form, T = 1) is logged for every variant
                re_sum += float(reconstruction_loss(alpha, yb, head.weight))
            aux = _aux_loss(v, alpha, yb, head.weight)
            if aux is not None:
                loss = loss + aux
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{v.name} seed {seed}: non-finite loss at epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        lr_sched.step()
        re_sum, cls_sum = re_sum / steps, cls_sum / steps
        eps_curve.append(compute_metrics(head.weight.detach().double().numpy()).epsilon)
    seconds = time.perf_counter() - t0
    acc, feats, ys = _evaluate(model, head, bundle.test, mean, std)
    vmat = head.weight.detach().double().numpy()
    mt = compute_metrics(vmat)
    out: dict[str, Any] = {
        "variant": v.name, "seed": seed, "config": asdict(v), "test_acc": acc,
        "epsilon": mt.epsilon, "epsilon_normalized": mt.epsilon_normalized,
        "cosine_mean": mt.cosine.mean if mt.cosine else 0.0, "row_norm_mean": mt.norms.mean,
        "etf_distance": mt.etf.distance if mt.etf else 0.0,
        "row_sum_ratio": head_diagnostics(vmat)["row_sum_ratio"],
        "fisher_ratio": fisher_ratio(feats, ys), "train_cls_loss": cls_sum, "train_re_loss": re_sum,
        "seconds": seconds, "epsilon_curve": eps_curve,
    }
    if keep_features:
        out["_features"], out["_targets"] = feats, ys
    return out


def run_cached(cache: Optional[Path], dataset: str, v: Variant, seed: int, bundle: DataBundle,
               sched: Schedule, keep_features: bool = False) -> dict[str, Any]:
    """:func:`train_one`, memoised on disk by (dataset and its loader settings, variant settings,
    seed, schedule).

    Lets ``ablation.py`` reuse the CE and λ-sweep runs of ``lenet_digits.py`` (same seeds, same
    code) instead of training them twice. Features are kept in a side ``.npz`` when asked for.
    """
    import hashlib
    import json

    if cache is None:
        return train_one(v, seed, bundle, sched, keep_features)
    settings = {k: val for k, val in asdict(v).items() if k != "name"}
    blob = json.dumps([dataset, bundle.describe(), settings, seed, asdict(sched)], sort_keys=True)
    key = hashlib.sha1(blob.encode()).hexdigest()[:16]
    jpath, fpath = cache / f"{key}.json", cache / f"{key}.npz"
    if jpath.is_file() and (not keep_features or fpath.is_file()):
        out = json.loads(jpath.read_text())
        out["variant"] = v.name
        if keep_features:
            with np.load(fpath) as z:
                out["_features"], out["_targets"] = z["features"], z["targets"]
        return out
    out = train_one(v, seed, bundle, sched, keep_features)
    cache.mkdir(parents=True, exist_ok=True)
    if keep_features:
        np.savez_compressed(fpath, features=out["_features"].astype(np.float32), targets=out["_targets"])
    jpath.write_text(json.dumps({k: val for k, val in out.items() if not k.startswith("_")}))
    return out


def _worker_init() -> None:
    torch.set_num_threads(1)


def run_many(tasks: list[tuple[Variant, int, bool]], dataset: str, bundle: DataBundle, sched: Schedule,
             cache: Optional[Path], jobs: int = 1) -> list[dict[str, Any]]:
    """:func:`run_cached` for each (variant, seed, keep_features), in order; ``jobs`` > 1 uses that
    many worker processes (one torch thread each). Progress goes to stderr."""
    import sys

    def log(r: dict[str, Any]) -> None:
        print(f"[{dataset}] {r['variant']:<24} seed {r['seed']}: acc {r['test_acc']:.4f}  "
              f"ε {r['epsilon']:.4g}  ({r['seconds']:.1f} s)", file=sys.stderr, flush=True)

    if jobs <= 1:
        out = []
        for v, s, keep in tasks:
            out.append(run_cached(cache, dataset, v, s, bundle, sched, keep))
            log(out[-1])
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init) as ex:
        futs = [ex.submit(run_cached, cache, dataset, v, s, bundle, sched, keep) for v, s, keep in tasks]
        out = []
        for f in futs:
            out.append(f.result())
            log(out[-1])
        return out
