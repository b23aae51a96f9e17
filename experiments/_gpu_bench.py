"""Throughput of ``wsep finetune``'s own training step for ``table1_gpu.py`` (issue 16, point 3a).

Times :func:`wsep_cli.finetune.steps.train_step` (what the trainer runs) on device-resident
CIFAR-10-shaped uint8 data with the trainer's batched crop + flip (:class:`TensorBatches`): ResNet-32,
CE vs CE + L_re, per batch size, bf16 autocast and channels_last on CUDA, eager and ``torch.compile``d
(compile time measured separately: the first steps of a compiled model minus steady-state steps).
Settings are timed in interleaved blocks (A B B A ...), and the median block is reported.

Also the concurrency probe: ``probe_worker`` runs in P processes at once (``table1_gpu.py --probe-worker``)
to measure whether several trainings placed on the one GPU raise the total images/s.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from wsep_cli.finetune.batches import TensorBatches
from wsep_cli.finetune.config import FinetuneConfig
from wsep_cli.finetune.data import load_data
from wsep_cli.finetune.head import find_classifier
from wsep_cli.finetune.models import build_model, model_spec
from wsep_cli.finetune.steps import LossSettings, loss_terms, train_step

__all__ = ["BenchPlan", "bench", "probe_worker"]


@dataclass(frozen=True)
class BenchPlan:
    model: str = "resnet32"
    batch_sizes: tuple[int, ...] = (128, 512)
    compile_modes: tuple[bool, ...] = (False, True)
    warmup: int = 15
    block_s: float = 1.5  # seconds per timed block (at least min_steps steps)
    min_steps: int = 5
    repeats: int = 3


class _Setup:
    """One model (eager or compiled) at one batch size; CE and CE + L_re share it."""

    def __init__(self, plan: BenchPlan, device: torch.device, batch: int, compiled: bool) -> None:
        cfg = FinetuneConfig(output="-", model=plan.model, data=f"synthetic:{batch * 8}")
        spec = model_spec(plan.model)
        bundle = load_data(cfg, spec)
        cl = device.type == "cuda"
        self.batches = TensorBatches(bundle.train, bundle, device, batch, train=True, seed=0,  # type: ignore[arg-type]
                                     channels_last=cl)
        torch.manual_seed(0)
        self.net = build_model(spec, 10, 3).to(device, memory_format=torch.channels_last if cl else torch.preserve_format)
        self.head = find_classifier(self.net).attach()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
        self.model: torch.nn.Module = torch.compile(self.net) if compiled else self.net  # type: ignore[assignment]
        self.terms: Callable[..., Any] = torch.compile(loss_terms) if compiled else loss_terms
        self.device, self.batch = device, batch
        self.dtype = torch.bfloat16 if cl else None
        self._stream = self._cycle()

    def _cycle(self):  # type: ignore[no-untyped-def]
        epoch = 0
        while True:
            yield from self.batches.epoch(epoch)
            epoch += 1

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def steps(self, lre: bool, n: int) -> float:
        """Seconds for ``n`` training steps (synchronised at both ends)."""
        loss = LossSettings(lam=0.001 if lre else 0.0, track_re=False)
        self.sync()
        t0 = time.perf_counter()
        for _ in range(n):
            x, y = next(self._stream)
            train_step(self.model, self.head, self.opt, x, y, loss, autocast_dtype=self.dtype, terms=self.terms)
        self.sync()
        return time.perf_counter() - t0


def bench(plan: BenchPlan, device: torch.device, deadline: float, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One row per (compiled, batch, loss): img/s (median and best block), warm-up/compile seconds,
    and for CE + L_re the step-time overhead over CE in %. Settings that do not fit before
    ``deadline`` (``time.perf_counter()`` value) are recorded as skipped."""
    rows: list[dict[str, Any]] = []
    for compiled in plan.compile_modes:
        for batch in plan.batch_sizes:
            key = {"compiled": compiled, "batch_size": batch, "precision": "bf16" if device.type == "cuda" else "fp32",
                   "channels_last": device.type == "cuda"}
            if time.perf_counter() > deadline - (90 if compiled and device.type == "cuda" else 0):  # a compile takes ~1 min
                rows += [{**key, "loss": name, "skipped": "out of time"} for name in ("CE", "CE + L_re")]
                continue
            try:
                rows += _one(plan, device, batch, compiled, key, log)
            except Exception as e:  # noqa: BLE001 - a failed compile must not cost the Table 1 runs
                log(f"bench {key}: failed: {type(e).__name__}: {e}")
                rows += [{**key, "loss": name, "error": f"{type(e).__name__}: {e}"[:500]} for name in ("CE", "CE + L_re")]
    return rows


