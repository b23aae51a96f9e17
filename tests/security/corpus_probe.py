"""What torch does with each corpus file: ``python corpus_probe.py MANIFEST OUT``, in its own process.

MANIFEST is a JSON list of {id, path, marker, modes, layer, until_loads}; for each file and each mode
(``weights_only=True`` / ``False``) the outcome is ``executes`` (the marker appeared; it is removed
again), ``loads`` or ``refuses (Type: message)``; a load also reports the head at ``layer`` (rows and
epsilon, computed here from torch's tensor) so that a test can compare it with what wsep read;
``until_loads`` stops at the first mode that loads.
"""

from __future__ import annotations

import json
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

LIMIT_S = 60


class _Timeout(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def _find(obj: Any, layer: str, depth: int = 0) -> Any:
    """``obj[layer]`` at the top level or in a nested wrapper dict (``state_dict``)."""
    if not isinstance(obj, dict) or depth > 3:
        return None
    if layer in obj:
        return obj[layer]
    return next((t for v in obj.values() if (t := _find(v, layer, depth + 1)) is not None), None)


def _head(obj: Any, layer: str) -> dict[str, Any] | None:
    obj = _find(obj, layer)
    import numpy as np
    import torch

    if not isinstance(obj, torch.Tensor):
        return None
    v = obj.detach().to(torch.float64).numpy()
    gram = v @ v.T - np.eye(v.shape[0])
    return {"rows": int(v.shape[0]), "epsilon": float((gram * gram).sum() / v.shape[0])}


def probe(path: str, marker: str, weights_only: bool, layer: str | None) -> dict[str, Any]:
    import torch

    m = Path(marker)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT_S)
    out: dict[str, Any]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, weights_only=weights_only)
        out = {"outcome": "loads", "head": _head(obj, layer) if layer else None}
    except _Timeout:
        out = {"outcome": f"refuses (no result after {LIMIT_S} s)"}
    except BaseException as e:  # noqa: BLE001 - whatever torch raises is the observation
        text = " ".join(str(e).split())
        text = text.split("WeightsUnpickler error: ", 1)[-1]  # past torch's advice on weights_only
        out = {"outcome": f"refuses ({type(e).__name__}: {text[:100]})"}
    finally:
        signal.alarm(0)
    if m.exists():
        m.unlink()
        out["outcome"] = "executes"
    return out


def main(manifest: str, result: str) -> None:
    report = {}
    for entry in json.loads(Path(manifest).read_text()):
        seen = report[entry["id"]] = {}
        for mode in entry["modes"]:
            seen[mode] = probe(entry["path"], entry["marker"], mode == "weights_only=True", entry.get("layer"))
            if entry.get("until_loads") and seen[mode]["outcome"] == "loads":
                break
        Path(result).write_text(json.dumps(report))  # kept up to date, should the process die
    Path(result).write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
