"""Malicious pickles never run: ``wsep score`` exits 4 naming the refused global, and the payload's side
effect (creating a marker file) does not happen.

Each payload is first proven live: ``torch.load(weights_only=False)`` — what an unsafe loader does —
does create the marker. Then the installed ``wsep`` runs on the same file and the marker must stay
absent. Payloads sit at the top level, nested in containers, inside ``optimizer`` state, as the
storage type of a tensor, and in both the zip and the legacy (pre-1.6) ``torch.save`` formats.
"""

from __future__ import annotations

import builtins
import json
import os
import pickle
import re
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, run_wsep
from hostile_files import legacy_prefix, rebuild_fixture_zip

torch = pytest.importorskip("torch")


class Payload:
    """Pickles as ``fn(*args)``: what a hostile checkpoint runs on an unsafe ``torch.load``."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.fn, self.args


@dataclass(frozen=True)
class Kind:
    """A payload callable, the global the pickle names for it, and how it creates ``marker``."""

    name: str
    refused: str  # "module.name" as written in the pickle
    make: Callable[[Path], Payload]


KINDS = {
    "os.system": Kind("os.system", f"{os.system.__module__}.system", lambda m: Payload(os.system, f"touch '{m}'")),
    "exec": Kind("exec", "builtins.exec", lambda m: Payload(builtins.exec, f"open({str(m)!r}, 'w').write('pwned')")),
    "eval": Kind("eval", "builtins.eval",
                 lambda m: Payload(builtins.eval, f"__import__('os').system(\"touch '{m}'\")")),
    "subprocess": Kind("subprocess", "subprocess.check_call",
                       lambda m: Payload(subprocess.check_call, ["touch", str(m)])),
}


def _state_dict() -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    return {"fc.weight": torch.randn(10, 32, generator=g), "fc.bias": torch.zeros(10)}


def _wrap(where: str, payload: Payload) -> Any:
    """Place the payload somewhere in a plausible checkpoint."""
    sd = _state_dict()
    if where == "top":
        return payload
    if where == "nested":
        sd["meta"] = {"history": [(1, {"note": payload})]}
        return {"state_dict": sd, "epoch": 3}
    if where == "optimizer":
        opt = {"state": {0: {"momentum_buffer": payload}}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}
        return {"state_dict": sd, "optimizer": opt, "epoch": 3}
    raise AssertionError(where)


def _save(obj: Any, path: Path, fmt: str) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=(fmt == "zip"))
    return path


def _prove_live(path: Path, marker: Path) -> None:
    """The payload really runs under an unsafe load; then remove its marker again."""
    assert not marker.exists()
    try:
        torch.load(path, weights_only=False)
    except Exception:  # noqa: BLE001 - some payloads return values torch then chokes on
        pass
    assert marker.exists(), "the test payload is not live: an unsafe load did not run it"
    marker.unlink()


def _check_line(line: str, refused: str) -> None:
    assert line.startswith("wsep: error:") and "Traceback" not in line, line
    module, _, name = refused.rpartition(".")
    # protocol-2 pickles (torch.save's default) spell builtins as Python 2's __builtin__
    mod = "(builtins|__builtin__)" if module == "builtins" else re.escape(module)
    assert re.search(rf"{mod}\W{{1,3}}{re.escape(name)}\b", line), (
        f"the message does not name the refused global {refused}: {line}"
    )


def _assert_refused(path: Path, marker: Path, refused: str) -> None:
    """One ``wsep score`` process on one file: exit 4, one line naming the global, no side effect."""
    proc = run_wsep("score", str(path), timeout=60)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 4, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    _check_line(lines[0], refused)
    assert not marker.exists(), f"PAYLOAD RAN: {marker} was created"


PAYLOAD_CASES = [(k, "top", "zip") for k in KINDS] + [
    ("os.system", where, fmt) for where in ("nested", "optimizer") for fmt in ("zip", "legacy")
] + [("exec", "top", "legacy"), ("subprocess", "optimizer", "legacy"), ("eval", "nested", "zip")]


def _payload_file(case: tuple[str, str, str], root: Path) -> tuple[Path, Path, str]:
    kind, where, fmt = case
    marker = root / ("marker-" + "-".join(case))
    path = _save(_wrap(where, KINDS[kind].make(marker)), root / ("evil-" + "-".join(case) + ".pt"), fmt)
    _prove_live(path, marker)
    return path, marker, KINDS[kind].refused


def _module_file(fmt: str, root: Path) -> tuple[Path, Path, str]:
    """``torch.save(model)`` pickles classes; wsep needs weights only and refuses to import them."""
    path = _save(torch.nn.Sequential(torch.nn.Linear(32, 10)), root / f"module-{fmt}.pt", fmt)
    assert isinstance(torch.load(path, weights_only=False), torch.nn.Sequential)  # a real pickled module
    return path, root / "never", "torch.nn.modules.container.Sequential"


def _bare_pickle(root: Path) -> tuple[Path, Path, str]:
    """A plain ``pickle.dumps`` file (no torch framing) is sniffed as legacy torch and refused."""
    marker = root / "marker-bare"
    path = root / "bare.pth"
    path.write_bytes(pickle.dumps({"state_dict": KINDS["os.system"].make(marker)}, protocol=2))
    pickle.loads(path.read_bytes())  # live
    assert marker.exists()
    marker.unlink()
    return path, marker, KINDS["os.system"].refused


def _storage_type(root: Path) -> tuple[Path, Path, str]:
    """The persistent id of a tensor names its storage class; a hostile one names ``os.system``."""
    with zipfile.ZipFile(FIXTURES / "digits_mlp.pt") as zf:
        pkl = zf.read("digits_mlp/data.pkl")
    evil_mod = os.system.__module__.encode()
    # SHORT_BINUNICODE 'torch' + 'FloatStorage' + STACK_GLOBAL, or protocol 2's GLOBAL 'torch FloatStorage'
    old = b"\x8c\x05torch\x94\x8c\x0cFloatStorage\x94\x93"
    new = b"\x8c" + bytes([len(evil_mod)]) + evil_mod + b"\x94\x8c\x06system\x94\x93"
    if old not in pkl:
        old, new = b"ctorch\nFloatStorage\n", b"c" + evil_mod + b"\nsystem\n"
    assert old in pkl
    path = root / "storage-type.pt"
    rebuild_fixture_zip(path, {"data.pkl": pkl.replace(old, new, 1)})
    return path, root / "never", KINDS["os.system"].refused


def _legacy_later_pickle(root: Path) -> tuple[Path, Path, str]:
    """Legacy files are several pickles in a row; a payload in the state-dict pickle is refused."""
    marker = root / "marker-legacy-later"
    path = root / "legacy-later.pt"
    body = pickle.dumps(KINDS["os.system"].make(marker), protocol=2) + pickle.dumps([], protocol=2)
    path.write_bytes(legacy_prefix() + body)
    return path, marker, KINDS["os.system"].refused


BUILDERS: dict[str, Callable[[Path], tuple[Path, Path, str]]] = {
    **{"payload-" + "-".join(c): (lambda root, c=c: _payload_file(c, root)) for c in PAYLOAD_CASES},
    "module-zip": lambda root: _module_file("zip", root),
    "module-legacy": lambda root: _module_file("legacy", root),
    "bare-pickle": _bare_pickle,
    "storage-type": _storage_type,
    "legacy-later-pickle": _legacy_later_pickle,
}


@dataclass
class Batch:
    """Every hostile file scored by one ``wsep score --json`` process (keeps the suite fast)."""

    files: dict[str, tuple[Path, Path, str]]  # case id -> (path, marker, refused global)
    results: dict[str, dict[str, Any]]
    stderr_lines: list[str]
    returncode: int


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    root = tmp_path_factory.mktemp("hostile")
    files = {cid: build(root) for cid, build in BUILDERS.items()}
    proc = run_wsep("score", "--json", *(str(p) for p, _, _ in files.values()), timeout=120)
    results = {r["path"]: r for r in json.loads(proc.stdout)["results"]}
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return Batch(files, results, lines, proc.returncode)


@pytest.mark.parametrize("cid", sorted(BUILDERS))
def test_hostile_file_is_refused_and_never_runs(cid: str, batch: Batch) -> None:
    path, marker, refused = batch.files[cid]
    result = batch.results[str(path)]
    assert result["exit_code"] == 4 and result["status"] == "error", result
    assert not marker.exists(), f"PAYLOAD RAN: {marker} was created"
    mine = [ln for ln in batch.stderr_lines if str(path) in ln]
    assert len(mine) == 1, batch.stderr_lines
    _check_line(mine[0], refused)
    _check_line("wsep: error: " + result["error"], refused)


def test_batch_exit_code_and_one_line_per_file(batch: Batch) -> None:
    assert batch.returncode == 4
    assert len(batch.stderr_lines) == len(BUILDERS)
    assert not any(m.exists() for _, m, _ in batch.files.values())


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_single_payload_process_exits_4(fmt: str, tmp_path: Path) -> None:
    """One hostile file alone: the process itself exits 4 with exactly one stderr line."""
    path, marker, refused = _payload_file(("os.system", "optimizer", fmt), tmp_path)
    _assert_refused(path, marker, refused)
