"""The inputs of ``benchmarks/input_bounds.py``: every kind of file ``wsep score`` may be handed, ≤ 10 MiB.

Four groups, each input named by where it came from so that a slow one can be rebuilt:

- ``fuzz``: seeded mutations of the bundled fixtures, made by the fuzz harness itself
  (``tests/fuzz/harness.py`` ``make_case(seed, index)``, the mutators of ``tests/fuzz/``);
- ``corpus``: the saved regression inputs of ``tests/corpus/``;
- ``hostile``: the hostile files of ``tests/system/test_resource_abuse.py`` (its builders, called
  here): lying safetensors headers, zip bombs, deep and shared pickles, ONNX and shard path escapes;
- ``valid``: metadata-heavy and near-10 MB valid checkpoints (``input_bounds_valid.py``, run in a
  child so that torch never enters this process).

Inputs over :data:`MAX_BYTES` (on disk: a sparse file counts by its length) are left out and listed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _sub in ("tests", "tests/fuzz", "tests/system"):  # the test helpers are imported, not copied
    if str(REPO / _sub) not in sys.path:
        sys.path.insert(0, str(REPO / _sub))

MAX_BYTES = 10 * 2**20  # the "10 MB", read as 10 MiB: the larger reading, so the harder one

__all__ = ["MAX_BYTES", "Input", "Corpus", "build_corpus"]


@dataclass(frozen=True)
class Input:
    """One path to score: a file or a model folder."""

    path: Path
    group: str  # "fuzz" | "corpus" | "hostile" | "valid"
    origin: str  # provenance: fixture, seed, index and mutators, or the builder's name
    size: int  # bytes on disk (a folder: its regular files)


@dataclass
class Corpus:
    inputs: list[Input]
    left_out: list[str]  # "origin (size)" of inputs over MAX_BYTES, or builders that failed


def input_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# ------------------------------------------------------------------------------------------- fuzz

def fuzz_inputs(root: Path, seed: int, cases: int) -> Iterator[tuple[Path, str, str]]:
    from harness import _FILES, _SHARD_DIR, make_case, write_case

    for i in range(cases):
        case = make_case(seed, i)
        fixture = _FILES.get(case.fmt) or f"{_SHARD_DIR}/{case.entry.strip('.')}"
        origin = f"{fixture} seed={seed} index={i} mutators={','.join(case.mutators)}"
        yield write_case(case, root / f"fuzz{i:05d}"), "fuzz", origin


# ----------------------------------------------------------------------------------------- corpus

def corpus_inputs() -> Iterator[tuple[Path, str, str]]:
    corpus = REPO / "tests" / "corpus"
    for entry in sorted(corpus.iterdir()) if corpus.is_dir() else []:
        if entry.name.endswith(".note") or entry.name == "README.md":
            continue
        note = entry.with_name(entry.name + ".note")
        lines = dict(ln.split(":", 1) for ln in note.read_text().splitlines() if ":" in ln) if note.exists() else {}
        target = entry / lines["entry"].strip() if entry.is_dir() and "entry" in lines else entry
        yield target, "corpus", f"tests/corpus/{entry.name}"


# ---------------------------------------------------------------------------------------- hostile

def hostile_inputs(root: Path) -> Iterator[tuple[Path, str, str]]:
    import test_resource_abuse as tra

    where = "test_resource_abuse"
    for group, builders in tra.GROUPS.items():
        d = root / f"hostile-{group}"
        d.mkdir()
        for name, build in builders.items():
            yield _built(lambda b=build, d=d: b(d), f"{where}.{name}")
    onnx_root, shard_root = root / "hostile-onnx", root / "hostile-sharded"
    onnx_root.mkdir()
    shard_root.mkdir()
    for name, (entries, setup) in tra.ONNX_CASES.items():
        if entries.get("location") == "ABS":
            entries = {**entries, "location": str(onnx_root / "outside" / "weights.bin")}
        yield _built(lambda n=name, e=entries, s=setup: tra._onnx_case(onnx_root, n, e, s), f"{where}.ONNX_CASES[{name}]")
    for name, (shard, setup) in tra.SHARD_CASES.items():
        yield _built(lambda n=name, sh=shard, s=setup: tra._sharded_case(shard_root, n, sh, s),
                     f"{where}.SHARD_CASES[{name}]")


def _built(build: Callable[[], Path], origin: str) -> tuple[Path, str, str]:
    try:
        return build(), "hostile", origin
    except BaseException as e:  # noqa: BLE001 - pytest.importorskip raises a BaseException without onnx
        return Path(), "failed", f"{origin} ({type(e).__name__}: {e})"


# ------------------------------------------------------------------------------------------ valid

def valid_inputs(root: Path, names: tuple[str, ...] = ()) -> Iterator[tuple[Path, str, str]]:
    folder = root / "valid"
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "input_bounds_valid.py"), str(folder), *names],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        yield Path(), "failed", f"input_bounds_valid.py exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
        return
    for line in proc.stderr.splitlines():
        if line.startswith("left out "):
            yield Path(), "failed", line[len("left out "):]
    for name, rel in json.loads(proc.stdout).items():
        yield folder / rel, "valid", f"input_bounds_valid.{name}"


# ------------------------------------------------------------------------------------------ build

GROUPS = ("fuzz", "corpus", "hostile", "valid")


def build_corpus(root: Path, seed: int, cases: int, groups: tuple[str, ...] = GROUPS,
                 valid: tuple[str, ...] = ()) -> Corpus:
    """Write every input under ``root`` (a fresh folder) and return them with their provenance
    (``valid``: the builders of input_bounds_valid.py to run; all when empty)."""
    sources: dict[str, Callable[[], Iterator[tuple[Path, str, str]]]] = {
        "fuzz": lambda: fuzz_inputs(root, seed, cases), "corpus": corpus_inputs,
        "hostile": lambda: hostile_inputs(root), "valid": lambda: valid_inputs(root, valid),
    }
    out = Corpus([], [])
    for group in groups:
        for path, kind, origin in sources[group]():
            if kind == "failed":
                out.left_out.append(f"{origin} (not built)")
                continue
            size = input_size(path)
            if size > MAX_BYTES:
                out.left_out.append(f"{origin} ({size / 2**20:.0f} MiB)")
            else:
                out.inputs.append(Input(path, kind, origin, size))
    return out
