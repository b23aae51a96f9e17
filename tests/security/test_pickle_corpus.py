"""The scanner-bypass corpus against the installed ``wsep`` (see corpus_build.py and docs/security.md).

Every file is scored by one ``wsep score --json`` process, peak memory from ``wait4`` and under a
1.5 GiB RLIMIT_DATA (so that an amplification regression fails with MemoryError, which no expected
message matches, instead of exhausting the machine). Each case must end as the corpus says: exit 4
with a message matching its construct, or a read of the head torch loads (same rows, same epsilon).
No marker may exist afterwards. Payloads marked live are first proven to run under
``torch.load(weights_only=False)`` in a child process, and the read cases' heads come from
``torch.load`` in that same child.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import run_wsep
from corpus_build import Built, all_cases, build_in_child, run_probe
from hostile_files import Run, run_measured

if importlib.util.find_spec("torch") is None:  # not imported here: see build_in_child
    pytest.skip("torch is needed to write the corpus", allow_module_level=True)

CASES = {c.id: c for c in all_cases()}
DATA_LIMIT = 3 << 29  # 1.5 GiB
# Over the canary's own run, measured the same way (wait4's peak also counts the pytest process's pages
# at fork: Linux keeps the high-water mark across exec; hence no torch in this process). The unfixed
# amplifiers needed gigabytes (1.4 GiB here before the RLIMIT stopped them).
RSS_MARGIN_MIB = 256
WALL_LIMIT_S = 45  # the batch takes ~1-3 s; a hang or a 16 MB-string loop blows through this


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    return {b.case.id: b for b in build_in_child(tmp_path_factory.mktemp("corpus"))}


@pytest.fixture(scope="module")
def torch_view(corpus: dict[str, Built], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Live payloads under weights_only=False; read cases under weights_only=True, or False where
    True refuses a construct wsep accepts (their files run nothing either way)."""
    modes = {cid: ["weights_only=False"] if b.case.live else ["weights_only=True", "weights_only=False"]
             for cid, b in corpus.items() if b.case.live or b.case.refused is None}
    return run_probe(list(corpus.values()), modes, tmp_path_factory.mktemp("probe"))


@pytest.fixture(scope="module")
def scored(corpus: dict[str, Built], torch_view: dict[str, Any]) -> tuple[Run, dict[str, dict[str, Any]]]:
    paths = [str(b.path) for b in corpus.values()]  # the canary is last
    run = run_measured("score", "--json", *paths, timeout=120, data_limit=DATA_LIMIT)
    return run, {r["path"]: r for r in json.loads(run.stdout)["results"]}


@pytest.mark.parametrize("cid", sorted(CASES))
def test_case_ends_as_promised(cid: str, corpus: dict[str, Built],
                               scored: tuple[Run, dict[str, dict[str, Any]]]) -> None:
    run, results = scored
    built = corpus[cid]
    result = results[str(built.path)]
    assert not built.marker.exists(), f"PAYLOAD RAN: {built.marker}"
    if built.case.refused is not None:
        assert result["exit_code"] == 4 and result["status"] == "error", result
        assert re.search(built.case.refused, result["error"]), (built.case.refused, result["error"])
        mine = [line for line in run.err_lines if str(built.path) in line]
        assert len(mine) == 1 and mine[0].startswith("wsep: error: "), mine
    else:
        assert result["exit_code"] == 0, result
        head = result["heads"][0]
        assert (head["layer"], head["num_classes"]) == built.case.head, head


@pytest.mark.parametrize("cid", sorted(c.id for c in CASES.values() if c.refused is None))
def test_read_is_what_torch_loads(cid: str, torch_view: dict[str, Any],
                                  scored: tuple[Run, dict[str, dict[str, Any]]], corpus: dict[str, Built]) -> None:
    seen = torch_view.get(cid, {})
    loaded = [rec["head"] for rec in seen.values() if rec["outcome"] == "loads" and rec.get("head")]
    assert loaded, f"torch loads no head from {cid}: {seen}"
    head = scored[1][str(corpus[cid].path)]["heads"][0]
    assert head["num_classes"] == loaded[0]["rows"]
    assert head["epsilon"] == pytest.approx(loaded[0]["epsilon"], rel=1e-9), (head["epsilon"], loaded[0])


@pytest.mark.parametrize("cid", sorted(c.id for c in CASES.values() if c.live))
def test_payload_is_live(cid: str, torch_view: dict[str, Any]) -> None:
    """The corpus is not a set of duds: an unsafe torch.load really runs the payload."""
    assert torch_view.get(cid, {}).get("weights_only=False", {}).get("outcome") == "executes", torch_view.get(cid)


def test_batch_is_bounded(scored: tuple[Run, dict[str, dict[str, Any]]], corpus: dict[str, Built]) -> None:
    run, results = scored
    control = run_measured("score", "--json", str(corpus["canary"].path), data_limit=DATA_LIMIT)
    print(f"\ncorpus batch: {len(results)} files, {run.wall_s:.2f} s, peak RSS {run.maxrss_mib:.0f} MiB "
          f"(canary alone {control.maxrss_mib:.0f} MiB)")
    assert len(results) == len(CASES)
    assert run.returncode == 4
    assert run.wall_s < WALL_LIMIT_S
    assert run.maxrss_mib < control.maxrss_mib + RSS_MARGIN_MIB
    assert not any(b.marker.exists() for b in corpus.values())


@pytest.mark.parametrize("cid", ["zip-case-twin", "op-memo-copy-bomb"])
def test_single_file_process_exits_4_with_one_line(cid: str, corpus: dict[str, Built]) -> None:
    built = corpus[cid]
    proc = run_wsep("score", str(built.path), timeout=60)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 4, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("wsep: error: ") and "Traceback" not in lines[0], lines
    assert re.search(built.case.refused or "", lines[0]), lines[0]
    assert not built.marker.exists()


def test_case_list_covers_every_kind() -> None:
    kinds = {cid.split("-", 1)[0] for cid in CASES}
    assert {"call", "op", "zip", "legacy", "canary"} <= kinds
    assert all(c.technique and (c.refused is None) == (c.head is not None) for c in CASES.values())
    assert Path(__file__).with_name("corpus_build.py").exists()
