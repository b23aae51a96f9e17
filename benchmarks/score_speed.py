"""Scoring speed: ``wsep score --json`` against a naive torch script, wall time and peak memory.

Makes its own large files in a temp dir (a sparse 2 GB safetensors with a 1000 x 2048 head, a 1 GB
zip ``.pt`` written by ``torch.save``, a 330 MB ONNX model with a 1000 x 2048 Gemm head, a
131,072 x 1,024 fp16 head) and uses the real ResNet-32
``.th`` and the tutorial ONNX model from ``../shared/data`` when present. Every command runs in a
fresh child process started by a small launcher, which measures its wall time and its own peak
memory (``ru_maxrss`` from ``os.wait4``). Each figure is the median of ``--runs`` runs after one untimed warm-up
run (page cache and ``.pyc`` files warm, as on a CI machine that has installed the package).

The naive script is what one would write without wsep: ``import torch``, load the checkpoint with
torch / safetensors.torch, compute epsilon in float64 (for ONNX: ``onnx.load`` + numpy).

Usage:
    python benchmarks/score_speed.py [--runs 3] [--skip-huge] [--skip-pt]

Results are recorded in docs/benchmarks.md ("Scoring").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "data").resolve()

NAIVE_TORCH = r"""
import sys, torch
path, key, kind = sys.argv[1:4]
if kind == "safetensors":
    from safetensors.torch import load_file
    sd = load_file(path)
else:
    sd = torch.load(path, map_location="cpu", weights_only=True)
    sd = sd.get("state_dict", sd)
w = sd[key].double()
n, m = w.shape
g = w @ w.T if n <= m else w.T @ w
eps = ((g * g).sum() - 2 * (w * w).sum() + n) / n
print(float(eps))
"""

NAIVE_ONNX = r"""
import sys, numpy as np, onnx
from onnx import numpy_helper
path, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = onnx.load(path)
w = next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == key).astype(np.float64)
w = w.reshape(w.shape[0], -1)
w = w if w.shape[0] == n else w.T
e = w @ w.T - np.eye(n)
print(float((e * e).sum() / n))
"""


# ---------------------------------------------------------------- machine and child processes

def machine() -> str:
    cpu = "?"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        kb = int(next(ln.split()[1] for ln in open("/proc/meminfo") if ln.startswith("MemTotal")))
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        pass
    from importlib.metadata import version

    libs = ", ".join(f"{p} {version(p)}" for p in ("numpy", "torch", "safetensors", "typer"))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {mem} RAM, no GPU use; {platform.platform()}; "
            f"Python {platform.python_version()}; {libs}; load average {load}")


def child_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSEP_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)  # .pyc files as an installed package has them, kept out of the repo
    return env


# A small launcher measures each command: a process started from this (large) benchmark process
# would inherit its memory high-water mark into ru_maxrss; started from the ~10 MiB launcher, the
# child's ru_maxrss is its own peak (or the launcher's ~10 MiB, whichever is larger).
LAUNCHER = r"""
import json, os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as fh:
    json.dump({"wall": wall, "peak_kib": ru.ru_maxrss, "rc": os.waitstatus_to_exitcode(status)}, fh)
"""


def run_child_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, str, str]:
    """(wall s, peak RSS MiB, exit code, stdout, stderr) of one fresh process of ``cmd``."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result = Path(fh.name)
    try:
        p = subprocess.run([sys.executable, "-c", LAUNCHER, str(result), *cmd], capture_output=True,
                           text=True, env=env, cwd=REPO, stdin=subprocess.DEVNULL)
        r = json.loads(result.read_text())
    finally:
        result.unlink(missing_ok=True)
    return r["wall"], r["peak_kib"] / 1024, r["rc"], p.stdout, p.stderr


def median_runs(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float, int, str, str]:
    run_child_measured(cmd, env)  # warm-up: page cache, .pyc files
    results = [run_child_measured(cmd, env) for _ in range(runs)]
    wall = statistics.median(r[0] for r in results)
    peak = statistics.median(r[1] for r in results)
    last = results[-1]
    return wall, peak, last[2], last[3], last[4]


