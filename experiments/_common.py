"""Helpers shared by the experiment scripts: paths, seeds, summary statistics, machine description.

Kept free of torch so that ``survey.py`` starts fast; torch-using helpers live in ``_train.py``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "REPO",
    "shared_data_dir",
    "mean_std",
    "machine",
    "write_json",
    "md_table",
    "head_diagnostics",
]

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``<repo>/../shared/data`` (third-party checkpoints and test sets), or None when absent."""
    p = (REPO / ".." / "shared" / "data").resolve()
    return p if p.is_dir() else None


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0.0 for a single value)."""
    v = [float(x) for x in values]
    if not v:
        return math.nan, math.nan
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def machine() -> dict[str, Any]:
    """What ran the experiment: OS, Python, CPU count and (when imported) torch's version/threads."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def head_diagnostics(v: np.ndarray) -> dict[str, float]:
    """Row-sum ratio, spectral ε and best-scale ε of one head V (n × m, float64)."""
    n = v.shape[0]
    g = v @ v.T
    row_sq = float(np.trace(g))
    ratio = float(np.linalg.norm(v.sum(axis=0)) / np.sqrt(row_sq)) if row_sq > 0 else 0.0
    eig = np.linalg.eigvalsh(g)  # n eigenvalues of V Vᵀ (zeros included when m < n)
    g_sq = float(np.einsum("ij,ij->", g, g))
    return {
        "row_sum_ratio": ratio,
        "epsilon_spectral": float(np.sum((eig - 1.0) ** 2) / n),
        "epsilon_best_scale": float(1.0 - row_sq**2 / (n * g_sq)) if g_sq > 0 else 1.0,
        "sum_zero_floor": 1.0 / n,
        "etf_epsilon_normalized": 1.0 / (n - 1) if n > 1 else 0.0,
    }
