"""Training throughput of ``wsep finetune``'s own step: images/s for CE alone vs CE + L_re, eager vs
compiled, fp32 vs bf16, on the current device (issue 5, "Finetune").

    python benchmarks/finetune_throughput.py --model resnet32 --data synthetic
    python benchmarks/finetune_throughput.py --profile          # where a CPU step's time goes

It times :func:`wsep_cli.finetune.steps.train_step` on device-resident synthetic CIFAR-shaped data
with the trainer's batched augmentation (:class:`~wsep_cli.finetune.batches.TensorBatches`), so the
figures are the trainer's. Configurations are interleaved (A B B A ...) and the best and
median of ``--repeats`` blocks are reported: other jobs on a shared machine only ever slow a block
down, so the best block is the cleanest CE vs CE + L_re comparison. Defaults: on CUDA every combination (one run < 5 min on an H100: two compilations of
~1 min each); on the CPU eager fp32 only (``--precisions fp32,bf16`` and ``--compile`` add the others; CPU bf16
without native support is ~20x slower and compiling takes minutes per graph).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from wsep_cli.finetune.batches import TensorBatches
from wsep_cli.finetune.config import FinetuneConfig
from wsep_cli.finetune.data import load_data
from wsep_cli.finetune.head import find_classifier
from wsep_cli.finetune.models import build_model, model_spec
from wsep_cli.finetune.steps import LossSettings, loss_terms, train_step


@dataclass(frozen=True)
class Setting:
    compiled: bool
    precision: str  # fp32 | bf16
    lre: bool

    @property
    def label(self) -> str:
        return f"{'compiled' if self.compiled else 'eager':8s} {self.precision:4s} {'CE + L_re' if self.lre else 'CE':9s}"


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, load avg {load:.1f}, torch {torch.__version__}"


class Bench:
    """One model per compile mode (the loss sits outside the compiled graph, so CE and CE + L_re share it)."""

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        cfg = FinetuneConfig(output="-", model=args.model, data=f"synthetic:{args.batch_size * 20}")
        spec = model_spec(args.model)
        bundle = load_data(cfg, spec)
        cl = device.type == "cuda"
        self.batches = TensorBatches(bundle.train, bundle, device, args.batch_size, train=True, seed=0,
                                     channels_last=cl)  # type: ignore[arg-type]
        self.device, self.args = device, args
        self.models: dict[bool, tuple[Any, Any, Any, Any]] = {}
        torch.manual_seed(0)
        net = build_model(spec, bundle.num_classes, bundle.in_channels).to(
            device, memory_format=torch.channels_last if cl else torch.preserve_format)
        head = find_classifier(net).attach()
        opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
        self.models[False] = (net, head, opt, loss_terms)
        if args.compile:  # as ``wsep finetune --compile``: the model and the loss terms
            self.models[True] = (torch.compile(net), head, opt, torch.compile(loss_terms))
        self._stream = self._cycle()

    def _cycle(self):  # type: ignore[no-untyped-def]
        epoch = 0
        while True:
            yield from self.batches.epoch(epoch)
            epoch += 1

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, s: Setting, steps: int) -> float:
        model, head, opt, terms = self.models[s.compiled]
        loss = LossSettings(lam=0.001 if s.lre else 0.0, track_re=False)
        dtype = torch.bfloat16 if s.precision == "bf16" else None
        batches = [next(self._stream) for _ in range(steps)]
        self.sync()
        t0 = time.perf_counter()
        for x, y in batches:
            train_step(model, head, opt, x, y, loss, autocast_dtype=dtype, terms=terms)
        self.sync()
        return steps * self.args.batch_size / (time.perf_counter() - t0)


def throughput(args: argparse.Namespace, device: torch.device, out: Callable[[str], None]) -> dict[Setting, float]:
    """Best and median images/s per setting over interleaved blocks; returns the best step seconds."""
    bench = Bench(args, device)
    settings = [Setting(c, p, lre) for c in ([False, True] if args.compile else [False])
                for p in args.precisions for lre in (False, True)]
    t0 = time.perf_counter()
    for s in settings:  # warm-up (and compilation) outside the timed blocks
        bench.run(s, args.warmup)
    out(f"warm-up and compilation: {time.perf_counter() - t0:.1f} s")
    results: dict[Setting, list[float]] = {s: [] for s in settings}
    for r in range(args.repeats):  # A B B A ...: cancels drift and any first/second-in-pair effect
        for s in (settings if r % 2 == 0 else settings[::-1]):
            results[s].append(bench.run(s, args.steps))
    # Other jobs only ever slow a block down, so the best block is the least disturbed estimate.
    out(f"{'setting':27s} {'best img/s':>10s} {'median':>8s} {'worst':>8s}  L_re cost (best vs best)")
    for s in settings:
        best, med = max(results[s]), statistics.median(results[s])
        note = ""
        if s.lre:
            base = max(results[Setting(s.compiled, s.precision, False)])
            note = f"{100 * (base / best - 1):+.1f}% step time"
        out(f"{s.label:27s} {best:10.0f} {med:8.0f} {min(results[s]):8.0f}  {note}")
    return {s: args.batch_size / max(results[s]) for s in settings}


def isolated_lre(args: argparse.Namespace, device: torch.device, out: Callable[[str], None],
                 step_s: float | None = None) -> None:
    """L_re forward + backward alone, at the trainer's shapes (B x m features, n x m head)."""
    from wsep_cli.finetune.loss import reconstruction_loss

    spec = model_spec(args.model)
    net = build_model(spec, 10, 3)
    m = find_classifier(net).weight.shape[1]
    alpha = torch.randn(args.batch_size, m, device=device, requires_grad=True)
    v = torch.randn(10, m, device=device, requires_grad=True)
    y = torch.randint(0, 10, (args.batch_size,), device=device)
    for _ in range(20):
        reconstruction_loss(alpha, y, v).backward()
    n, blocks = 100, []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            reconstruction_loss(alpha, y, v).backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        blocks.append((time.perf_counter() - t0) / n)
    line = f"L_re forward + backward alone (B={args.batch_size}, m={m}, n=10): {1e3 * min(blocks):.3f} ms (best of 5 x {n})"
    if step_s:
        line += f" = {100 * min(blocks) / step_s:.2f}% of the best CE step ({1e3 * step_s:.1f} ms)"
    out(line)