def wsep_cmd() -> list[str]:
    script = Path(sys.executable).parent / "wsep"  # the console script itself, not a pyenv shim
    return [str(script)] if script.exists() else [sys.executable, "-m", "wsep_cli"]


# ---------------------------------------------------------------- test files

def write_safetensors(path: Path, tensors: list[tuple[str, str, tuple[int, ...]]], data: dict[str, bytes]) -> None:
    """A safetensors file whose tensors not in ``data`` are holes (sparse zeros): fast to make."""
    sizes = {"F32": 4, "F16": 2}
    header, off = {}, 0
    for name, dt, shape in tensors:
        nbytes = int(np.prod(shape)) * sizes[dt]
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + nbytes]}
        off += nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(len(raw).to_bytes(8, "little"))
        fh.write(raw)
        start = fh.tell()
        for name, blob in data.items():
            fh.seek(start + header[name]["data_offsets"][0])
            fh.write(blob)
        fh.truncate(start + off)


def make_big_safetensors(d: Path) -> Path:
    rng = np.random.default_rng(0)
    fc = (rng.standard_normal((1000, 2048)) * 0.02).astype(np.float32)
    tensors = [(f"backbone.{i}.weight", "F32", (16384, 8192)) for i in range(4)]
    tensors += [("fc.weight", "F32", (1000, 2048)), ("fc.bias", "F32", (1000,))]
    path = d / "big_2GB.safetensors"
    write_safetensors(path, tensors, {"fc.weight": fc.tobytes(), "fc.bias": np.zeros(1000, np.float32).tobytes()})
    return path


def make_big_pt(d: Path) -> Path | None:
    try:
        import torch
    except ImportError:
        return None
    g = torch.Generator().manual_seed(0)
    sd = {f"features.{i}.weight": torch.zeros(8192, 8192) for i in range(4)}
    sd["fc.weight"] = torch.randn(1000, 2048, generator=g) * 0.02
    sd["fc.bias"] = torch.zeros(1000)
    path = d / "big_1GB.pt"
    torch.save(sd, path)
    return path


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def make_big_onnx(d: Path, backbone_rows: int = 40_000) -> Path | None:
    """A ~330 MB ONNX model: x -> MatMul(backbone, 40,000 x 2048) -> Relu -> Gemm(fc 1000x2048, transB=1).

    The small part is made by ``onnx.helper``; the backbone initializer is spliced in front of it with
    its raw_data left as a hole (sparse zeros), so writing the file is instant.
    """
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    fc = (np.random.default_rng(2).standard_normal((1000, 2048)) * 0.02).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "backbone.weight"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "fc.weight", "fc.bias"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", 1, [1, backbone_rows])],
                              [helper.make_tensor_value_info("logits", 1, [1, 1000])],
                              [numpy_helper.from_array(fc, "fc.weight"),
                               numpy_helper.from_array(np.zeros(1000, np.float32), "fc.bias")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    small_graph = model.graph.SerializeToString()
    model.ClearField("graph")
    big = TensorProto(name="backbone.weight", dims=[backbone_rows, 2048], data_type=TensorProto.FLOAT)
    raw_len = backbone_rows * 2048 * 4
    t_head = big.SerializeToString() + _varint(9 << 3 | 2) + _varint(raw_len)
    init_head = _varint(5 << 3 | 2) + _varint(len(t_head) + raw_len) + t_head
    path = d / "big_330MB.onnx"
    with path.open("wb") as fh:
        fh.write(model.SerializeToString() + _varint(7 << 3 | 2) + _varint(len(init_head) + raw_len + len(small_graph)))
        fh.write(init_head)
        fh.seek(raw_len, os.SEEK_CUR)
        fh.write(small_graph)
    return path


def make_huge_head(d: Path, n: int = 131_072, m: int = 1_024) -> Path:
    rng = np.random.default_rng(1)
    path = d / f"huge_{n}x{m}_fp16.safetensors"
    tensors = [("fc.weight", "F16", (n, m)), ("fc.bias", "F16", (n,))]
    write_safetensors(path, tensors, {"fc.bias": np.zeros(n, np.float16).tobytes()})
    with path.open("r+b") as fh:
        hlen = int.from_bytes(fh.read(8), "little")
        fh.seek(8 + hlen)
        for a in range(0, n, 8192):
            rows = min(8192, n - a)
            fh.write((rng.standard_normal((rows, m), dtype=np.float32) * 0.03 + 0.001).astype(np.float16).tobytes())
    return path


def reference_epsilon(path: Path, n: int, m: int) -> float:
    """Float64 reference, by another route than wsep's: blocked V^T V (4,096-row blocks), then the
    spectrum: ||V V^T - I||^2 = sum_k (sigma_k^2 - 1)^2 + (n - m) for n > m."""
    with path.open("rb") as fh:
        hlen = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(hlen))
        start = 8 + hlen + header["fc.weight"]["data_offsets"][0]
    v = np.memmap(path, dtype=np.float16, mode="r", offset=start, shape=(n, m))
    g = np.zeros((m, m))
    for a in range(0, n, 4096):
        b = np.asarray(v[a:a + 4096], dtype=np.float64)
        g += b.T @ b
    lam = np.linalg.eigvalsh(g)
    return (float(np.sum((lam - 1.0) ** 2)) + (n - m)) / n


