"""FinetuneConfig (frozen, typed, JSON round trip), the lr schedule, and atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsep_cli.errors import ConfigError, TrainingError
from wsep_cli.finetune.atomic import atomic_path, atomic_write_text, check_writable
from wsep_cli.finetune.config import FinetuneConfig


def test_defaults_are_the_papers() -> None:
    c = FinetuneConfig(output="o")
    assert (c.lr, c.momentum, c.weight_decay, c.batch_size, c.epochs, c.lam) == (0.1, 0.9, 1e-4, 128, 300, 0.001)
    assert c.milestones() == [100, 200, 250]  # "divided by 10 in 100, 200, and 250 epochs"
    with pytest.raises(Exception):
        c.lr = 0.2  # type: ignore[misc]


def test_json_round_trip_and_refusals() -> None:
    c = FinetuneConfig(output="o", model="vgg16", data="cifar100", mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2),
                       lam=0.01, re_detach="weight", schedule="cosine")
    d = c.to_dict()
    assert d["lambda"] == 0.01 and "lam" not in d
    assert FinetuneConfig.from_dict(d) == c
    with pytest.raises(ConfigError, match="unknown"):
        FinetuneConfig.from_dict({**d, "lamda": 1})
    with pytest.raises(ConfigError, match="epochs"):
        FinetuneConfig.from_dict({**d, "epochs": "ten"})
    for bad in ({"epochs": 0}, {"lr": -1.0}, {"schedule": "linear"}, {"precision": "int8"}, {"device": "tpu"},
                {"mean": (0.5,)}, {"val_split": 1.5}):
        with pytest.raises(ConfigError):
            FinetuneConfig(output="o", **bad)  # type: ignore[arg-type]


def test_step_and_cosine_schedules() -> None:
    from wsep_cli.finetune.checkpoint import EpochSchedule

    step = EpochSchedule.from_config(FinetuneConfig(output="o"))
    assert [step.lr(e) for e in (0, 99, 100, 199, 200, 249, 250, 299)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001])
    cos = EpochSchedule.from_config(FinetuneConfig(output="o", schedule="cosine", epochs=10))
    assert cos.lr(0) == pytest.approx(0.1) and cos.lr(5) == pytest.approx(0.05) and cos.lr(9) < 0.003


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left behind
    atomic_write_text(target, "new")
    assert target.read_text() == "new"


def test_check_writable(tmp_path: Path) -> None:
    check_writable(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir() and not any((tmp_path / "a" / "b").iterdir())
    (tmp_path / "file").write_text("x")
    with pytest.raises(TrainingError, match="cannot write"):
        check_writable(tmp_path / "file" / "sub")
    with pytest.raises(TrainingError, match="free"):
        check_writable(tmp_path, need_bytes=2**62)
