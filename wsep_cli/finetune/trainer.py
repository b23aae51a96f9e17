"""``wsep finetune``: train (or evaluate) any supported model with L_cls + lambda * L_re.

Stages: setup (runtime, seeds, output folder) -> data -> network (build, --init, locate the
classifier, DDP/compile) -> resume -> epochs (train, evaluate, epsilon, save) -> finish.
Every epoch ends with checkpoint.pt, then model.safetensors, then metrics.jsonl written (the order of
:mod:`wsep_cli.finetune.commit`), so a crash at any instant costs at most one epoch and ``--resume``
continues to the same result; SIGINT/SIGTERM stop after the current step and save a mid-epoch checkpoint.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, Optional

import torch

from wsep_cli.errors import TrainingError
from wsep_cli.finetune import faults
from wsep_cli.finetune import outputs as io
from wsep_cli.finetune.atomic import remove_if_empty
from wsep_cli.finetune.batches import make_batches
from wsep_cli.finetune.checkpoint import EpochSchedule, load_checkpoint, save_checkpoint, save_model, set_rng_state
from wsep_cli.finetune.commit import Saved, nonfinite_loss, rows_from_checkpoint, write_failure
from wsep_cli.finetune.config import FinetuneConfig
from wsep_cli.finetune.data import load_data
from wsep_cli.finetune.head import find_classifier
from wsep_cli.finetune.models import build_model, model_spec
from wsep_cli.finetune.progress import NullReporter, Reporter
from wsep_cli.finetune.runtime import Runtime, all_reduce_sum, setup_runtime, teardown
from wsep_cli.finetune.steps import LossSettings, NonFiniteLoss, evaluate, loss_terms, train_epoch
from wsep_cli.finetune.summary import RunSummary, classifier_epsilon
from wsep_cli.finetune.weights import load_init

__all__ = ["RunSummary", "run_finetune", "classifier_epsilon"]


def run_finetune(cfg: FinetuneConfig, reporter: Optional[Reporter] = None, *, resume: bool = False,
                 overwrite: bool = False) -> RunSummary:
    """Run ``cfg`` to completion (or interruption). Raises WsepError subclasses for user errors."""
    faults.reset()
    rt = setup_runtime(cfg.device, cfg.precision)
    rep: Reporter = reporter if reporter is not None and rt.is_main else NullReporter()
    created: list[Path] = []
    try:
        summary = _Run(cfg, rt, rep, resume, overwrite, created).run(resume)
        return summary if rt.is_main else RunSummary(summary.output, summary.epochs_done, summary.last, rank=rt.rank)
    except BaseException:
        remove_if_empty(created)  # a run that failed before writing anything leaves no empty folder
        raise
    finally:
        rep.close()
        teardown(rt)


class _Run:
    def __init__(self, cfg: FinetuneConfig, rt: Runtime, rep: Reporter, resume: bool, overwrite: bool,
                 created: list[Path]) -> None:
        self.cfg, self.rt, self.rep = cfg, rt, rep
        self.out = Path(cfg.output)
        # --resume on a folder killed before its first checkpoint starts over with the stored settings
        self.resume = resume and (self.out / io.CHECKPOINT).is_file()
        self.rows: list[dict[str, Any]] = []  # metrics of the completed epochs (the checkpoint holds them too)
        self.saved: Optional[Saved] = None  # where the durable checkpoint stands
        # ---- setup: output folder first, so a bad folder fails before any work ----
        if rt.is_main:
            created.extend(io.prepare_output(self.out, resume, overwrite))
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        import numpy as np

        np.random.seed(cfg.seed % 2**32)
        # ---- data ----
        self.spec = model_spec(cfg.model)
        self.data = load_data(cfg, self.spec, need_train=not cfg.eval_only)
        # ---- network ----
        self.net = build_model(self.spec, self.data.num_classes, self.data.in_channels)
        self.init_report = (load_init(self.net, cfg.init, require_complete=cfg.eval_only and not cfg.partial_init)
                            if cfg.init and not self.resume else None)
        arch = _timm_classifiers(self.spec.timm_arch) or None
        self.head = find_classifier(self.net, layer=cfg.layer, arch_classifiers=arch).attach()
        cuda = rt.device.type == "cuda"
        self.channels_last = cuda and cfg.channels_last
        self.net.to(rt.device, memory_format=torch.channels_last if self.channels_last else torch.preserve_format)
        self.schedule = EpochSchedule.from_config(cfg)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                         weight_decay=cfg.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda") if rt.precision == "fp16" else None
        self.loss = LossSettings(cfg.lam, cfg.re_temperature, cfg.detach, cfg.label_smoothing)
        self.epoch, self.step, self.partial = 0, 0, {}
        if self.resume:
            self._restore()
        self.train_model: torch.nn.Module = self.net
        if rt.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.train_model = DDP(self.net, device_ids=[rt.device.index] if cuda else None)
        self.eval_model: torch.nn.Module = self.net
        self.terms = loss_terms
        if cfg.compile:  # the model, and the loss terms so that L_re's small kernels fuse
            self.train_model = torch.compile(self.train_model)  # type: ignore[assignment]
            self.eval_model = self.train_model if not rt.distributed else self.net
            self.terms = torch.compile(loss_terms)
        kw = dict(seed=cfg.seed, rank=rt.rank, world=rt.world, workers=cfg.workers, channels_last=self.channels_last)
        per_rank = cfg.batch_size
        if rt.world > cfg.batch_size:
            raise TrainingError(f"--batch-size {cfg.batch_size} is smaller than the {rt.world} processes")
        self.test_b = make_batches(self.data.test, self.data, rt.device, per_rank, train=False, **kw)  # type: ignore[arg-type]
        self.train_b = (make_batches(self.data.train, self.data, rt.device, per_rank, train=True, **kw)  # type: ignore[arg-type]
                        if self.data.train is not None else None)

    # ---- resume ----
    def _restore(self) -> None:
        state = load_checkpoint(self.out / io.CHECKPOINT)
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.epoch, self.step, self.partial = int(state["epoch"]), int(state["step"]), dict(state["partial"])
        self.rows = rows_from_checkpoint(state, io.read_metrics(self.out))
        self.saved = Saved(self.epoch, self.step)

    def resolved(self) -> dict[str, Any]:
        n_params = sum(p.numel() for p in self.net.parameters())
        return {"runtime": self.rt.describe(), "data": self.data.describe(),
                "model": {"name": self.cfg.model, "parameters": n_params, "classifier": self.head.key,
                          "classifier_shape": list(self.head.weight.shape), "located_by": self.head.located_by,
                          "reason": self.head.reason},
                "init": self.init_report.to_dict() if self.init_report else None,
                "milestones": list(self.schedule.milestones)}

    def run(self, resume_requested: bool = False) -> RunSummary:
        if self.rt.is_main:
            if not self.resume:  # a fresh start (or --overwrite): no checkpoint of another run may survive it
                (self.out / io.CHECKPOINT).unlink(missing_ok=True)
            if resume_requested and not self.resume:
                self.rep.message(f"no {io.CHECKPOINT} in {self.out} yet: the run starts from its beginning, "
                                 f"with the settings in {io.CONFIG}")
            self._write(io.CONFIG, lambda: io.write_config(self.out, self.cfg, self.resolved()))
            if self.init_report:
                self.rep.message(self.init_report.summary())
            self.rep.message(f"classifier {self.head.key} {tuple(self.head.weight.shape)} "
                             f"({self.head.located_by}: {self.head.reason}); device {self.rt.device}, {self.rt.precision}")
            if self.data.form and self.data.form != "official (lossless)" and self.data.source.kind.startswith("cifar10"):
                self.rep.message(f"data: {self.data.form}, from {', '.join(self.data.files)}")
        if self.cfg.eval_only:
            return self._eval_only()
        stop = io.StopSignal().install()
        try:
            return self._epochs(stop)
        finally:
            stop.restore()

    def _eval_only(self) -> RunSummary:
        test_loss, test_acc, n = evaluate(self.eval_model, self.test_b, self.rt)  # type: ignore[arg-type]
        eps, eps_n = classifier_epsilon(self.head.weight)
        row = {"epoch": 0, "test_loss": test_loss, "test_acc": test_acc, "test_images": n,
               "epsilon": eps, "epsilon_normalized": eps_n}
        if self.rt.is_main:
            io.write_metrics(self.out, [row])
            self.rep.epoch_end(row)
        return RunSummary(self.out, 0, row, init=self.init_report, eval_only=True)

    def _epochs(self, stop: io.StopSignal) -> RunSummary:
        assert self.train_b is not None
        rows = self.rows
        if self.rt.is_main:  # repair what a crash may have left half done (commit.py): rows past the
            # checkpoint go, and at an epoch boundary the model file is rewritten from the checkpoint
            self._write(io.METRICS, lambda: io.write_metrics(self.out, rows))
            if self.resume and self.step == 0:
                self._write(io.MODEL, lambda: save_model(self.out / io.MODEL, self.net, self._metadata()))
        check_every = 1 if self.rt.device.type == "cpu" else 10
        last: dict[str, Any] = rows[-1] if rows else {}
        if self.resume and self.epoch >= self.cfg.epochs and self.step == 0:
            if self.rt.is_main and not (self.out / io.CURVES).exists():
                io.plot_curves(self.out, rows)
            return RunSummary(self.out, self.epoch, last, init=self.init_report, already_done=True)
        while self.epoch < self.cfg.epochs:
            epoch, lr = self.epoch, self.schedule.lr(self.epoch)
            for g in self.optimizer.param_groups:
                g["lr"] = lr
            sums = torch.tensor(self.partial.get("sums", [0.0] * 5), dtype=torch.float64, device=self.rt.device)
            seconds0 = float(self.partial.get("seconds", 0.0))
            self.partial = {}  # a mid-epoch resume's partial sums belong to this epoch only
            self.rep.epoch_start(epoch, self.cfg.epochs, self.train_b.steps, self.step)
            t0 = time.perf_counter()
            try:
                outcome = train_epoch(self.train_model, self.head, self.optimizer, self.train_b, epoch, self.step,
                                      sums, self.loss, self.rt, self.rep, stop, scaler=self.scaler,
                                      check_every=check_every, terms=self.terms)
            except NonFiniteLoss as e:
                raise TrainingError(nonfinite_loss(e.epoch, e.step, self.rt.precision, self.saved)) from e
            train_s = seconds0 + time.perf_counter() - t0
            if outcome.interrupted:
                self.step = outcome.steps_done
                self._save({"sums": sums.tolist(), "seconds": train_s})
                return self._stopped(last, stop, rows)
            last = self._finish_epoch(epoch, lr, sums, train_s)
            if stop.requested:
                return self._stopped(last, stop, rows)
        if self.rt.distributed:
            self._verify_ranks()
        if self.rt.is_main:
            io.plot_curves(self.out, rows)
        return RunSummary(self.out, self.epoch, last, init=self.init_report)

    def _verify_ranks(self) -> None:
        """All ranks must hold the same weights; rank 0 records each rank's digest in ddp_ranks.json."""
        import hashlib
        import json

        h = hashlib.sha256()
        for k, v in sorted(self.net.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().to("cpu").contiguous().numpy().tobytes())
        digests: list[Any] = [None] * self.rt.world
        torch.distributed.all_gather_object(digests, h.hexdigest())
        if self.rt.is_main:
            from wsep_cli.finetune.atomic import atomic_write_text

            atomic_write_text(self.out / "ddp_ranks.json",
                              json.dumps({"world_size": self.rt.world, "state_sha256": digests}, indent=2) + "\n")
        if len(set(digests)) != 1:
            raise TrainingError(f"the {self.rt.world} DDP processes ended with different weights: {digests}")

    def _finish_epoch(self, epoch: int, lr: float, sums: torch.Tensor, train_s: float) -> dict[str, Any]:
        all_reduce_sum(sums, self.rt)
        if self.rt.distributed:  # batch-norm statistics drift per rank after the last step: take rank 0's
            for b in self.net.buffers():
                torch.distributed.broadcast(b, src=0)
        s = sums.tolist()
        n = max(s[4], 1.0)
        test_loss, test_acc, _ = evaluate(self.eval_model, self.test_b, self.rt)  # type: ignore[arg-type]
        eps, eps_n = classifier_epsilon(self.head.weight)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": s[0] / n, "cls_loss": s[1] / n, "re_loss": s[2] / n,
               "train_acc": s[3] / n, "test_loss": test_loss, "test_acc": test_acc, "epsilon": eps,
               "epsilon_normalized": eps_n, "seconds": train_s, "images_per_second": s[4] / max(train_s, 1e-9)}
        self.epoch, self.step = epoch + 1, 0
        self.rows.append(row)
        if self.rt.is_main:  # the commit order (commit.py): checkpoint, then model, then the metrics record
            self._save(None)
            self._write(io.MODEL, lambda: save_model(self.out / io.MODEL, self.net, self._metadata()))
            self._write(io.METRICS, lambda: io.write_metrics(self.out, self.rows))
            self.rep.epoch_end(row)
        return row

    def _save(self, partial: Optional[dict[str, Any]]) -> None:
        if self.rt.is_main:
            self._write(io.CHECKPOINT, lambda: save_checkpoint(
                self.out / io.CHECKPOINT, model=self.net, optimizer=self.optimizer,
                scaler_state=self.scaler.state_dict() if self.scaler else None, schedule=self.schedule,
                cfg=self.cfg, epoch=self.epoch, step=self.step, partial=partial, metrics=self.rows))
            self.saved = Saved(self.epoch, self.step)

    def _write(self, name: str, write: Any) -> None:
        """One atomic write of an output file; a failure (full disk, ...) says what is still on disk."""
        try:
            write()
        except OSError as e:
            raise TrainingError(write_failure(self.out / name, e, self.saved)) from e

    def _stopped(self, last: dict[str, Any], stop: io.StopSignal, rows: list[dict[str, Any]]) -> RunSummary:
        if self.rt.is_main:
            io.plot_curves(self.out, rows)
        return RunSummary(self.out, self.epoch, last, interrupted=True, signal=stop.name, init=self.init_report,
                          notes=(f"stopped at epoch {self.epoch + 1}, step {self.step} of {self.train_b.steps if self.train_b else 0}",))

    def _metadata(self) -> dict[str, str]:
        from wsep_cli import __version__

        meta = {"format": "pt", "model": self.cfg.model, "num_classes": str(self.data.num_classes),
                "classifier": self.head.key, "lambda": repr(self.cfg.lam), "wsep_version": __version__,
                "epoch": str(self.epoch), "data": self.cfg.data, "data_form": self.data.form}
        if self.spec.timm_arch:
            meta["arch"] = self.spec.timm_arch
        return meta


def _timm_classifiers(arch: Optional[str]) -> list[str]:
    if not arch:
        return []
    from wsep_cli.locate.timm_names import classifier_names_for

    return classifier_names_for(arch, required=False) or []
