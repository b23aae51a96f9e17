"""The scanner-bypass corpus: every case, written into a folder, and a comparison with torch.

    python tests/security/corpus_build.py OUTDIR     # write every case's file (markers: OUTDIR/markers/)
    python tests/security/corpus_build.py --compare  # markdown table: wsep vs torch.load(weights_only=True)

The cases are in corpus_payloads (callables missing from deny-lists), corpus_opcodes (opcode tricks)
and corpus_containers (zip and legacy-format tricks); tests/security/test_pickle_corpus.py runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _p in (HERE, HERE.parent):  # corpus modules, and tests/ (conftest, hostile_files)
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import corpus_containers  # noqa: E402
import corpus_opcodes  # noqa: E402
import corpus_payloads  # noqa: E402
from conftest import FIXTURES  # noqa: E402
from corpus_record import Case  # noqa: E402

CANARY = ("classifier.weight", 10)


def _canary(folder: Path, marker: Path) -> Path:
    """Scored last in a batch: a valid file, read as usual, whatever the files before it did."""
    return Path(shutil.copy(FIXTURES / "digits_mlp.pt", folder / "canary.pt"))


def all_cases() -> list[Case]:
    cases = corpus_payloads.cases() + corpus_opcodes.cases() + corpus_containers.cases()
    cases.append(Case("canary", "a valid checkpoint after all the others (no state leaks between files)",
                      _canary, None, CANARY))
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


@dataclass(frozen=True)
class Built:
    case: Case
    path: Path
    marker: Path


def build_all(folder: Path) -> list[Built]:
    """Write every case under ``folder`` (and ``corpus.json``: case id -> file, marker)."""
    (folder / "markers").mkdir(parents=True, exist_ok=True)
    out = []
    for case in all_cases():
        marker = folder / "markers" / case.id
        own = folder / case.id  # each case writes into its own folder: names never collide
        own.mkdir()
        out.append(Built(case, case.build(own, marker), marker))
    (folder / "corpus.json").write_text(json.dumps({b.case.id: [str(b.path), str(b.marker)] for b in out}))
    return out


def build_in_child(folder: Path) -> list[Built]:
    """:func:`build_all` in a child process, so that the caller never imports torch (a process that
    has torch loaded makes every child it forks start with its 300 MB resident)."""
    subprocess.run([sys.executable, str(HERE / "corpus_build.py"), str(folder)], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=300)
    files = json.loads((folder / "corpus.json").read_text())
    return [Built(c, Path(files[c.id][0]), Path(files[c.id][1])) for c in all_cases()]


def run_probe(built: list[Built], modes: dict[str, list[str]], work: Path, timeout: float = 600) -> dict[str, Any]:
    """Run corpus_probe.py on ``built`` in one child process; ``modes`` per case id."""
    manifest = [{"id": b.case.id, "path": str(b.path), "marker": str(b.marker), "modes": modes[b.case.id],
                 "layer": b.case.head[0] if b.case.head else None, "until_loads": b.case.refused is None}
                for b in built if modes.get(b.case.id)]
    (work / "manifest.json").write_text(json.dumps(manifest))
    subprocess.run([sys.executable, str(HERE / "corpus_probe.py"), str(work / "manifest.json"),
                    str(work / "probe.json")], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=work, timeout=timeout, check=False)
    path = work / "probe.json"
    return json.loads(path.read_text()) if path.exists() else {}


def wsep_json(paths: list[Path]) -> dict[str, dict[str, Any]]:
    from conftest import run_wsep

    proc = run_wsep("score", "--json", *(str(p) for p in paths), timeout=300)
    return {r["path"]: r for r in json.loads(proc.stdout)["results"]}


def _wsep_cell(result: dict[str, Any]) -> str:
    if result["exit_code"] == 0:
        h = result["heads"][0]
        return f"reads `{h['layer']}` ({h['num_classes']} classes)"
    text = result["error"].split(": ", 1)[-1].split("; wsep loads only tensors")[0]
    return f"exit {result['exit_code']}: {text[:120]}"


def _torch_cell(b: Built, work: Path) -> str:
    """weights_only=True in a process of its own (a bomb may hang torch inside C code)."""
    sub = work / b.case.id
    sub.mkdir()
    try:
        got = run_probe([b], {b.case.id: ["weights_only=True"]}, sub, timeout=120)
    except subprocess.TimeoutExpired:
        return "no result in 120 s (killed)"
    rec = got.get(b.case.id, {}).get("weights_only=True")
    if rec is None:
        return "the process died (memory?)"
    if rec["outcome"] == "loads" and rec.get("head"):
        return f"loads ({rec['head']['rows']}-row head)"
    return rec["outcome"]


def compare() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        built = build_all(folder / "files")
        results = wsep_json([b.path for b in built])
        with ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) // 2)) as pool:
            torch_cells = list(pool.map(lambda b: _torch_cell(b, folder), built))
        print("| case | technique | wsep | torch.load(weights_only=True) |")
        print("|---|---|---|---|")
        for b, cell in zip(built, torch_cells):
            wsep = _wsep_cell(results[str(b.path)]).replace("|", "\\|")
            print(f"| `{b.case.id}` | {b.case.technique} | {wsep} | {cell.replace('|', chr(92) + '|')} |")
        ran = [b.case.id for b in built if b.marker.exists()]
        print(f"\nmarkers created by wsep: {ran or 'none'}")


def main(argv: list[str]) -> None:
    if argv == ["--compare"]:
        compare()
    elif len(argv) == 1 and not argv[0].startswith("-"):
        for b in build_all(Path(argv[0])):
            want = f"refused /{b.case.refused}/" if b.case.refused else f"read {b.case.head}"
            print(f"{b.case.id}\t{b.path}\t{want}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
