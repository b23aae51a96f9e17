"""Run ``run_finetune`` in a child process that a test can kill at a named instant of the run.

Children come from a multiprocessing *forkserver* that imported torch, the trainer and matplotlib and
made one warm-up run (:mod:`ft_crash_warm`, single-threaded, so forking it is safe), so each of the
dozens of runs the crash tests make skips ~4 s of imports and first-use costs, yet is a real process
that a real SIGKILL ends (the hooks are :mod:`wsep_cli.finetune.faults`).
"""

from __future__ import annotations

import json
import os
import resource
import signal
from pathlib import Path
from typing import Any, Optional

# 2 epochs of LeNet on the 8x8 digits, 6 steps each
SETTINGS: dict[str, Any] = dict(model="lenet", data="digits", epochs=2, batch_size=256, device="cpu", seed=7,
                                workers=0)
TIMING_KEYS = ("seconds", "images_per_second")

_CTX: Optional[Any] = None


def context() -> Any:
    global _CTX
    if _CTX is None:
        import multiprocessing.forkserver

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["ft_crash", "ft_crash_warm"])
        # Python 3.11's forkserver ignores the parent's sys.path when it preloads: hand it this folder
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), old]))
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if old is None:
                os.environ.pop("PYTHONPATH")
            else:
                os.environ["PYTHONPATH"] = old
        _CTX = ctx
    return _CTX


def _child(out: str, resume: bool, hook: str, trace: str, report: str, fsize: int) -> None:
    os.environ.pop("WSEP_TEST_HOOK", None)
    os.environ.pop("WSEP_TEST_TRACE", None)
    if hook:
        os.environ["WSEP_TEST_HOOK"] = hook
    if trace:
        os.environ["WSEP_TEST_TRACE"] = trace
    if fsize:  # a real write failure from the kernel: EFBIG past this many bytes in any one file
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.RLIM_INFINITY))
    import torch

    torch.set_num_threads(1)
    from wsep_cli.errors import WsepError
    from wsep_cli.finetune.config import FinetuneConfig
    from wsep_cli.finetune.options import config_from_options
    from wsep_cli.finetune.trainer import run_finetune

    code, message = 0, ""
    try:
        cfg = (config_from_options({}, output=None, resume=Path(out)) if resume
               else FinetuneConfig(output=out, **SETTINGS))
        summary = run_finetune(cfg, None, resume=resume)
        if summary.interrupted:
            code = 143 if summary.signal == "SIGTERM" else 130
    except WsepError as e:
        code, message = int(e.exit_code), str(e)
    except KeyboardInterrupt:  # a second SIGINT; the CLI exits 130 here too
        code = 130
    Path(report).write_text(json.dumps({"code": code, "message": message}))
    os._exit(code)


def run(out: Path, *, resume: bool = False, hook: str = "", trace: Optional[Path] = None,
        fsize: int = 0, timeout: float = 120) -> tuple[int, str]:
    """(exit code, error message) of one run in a fresh child; a SIGKILL reads as exit code -9."""
    report = out.parent / f"{out.name}.report.json"
    report.unlink(missing_ok=True)
    proc = context().Process(target=_child, args=(str(out), resume, hook, str(trace or ""), str(report), fsize))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        raise AssertionError(f"the run in {out} did not end within {timeout} s")
    message = json.loads(report.read_text())["message"] if report.is_file() else ""
    return int(proc.exitcode), message


def metrics_without_timings(out: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]