# ---------------------------------------------------------------- cases

def score_case(label: str, path: Path, kind: str, env: dict[str, str], runs: int) -> str:
    size = path.stat().st_size
    w_wall, w_peak, rc, out, err = median_runs([*wsep_cmd(), "score", "--json", str(path)], env, runs)
    if rc != 0:
        msg = (err.strip().splitlines() or ["?"])[-1]
        return f"| {label} | {size / 2**20:,.1f} MiB | wsep failed (exit {rc}): {msg} | | | | | |"
    head = json.loads(out)["results"][0]["heads"][0]
    if kind == "onnx":
        naive = [sys.executable, "-c", NAIVE_ONNX, str(path), head["layer"], str(head["num_classes"])]
    else:
        naive = [sys.executable, "-c", NAIVE_TORCH, str(path), head["layer"], kind]
    n_wall, n_peak, nrc, nout, nerr = median_runs(naive, env, runs)
    if nrc != 0:
        agree = f"naive failed: {(nerr.strip().splitlines() or ['?'])[-1][:80]}"
    else:
        ref = float(nout.strip().splitlines()[-1])
        agree = f"{abs(head['epsilon'] - ref) / max(abs(ref), 1e-300):.1e}"
    return (f"| {label} | {size / 2**20:,.1f} MiB | {w_wall:.2f} | {w_peak:.0f} | {n_wall:.2f} | {n_peak:.0f} "
            f"| {n_wall / w_wall:.1f}x | {agree} |")