def _one(plan: BenchPlan, device: torch.device, batch: int, compiled: bool, key: dict[str, Any],
         log: Callable[[str], None]) -> list[dict[str, Any]]:
    s = _Setup(plan, device, batch, compiled)
    warm = {}
    for lre in (False, True):  # the first steps include compilation (per loss: the terms recompile)
        warm[lre] = s.steps(lre, plan.warmup)
    probe = s.steps(False, plan.min_steps) / plan.min_steps
    n = max(plan.min_steps, int(plan.block_s / max(probe, 1e-6)))
    blocks: dict[bool, list[float]] = {False: [], True: []}
    for r in range(plan.repeats):
        for lre in ((False, True) if r % 2 == 0 else (True, False)):
            blocks[lre].append(n * batch / s.steps(lre, n))
    out = []
    for lre in (False, True):
        med = statistics.median(blocks[lre])
        steady = batch / med
        row = {**key, "loss": "CE + L_re" if lre else "CE", "images_per_second": med,
               "images_per_second_best": max(blocks[lre]), "blocks": blocks[lre], "steps_per_block": n,
               "warmup_s": warm[lre], "compile_s": max(warm[lre] - plan.warmup * steady, 0.0) if compiled else None}
        if lre:
            row["lre_overhead_pct"] = 100 * (statistics.median(blocks[False]) / med - 1)
        out.append(row)
        log(f"bench {'compiled' if compiled else 'eager'} batch {batch} {row['loss']}: {med:.0f} img/s"
            + (f" (compile {row['compile_s']:.1f} s)" if compiled else "")
            + (f", L_re overhead {row['lre_overhead_pct']:+.1f}%" if lre else ""))
    del s
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def probe_worker(device: str, model: str, batch: int, go: Path, seconds: float, out: Path) -> None:
    """Warm up, write ``out.ready``, wait for the file ``go`` (it holds a time.time() start), then train
    CE steps for ``seconds`` and write img/s to ``out``.

    Several of these at once on one GPU measure the total throughput of concurrent runs.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    s = _Setup(BenchPlan(model=model), dev, batch, compiled=False)
    s.steps(False, 10 if dev.type == "cuda" else 2)  # warm-up, cudnn autotuning
    out.with_suffix(".ready").write_text("ready")
    limit = time.time() + 120
    while not go.is_file() and time.time() < limit:
        time.sleep(0.01)
    start_at = float(go.read_text())
    while time.time() < start_at:
        time.sleep(0.002)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        s.steps(False, 5)
        n += 5
    dt = time.perf_counter() - t0
    out.write_text(json.dumps({"images_per_second": n * batch / dt, "steps": n, "seconds": dt}))


def bench_plan_dict(plan: BenchPlan) -> dict[str, Any]:
    return asdict(plan)


def choose_parallel(probe: dict[int, Optional[float]]) -> int:
    """The process count with the highest total img/s (ties -> fewer processes)."""
    ok = {p: v for p, v in probe.items() if v}
    return max(sorted(ok), key=lambda p: ok[p]) if ok else 1
