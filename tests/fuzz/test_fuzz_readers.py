"""Fuzz every reader with seeded mutations of the bundled fixtures.

Normal runs: ``WSEP_FUZZ_CASES`` (default 1000) cases in-process through ``score_file`` — each must
return a FileResult with exit code 0, 3 or 4 and a one-line message, within 10 s and a 4 GiB
allocation budget — plus ~20 of them through the installed ``wsep`` in a subprocess. Deep runs:
``WSEP_FUZZ_CASES=20000 WSEP_FUZZ_SEED=7 python -m pytest tests/fuzz -q``. Inputs that crash or hang
are saved to ``tests/corpus/`` (replayed by ``test_corpus.py``). ``WSEP_FUZZ_STRICT=1`` also fails
on cases that only the score pipeline's defensive layer turned into an error (a reader bug).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import run_wsep

from harness import CORPUS, FORMATS, Case, Outcome, env_int, make_case, memory_budget, run_case, save_to_corpus, write_case

SEED = env_int("WSEP_FUZZ_SEED", 20261127)
CASES = env_int("WSEP_FUZZ_CASES", 1000)
CLI_CASES = env_int("WSEP_FUZZ_CLI_CASES", 20)
STRICT = os.environ.get("WSEP_FUZZ_STRICT", "") not in ("", "0")
SAVE = os.environ.get("WSEP_FUZZ_SAVE", "1") != "0"


def _known_signatures() -> set[str]:
    sigs = set()
    for note in CORPUS.glob("*.note"):
        m = re.search(r"^what: \w+ - (.*?): ", note.read_text(), re.M)
        if m:
            sigs.add(m.group(1))
    return sigs


def _normalized(msg: str) -> str:
    """An error message without paths and numbers, to count distinct failure paths."""
    msg = re.sub(r"\S*/\S*", "P", msg)
    return re.sub(r"\d+", "N", msg)[:80]


def _indices(fmt: str) -> list[int]:
    return [i for i in range(CASES) if FORMATS[i % len(FORMATS)] == fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz_in_process(fmt: str, tmp_path: Path) -> None:
    """Every mutated input ends as exit 0/3/4 with one line, never an exception or a hang."""
    tally: Counter[str] = Counter()
    messages: set[str] = set()
    failures: list[str] = []
    defended: dict[str, tuple[Case, Outcome]] = {}
    known = _known_signatures()
    with memory_budget():
        for i in _indices(fmt):
            case = make_case(SEED, i)
            folder = tmp_path / f"case{i}"
            out = run_case(write_case(case, folder))
            shutil.rmtree(folder, ignore_errors=True)
            tally[out.kind] += 1
            messages.add(_normalized(out.message))
            if out.kind in ("crash", "hang") or out.problems:
                failures.append(f"case {i} ({','.join(case.mutators)}): {out.kind} {out.signature} "
                                f"{out.message[:200]} {out.problems}\n{out.detail}")
                if SAVE and out.kind in ("crash", "hang") and out.signature not in known:
                    save_to_corpus(case, out)
                    known.add(out.signature)
            elif out.kind == "defended":
                defended.setdefault(out.signature, (case, out))
    for sig, (case, out) in defended.items():
        if SAVE and sig not in known:
            save_to_corpus(case, out)
    print(f"\n[fuzz {fmt}] seed={SEED} cases={sum(tally.values())} {dict(tally)} "
          f"distinct messages={len(messages)}")
    for sig, (case, out) in sorted(defended.items()):
        print(f"  defended ({case.index}, {','.join(case.mutators)}): {sig}")
    assert not failures, f"{len(failures)} of {sum(tally.values())} cases failed:\n" + "\n".join(failures[:5])
    if STRICT:
        assert not defended, f"cases that needed score_file's defensive layer: {sorted(defended)}"
    # The fuzz must reach past the format sniffer: many different refusals, and not only refusals.
    if sum(tally.values()) >= 100:
        assert len(messages) >= 8, sorted(messages)
        assert tally["ok"] + tally["error"] + tally["defended"] == sum(tally.values())


def test_cases_are_reproducible_and_mutated() -> None:
    """A case depends only on (seed, index), and almost every case differs from its fixture."""
    from harness import base_bytes

    originals = set(base_bytes().values())
    cases = [make_case(SEED, i) for i in range(100)]
    assert [c.digest for c in cases] == [make_case(SEED, i).digest for i in range(100)]
    changed = sum(any(blob not in originals for blob in c.files.values()) for c in cases)
    assert changed >= 90
    assert {c.fmt for c in cases} == set(FORMATS)


def _cli_indices() -> list[int]:
    per = max(1, CLI_CASES // len(FORMATS))
    out: list[int] = []
    for fmt in FORMATS:
        idx = _indices(fmt)
        step = max(1, len(idx) // per)
        out += idx[::step][:per]
    return out


def _run_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return run_wsep("score", "--json", str(path), timeout=60)


def test_fuzz_cli_sample(tmp_path: Path) -> None:
    """A sample through the installed ``wsep``: exit 0/3/4, one stderr line, no traceback."""
    cases = [make_case(SEED, i) for i in _cli_indices()]
    paths = [write_case(c, tmp_path / f"case{c.index}") for c in cases]
    with ThreadPoolExecutor(max_workers=3) as pool:
        procs = list(pool.map(_run_cli, paths))
    bad: list[str] = []
    for case, path, proc in zip(cases, paths, procs):
        err = proc.stderr.strip()
        where = f"case {case.index} ({','.join(case.mutators)}) rc={proc.returncode} stderr={err[:300]!r}"
        if proc.returncode not in (0, 3, 4) or "Traceback" in proc.stderr + proc.stdout:
            bad.append(where)
        elif "internal error" in err:
            bad.append(where)
        elif proc.returncode == 0 and err:
            bad.append(where)
        elif proc.returncode != 0 and (len(err.splitlines()) != 1 or not err.startswith("wsep: error:")):
            bad.append(where)
        else:
            doc = json.loads(proc.stdout)  # exactly one JSON document, whatever the outcome
            assert doc["results"][0]["exit_code"] == proc.returncode
            assert run_case(path).exit_code == proc.returncode  # the library and the CLI agree
    assert len(cases) >= min(CLI_CASES, 20) - len(FORMATS)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("raise_,kind", [(TypeError("bug"), "crash"), (ValueError("bad"), "defended"),
                                         (None, "hang")])
def test_harness_detects_crashes_defended_errors_and_hangs(
    raise_: Exception | None, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oracle itself can fail: a reader that raises, or stalls, is caught and classified."""
    import time

    import harness
    from wsep_cli.readers.safetensors.reader import SafetensorsReader

    def broken(self: object) -> list[object]:
        if raise_ is None:
            time.sleep(5)
            return []
        raise raise_

    monkeypatch.setattr(harness, "HANG_SECONDS", 1)
    monkeypatch.setattr(SafetensorsReader, "tensors", broken)
    out = run_case(harness.FIXTURES / "digits_mlp.safetensors")
    assert out.kind == kind, out
    assert out.signature
