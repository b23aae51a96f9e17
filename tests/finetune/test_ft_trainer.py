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


def _poison_at(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    calls = {"n": 0}

    def poisoned(logits, alpha, y, weight, loss):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        total, cls, re = loss_terms(logits, alpha, y, weight, loss)
        return (total * float("nan") if calls["n"] == call else total), cls, re

    monkeypatch.setattr(trainer_mod, "loss_terms", poisoned)


def test_nan_hint_on_an_fp32_run_before_any_checkpoint_is_true(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14.13: no '--precision fp32' advice on an fp32 run, no 'intact' checkpoint that does not exist."""
    _poison_at(monkeypatch, 2)
    with pytest.raises(TrainingError) as info:
        trainer_mod.run_finetune(_cfg(tmp_path / "o", precision="fp32"))
    text = str(info.value)
    assert "epoch 1, step 2" in text and "no checkpoint had been saved yet" in text
    assert "--precision fp32" not in text and "intact" not in text
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


def test_nan_hint_names_the_checkpoint_and_suggests_fp32_only_off_fp32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _poison_at(monkeypatch, 6 + 2)  # epoch 2, after checkpoint 1
    with pytest.raises(TrainingError) as info:
        trainer_mod.run_finetune(_cfg(tmp_path / "o", precision="bf16"))
    text = str(info.value)
    assert "checkpoint.pt (epoch 1) is intact" in text and "--precision fp32 (this run used bf16)" in text


def test_a_failed_start_leaves_no_empty_output_folder(tmp_path: Path) -> None:
    """Issue 14.13: the --init file is unreadable (exit 4) after the output folder was created."""
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not a checkpoint")
    out = tmp_path / "a" / "b"
    with pytest.raises(Exception):
        trainer_mod.run_finetune(_cfg(out, init=str(bad)))
    assert not (tmp_path / "a").exists()


def test_outputs_get_the_mode_the_umask_gives(tmp_path: Path) -> None:
    """Issue 14.13: 0644 under umask 022 (tempfile.mkstemp made every output 0600)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        trainer_mod.run_finetune(_cfg(tmp_path / "o", epochs=1))
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "o").iterdir()}
    assert modes and all(m == 0o644 for m in modes.values()), modes