def huge_case(d: Path, n: int, m: int, env: dict[str, str], runs: int, exact: bool = False) -> str:
    path = make_huge_head(d, n, m)
    ref = reference_epsilon(path, n, m)
    cmd = [*wsep_cmd(), "score", "--json", *(["--exact-pairs"] if exact else []), str(path)]
    wall, peak, rc, out, err = median_runs(cmd, env, runs) if runs > 1 else run_child_measured(cmd, env)
    path.unlink()
    if rc != 0:
        return f"| {n}x{m} fp16 | failed (exit {rc}): {err.strip()[-200:]} | | | | | |"
    h = json.loads(out)["results"][0]["heads"][0]
    rel = abs(h["epsilon"] - ref) / ref
    c = h["cosine"]
    sample = f"{c['estimated']} ({c['sample_size']:,})" if c["estimated"] else "False (all pairs)"
    return (f"| {n:,} x {m:,} fp16 ({n * m * 2 / 2**20:.0f} MiB) | {wall:.1f} | {peak:.0f} "
            f"| {h['epsilon']:.12g} | {ref:.12g} | {rel:.1e} | {sample} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs per command (median reported)")
    ap.add_argument("--skip-huge", action="store_true", help="skip the 131,072 x 1,024 fp16 head")
    ap.add_argument("--huge-runs", type=int, default=1, help="timed runs of the huge head (each ~30-60 s)")
    ap.add_argument("--skip-pt", action="store_true", help="skip the 1 GB torch.save file")
    ap.add_argument("--exact-case", action="store_true",
                    help="also a 32,768 x 1,024 fp16 head with --exact-pairs, every pair exact (minutes)")
    args = ap.parse_args()

    print(f"machine: {machine()}")
    print(f"command: python benchmarks/score_speed.py {' '.join(sys.argv[1:])}".rstrip())
    with tempfile.TemporaryDirectory(prefix="wsep-bench-") as tmp:
        d = Path(tmp)
        env = child_env(d / "pycache")
        print("\n| start-up | wall (s) | peak (MiB) |\n|---|---|---|")
        for label, cmd in [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("python -c 'import numpy'", [sys.executable, "-c", "import numpy"]),
            ("wsep --help", [*wsep_cmd(), "--help"]),
        ]:
            wall, peak, *_ = median_runs(cmd, env, args.runs)
            print(f"| `{label}` | {wall:.2f} | {peak:.0f} |")

        cases: list[tuple[str, Path, str]] = [("fixture digits_mlp.safetensors", REPO / "fixtures" / "digits_mlp.safetensors", "safetensors")]
        t = time.perf_counter()
        cases.append(("2 GB safetensors, 1000x2048 head", make_big_safetensors(d), "safetensors"))
        if not args.skip_pt:
            pt = make_big_pt(d)
            if pt is not None:
                cases.append(("1 GB zip .pt (torch.save), 1000x2048 head", pt, "torch"))
        th = SHARED / "akamaster_pytorch_resnet_cifar10" / "resnet32-d509ac18.th"
        if th.exists():
            cases.append(("real ResNet-32 .th (akamaster)", th, "torch"))
        onnx_file = SHARED / "microsoft_windows_machine_learning" / "ImageClassifier.onnx"
        if onnx_file.exists():
            cases.append(("real ImageClassifier.onnx (naive: onnx+numpy)", onnx_file, "onnx"))
        cases.append(("fixture digits_mlp.onnx (naive: onnx+numpy)", REPO / "fixtures" / "digits_mlp.onnx", "onnx"))
        big_onnx = make_big_onnx(d)
        if big_onnx is not None:
            cases.append(("330 MB ONNX, 1000x2048 Gemm head (naive: onnx+numpy)", big_onnx, "onnx"))
        print(f"\n(test files written in {time.perf_counter() - t:.0f} s)")
        print("\n| file | size | wsep wall (s) | wsep peak (MiB) | naive wall (s) | naive peak (MiB) "
              "| naive/wsep wall | epsilon rel. diff |\n|---|---|---|---|---|---|---|---|")
        for label, path, kind in cases:
            print(score_case(label, path, kind, env, args.runs), flush=True)

        print("\nDefault output, a Rich table (`wsep score FILE`):\n\n| file | wsep wall (s) | wsep peak (MiB) |\n|---|---|---|")
        for label, path, _ in cases[:2]:
            wall, peak, rc, _, err = median_runs([*wsep_cmd(), "score", str(path)], env, args.runs)
            print(f"| {label} | {wall:.2f} | {peak:.0f} |" if rc == 0 else f"| {label} | failed (exit {rc}) | |", flush=True)

        heads = [] if args.skip_huge else [(131_072, 1_024, False)]
        if args.exact_case:
            heads.append((32_768, 1_024, True))  # the class limit, with every pair (past the work limit)
        if heads:
            print("\n| head | wall (s) | peak (MiB) | epsilon | float64 reference | rel. error | cosine estimated (sample) |"
                  "\n|---|---|---|---|---|---|---|")
        for n, m, exact in heads:
            print(huge_case(d, n, m, env, args.huge_runs, exact), flush=True)
    print(f"\nload average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
