"""Run ``wsep finetune`` subprocesses a few at a time until a deadline, and read back what they left.

Used by ``table1_gpu.py``: runs still going at the deadline get SIGTERM (the trainer saves a
checkpoint and exits 143), then SIGKILL after a grace period; runs not yet started are reported as
such. Every finished epoch is in the run's ``metrics.jsonl``, so nothing finished is lost.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

__all__ = ["Job", "launch", "read_run"]


@dataclass
class Job:
    name: str
    argv: list[str]
    log: Path
    status: str = "pending"  # pending | running | done | failed | stopped | not started
    returncode: Optional[int] = None
    started: Optional[float] = None
    seconds: Optional[float] = None
    extra: dict[str, Any] = field(default_factory=dict)


def launch(jobs: list[Job], parallel: int, deadline: float, *, cwd: Path, grace_s: float = 15.0,
           env: Optional[dict[str, str]] = None, poll_s: float = 0.2) -> list[Job]:
    """Run ``jobs`` at most ``parallel`` at a time; at ``deadline`` (perf_counter) stop the rest.

    Returns the same jobs with status, return code and wall seconds filled in.
    """
    pending = list(jobs)
    running: list[tuple[Job, subprocess.Popen[bytes], Any]] = []
    while pending or running:
        now = time.perf_counter()
        if now >= deadline:
            break
        while pending and len(running) < parallel:
            job = pending.pop(0)
            job.log.parent.mkdir(parents=True, exist_ok=True)
            fh = job.log.open("ab")
            job.started, job.status = time.perf_counter(), "running"
            print(f"runs: start {job.name}", file=sys.stderr, flush=True)
            running.append((job, subprocess.Popen(job.argv, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, env=env), fh))
        time.sleep(poll_s)
        for item in list(running):
            job, proc, fh = item
            if proc.poll() is not None:
                _close(job, proc, fh, "done" if proc.returncode == 0 else "failed")
                running.remove(item)
    for job in pending:
        job.status = "not started"
    for job, proc, _ in running:  # the deadline: ask every run to save and stop
        proc.send_signal(signal.SIGTERM)
    end = time.perf_counter() + grace_s
    for job, proc, fh in running:
        try:
            proc.wait(timeout=max(end - time.perf_counter(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _close(job, proc, fh, "stopped")
    return jobs


def _close(job: Job, proc: "subprocess.Popen[bytes]", fh: Any, status: str) -> None:
    fh.close()
    job.status, job.returncode = status, int(proc.returncode)
    job.seconds = time.perf_counter() - (job.started or time.perf_counter())
    print(f"runs: {job.name} {status} (exit {proc.returncode}, {job.seconds:.1f} s)", file=sys.stderr, flush=True)


def read_run(run_dir: Path) -> dict[str, Any]:
    """Per-epoch metrics, resolved config, and the final head's metrics from ``model.safetensors``."""
    out: dict[str, Any] = {"epochs_done": 0, "per_epoch": []}
    m = run_dir / "metrics.jsonl"
    if m.is_file():
        out["per_epoch"] = [json.loads(ln) for ln in m.read_text().splitlines() if ln.strip()]
        out["epochs_done"] = len(out["per_epoch"])
    c = run_dir / "config.json"
    if c.is_file():
        cfg = json.loads(c.read_text())
        out["config"], out["resolved"] = cfg.get("config"), cfg.get("resolved")
    st = run_dir / "model.safetensors"
    if st.is_file() and out.get("resolved"):
        from safetensors import safe_open

        from wsep_cli.metrics import compute_metrics

        key = out["resolved"]["model"]["classifier"]
        with safe_open(str(st), "np") as f:
            v = f.get_tensor(key).astype("float64")
        mt = compute_metrics(v.reshape(v.shape[0], -1))
        out["head"] = {"key": key, "epsilon": mt.epsilon, "epsilon_normalized": mt.epsilon_normalized,
                       "cosine_mean": mt.cosine.mean if mt.cosine else 0.0, "row_norm_mean": mt.norms.mean}
    return out
