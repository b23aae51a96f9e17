"""Crash consistency (issue 15, part 1): a run killed, signalled or out of disk at any instant of its
life leaves a folder that ``--resume`` continues to the result of an uninterrupted run: the same
final weights bit for bit, and the same ``metrics.jsonl`` line for line (timings excepted).

The instants are the run's own (:mod:`wsep_cli.finetune.faults`): every optimisation step, and inside
every atomic write the moments between write and rename and just after the rename. The runs are
real child processes (:mod:`ft_crash`), killed by a real SIGKILL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ft_crash import SETTINGS, metrics_without_timings, run
from ft_helpers import bit_identical, weights

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """An uninterrupted run, and the names of its instants in order (instant N is names[N - 1])."""
    base = tmp_path_factory.mktemp("reference")
    trace = base / "trace.txt"
    code, message = run(base / "run", trace=trace)
    assert code == 0, message
    names = [line.split(" ", 1)[1] for line in trace.read_text().splitlines()]
    return base / "run", names


def _instants(names: list[str]) -> list[int]:
    """Every write instant, plus steps spread over both epochs (first, middle, last of each)."""
    writes = [i + 1 for i, n in enumerate(names) if n != "step"]
    steps = [i + 1 for i, n in enumerate(names) if n == "step"]
    per_epoch = len(steps) // SETTINGS["epochs"]
    picked = {steps[e * per_epoch + k] for e in range(SETTINGS["epochs"]) for k in (0, per_epoch // 2, per_epoch - 1)}
    return sorted(set(writes) | picked)


def _check_folder_is_consistent(out: Path) -> None:
    """The invariant of commit.py at the instant of the crash: no record without its checkpoint."""
    if not (out / "config.json").exists():  # killed before the run wrote anything of its own
        assert not any((out / n).exists() for n in ("checkpoint.pt", "metrics.jsonl", "model.safetensors"))
        return
    rows = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else []
    if not (out / "checkpoint.pt").exists():
        assert rows == [] and not (out / "model.safetensors").exists()
        return
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert len(rows) <= state["epoch"], f"metrics.jsonl has {len(rows)} rows, the checkpoint {state['epoch']} epochs"
    assert [json.loads(r) for r in rows] == state["metrics"][: len(rows)]
    if (out / "model.safetensors").exists():
        from safetensors import safe_open

        with safe_open(str(out / "model.safetensors"), "np") as f:
            assert int(f.metadata()["epoch"]) in (state["epoch"], state["epoch"] - 1)


def _recover_and_compare(out: Path, reference: Path) -> None:
    """Continue the run the way a user would, then compare it with the uninterrupted one."""
    resumable = (out / "config.json").exists()
    code, message = run(out, resume=resumable)
    assert code == 0, f"{'--resume' if resumable else 'a new run'} failed: {message}"
    assert bit_identical(weights(out / "model.safetensors"), weights(reference / "model.safetensors"))
    assert metrics_without_timings(out) == metrics_without_timings(reference)
    assert not list(out.glob(".*.tmp")), "a temporary file of a killed write survived the resume"


def test_sigkill_at_every_write_instant_and_through_the_epochs_resumes_identically(
        tmp_path: Path, reference: tuple[Path, list[str]]) -> None:
    ref, names = reference
    instants = _instants(names)
    assert len(instants) >= 20 and any(names[n - 1] == "checkpoint.pt:written" for n in instants)
    for n in instants:
        out = tmp_path / f"kill{n}"
        code, message = run(out, hook=f"kill@{n}")
        assert code == -9, f"instant {n} ({names[n - 1]}): the run was not killed ({code}: {message})"
        _check_folder_is_consistent(out)
        _recover_and_compare(out, ref)


@pytest.mark.parametrize("action,codes", [("term", (143, -15)), ("int", (130,))])
def test_sigterm_and_sigint_inside_writes_and_steps_resume_identically(
        tmp_path: Path, reference: tuple[Path, list[str]], action: str, codes: tuple[int, ...]) -> None:
    ref, names = reference
    steps = [i + 1 for i, n in enumerate(names) if n == "step"]
    chosen = [names.index("config.json:written") + 1, steps[5], names.index("checkpoint.pt:written") + 1,
              names.index("model.safetensors:written") + 1, steps[-3], len(names) - 3]
    for n in chosen:
        out = tmp_path / f"{action}{n}"
        code, message = run(out, hook=f"{action}@{n}")
        assert code in codes, f"{action} at instant {n} ({names[n - 1]}): exit {code} ({message})"
        _check_folder_is_consistent(out)
        _recover_and_compare(out, ref)


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(
        tmp_path: Path, reference: tuple[Path, list[str]]) -> None:
    ref, names = reference
    second = [i + 1 for i, n in enumerate(names) if n == "checkpoint.pt:written"][1]
    out = tmp_path / "full"
    code, message = run(out, hook=f"enospc@{second}")
    assert code == 2
    assert "checkpoint.pt: cannot write (No space left on device)" in message
    assert "(the previous one, epoch 1) is intact" in message and f"--resume {out}" in message
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1
    _recover_and_compare(out, ref)


@pytest.mark.parametrize("target", ["model.safetensors:written", "metrics.jsonl:written"])
def test_disk_full_on_the_other_outputs_says_the_checkpoint_is_safe(
        tmp_path: Path, reference: tuple[Path, list[str]], target: str) -> None:
    ref, names = reference
    n = names.index(target, names.index("checkpoint.pt:written")) + 1
    out = tmp_path / "full"
    code, message = run(out, hook=f"enospc@{n}")
    assert code == 2 and "No space left on device" in message and "(the previous one, epoch 1) is intact" in message
    _recover_and_compare(out, ref)


def test_a_real_write_failure_on_the_first_checkpoint_says_nothing_was_saved(
        tmp_path: Path, reference: tuple[Path, list[str]]) -> None:
    """The kernel refuses the write (RLIMIT_FSIZE below the checkpoint's size: EFBIG), inside torch.save."""
    ref, _ = reference
    size = (ref / "checkpoint.pt").stat().st_size
    assert (ref / "model.safetensors").stat().st_size < size // 2
    out = tmp_path / "limited"
    code, message = run(out, fsize=size // 2)
    assert code == 2, message
    assert "checkpoint.pt: cannot write (File too large)" in message and "no checkpoint has been saved yet" in message
    assert not (out / "checkpoint.pt").exists() and not list(out.glob(".*.tmp"))
    _recover_and_compare(out, ref)  # --resume: config.json and no checkpoint starts the run over
