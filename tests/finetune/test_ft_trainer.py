"""The trainer in-process: Rich progress, a non-finite loss leaving the last good checkpoint intact."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from ft_helpers import metrics, weights

torch = pytest.importorskip("torch")

from wsep_cli.errors import TrainingError  # noqa: E402
from wsep_cli.finetune import trainer as trainer_mod  # noqa: E402
from wsep_cli.finetune.config import FinetuneConfig  # noqa: E402
from wsep_cli.finetune.steps import loss_terms  # noqa: E402


def _cfg(out: Path, **kw: object) -> FinetuneConfig:
    base = dict(output=str(out), model="lenet", data="digits", epochs=2, batch_size=256, device="cpu")
    base.update(kw)
    return FinetuneConfig(**base)  # type: ignore[arg-type]


def test_rich_progress_run_in_process(tmp_path: Path) -> None:
    from rich.console import Console

    from wsep_cli.finetune.progress import RichReporter

    buf = io.StringIO()
    rep = RichReporter(Console(file=buf, force_terminal=True, width=120))
    summary = trainer_mod.run_finetune(_cfg(tmp_path / "o", epochs=1), rep)
    assert summary.epochs_done == 1 and not summary.interrupted
    text = buf.getvalue()
    assert "classifier fc3.weight" in text and "epoch 1" in text and "eps" in text


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    steps_per_epoch = 6  # 1437 digits / batch 256 -> 5 full + 1 partial

    def poisoned(logits, alpha, y, weight, loss):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        total, cls, re = loss_terms(logits, alpha, y, weight, loss)
        if calls["n"] == steps_per_epoch + 3:  # third step of epoch 2
            total = total * float("nan")
        return total, cls, re

    monkeypatch.setattr(trainer_mod, "loss_terms", poisoned)
    out = tmp_path / "o"
    with pytest.raises(TrainingError, match="epoch 2, step 3"):
        trainer_mod.run_finetune(_cfg(out))
    assert [r["epoch"] for r in metrics(out)] == [1]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and state["step"] == 0
    saved = weights(out / "model.safetensors")
    assert all(np.isfinite(v).all() for v in saved.values() if v.dtype.kind == "f")
    assert all(np.array_equal(saved[k], v.numpy()) for k, v in state["model"].items())


def test_sums_from_a_nan_are_caught_by_the_check() -> None:
    from wsep_cli.finetune.runtime import Runtime
    from wsep_cli.finetune.steps import _check

    rt = Runtime(torch.device("cpu"), "fp32")
    assert _check(torch.tensor([1.0, 1.0, 1.0, 0.0, 4.0]), True, rt, 0, 0) is True
    with pytest.raises(TrainingError):
        _check(torch.tensor([float("inf"), 1.0, 1.0, 0.0, 4.0]), False, rt, 0, 0)
