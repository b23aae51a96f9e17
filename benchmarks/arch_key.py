"""A training checkpoint with and without an ``arch`` key: ``wsep score --json`` wall time and peak memory.

Writes two torch.save checkpoints of the torchvision-reference shape
``{"epoch", "arch", "state_dict", "optimizer"}`` (a small CNN with an SGD-momentum state, ~2 MB),
identical except that the second lacks ``arch``, and scores each in a fresh child process
``--runs`` times (the two interleaved) after one untimed warm-up. Prints the median wall time and the median peak RSS
(``ru_maxrss`` of the child, from ``os.wait4``) and whether torch or timm was imported.

Usage:
    python benchmarks/arch_key.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import atexit, sys
atexit.register(lambda: sys.stderr.write(
    "HEAVY=" + ",".join(sorted({m.split(".")[0] for m in sys.modules} & {"torch", "timm"})) + "\n"))
sys.argv = ["wsep", "score", "--json", sys.argv[1]]
from wsep_cli.cli.launch import main
main()
"""


MAKE = r"""
import sys
from pathlib import Path
import torch

folder = Path(sys.argv[1])

torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 192, 3), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(192, 1000),
)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
net(torch.randn(2, 3, 8, 8)).sum().backward()
opt.step()
with_arch, without = folder / "with_arch.pth", folder / "without_arch.pth"
ckpt = {"epoch": 90, "arch": "resnet18", "state_dict": net.state_dict(), "optimizer": opt.state_dict()}
torch.save(ckpt, with_arch)
del ckpt["arch"]
torch.save(ckpt, without)
"""


def make(folder: Path) -> tuple[Path, Path]:
    """The two checkpoints, written by torch in a child (torch never enters this process, whose
    memory a forked child would otherwise start from)."""
    subprocess.run([sys.executable, "-c", MAKE, str(folder)], check=True)
    return folder / "with_arch.pth", folder / "without_arch.pth"


def run_once(path: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, heavy modules) of one fresh ``wsep score``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"wsep score {path} exited {proc.returncode}: {err[-500:]}")
    heavy = next((ln[6:] for ln in err.splitlines() if ln.startswith("HEAVY=")), "?")
    return wall, usage.ru_maxrss / 1024, heavy or "none"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wsep-arch-"))
    try:
        files = make(folder)
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        print("| checkpoint | size | median wall s | median peak RSS MiB | torch/timm imported |")
        print("|---|---|---|---|---|")
        for path in files:
            run_once(path)  # warm-up: page cache, .pyc files
        runs: dict[Path, list[tuple[float, float, str]]] = {p: [] for p in files}
        for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits both alike
            for path in files:
                runs[path].append(run_once(path))
        for path in files:
            wall = statistics.median(r[0] for r in runs[path])
            rss = statistics.median(r[1] for r in runs[path])
            print(f"| {path.name} | {path.stat().st_size / 2**20:.1f} MiB | {wall:.3f} | {rss:.0f} | {runs[path][-1][2]} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