def profile(args: argparse.Namespace, device: torch.device, out: Callable[[str], None]) -> None:
    from torch.profiler import ProfilerActivity, profile as tprofile

    bench = Bench(args, device)
    s = Setting(False, "fp32", True)
    bench.run(s, args.warmup)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with tprofile(activities=acts) as prof:
        bench.run(s, args.steps)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    out(prof.key_averages().table(sort_by=key, row_limit=args.top))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resnet32")
    ap.add_argument("--data", default="synthetic", choices=["synthetic"])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=None, help="timed steps per block (default 50 GPU / 5 CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 15 GPU / 2 CPU)")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks per setting (default 5 GPU / 7 CPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="include compiled settings (default: on CUDA only)")
    ap.add_argument("--precisions", default=None, help="default fp32,bf16 on CUDA, fp32 on the CPU")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--profile", action="store_true", help="torch.profiler table of CE + L_re steps")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    cuda = device.type == "cuda"
    args.steps = args.steps or (50 if cuda else 3)
    args.warmup = args.warmup or (15 if cuda else 2)
    args.repeats = args.repeats or (5 if cuda else 7)
    args.compile = cuda if args.compile is None else args.compile
    args.precisions = [p for p in (args.precisions or ("fp32,bf16" if cuda else "fp32")).split(",") if p]
    if cuda:
        torch.backends.cudnn.benchmark = True
    out = lambda line: print(line, flush=True)  # noqa: E731
    if args.threads:
        torch.set_num_threads(args.threads)
    out(f"# finetune_throughput: {args.model}, batch {args.batch_size}, {device}: {machine(device)}")
    out(f"# command: python benchmarks/finetune_throughput.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    step_s = None
    if args.profile:
        profile(args, device, out)
    else:
        best = throughput(args, device, out)
        step_s = best.get(Setting(False, "fp32", False))
    isolated_lre(args, device, out, step_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
