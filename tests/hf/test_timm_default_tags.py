"""``timm:NAME`` without a tag: the default pretrained repo comes from a table generated from timm, so
scoring it imports neither torch nor timm (issue 12, part 3 follow-up).

The table (wsep_cli/hf/timm_repos_table.py) is written by tools/gen_timm_names.py; here it is checked
name by name against the installed timm's own ``get_pretrained_cfg`` (and tests/locate/test_timm_table.py
runs the generator's ``--check``, which covers both tables). The scoring test reads a repo written by
timm's ``save_for_hf`` from a Hugging Face cache the real client filled, offline, in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import REPO
from wsep_cli.errors import UsageError
from wsep_cli.hf import open_hf_source
from wsep_cli.hf.timm_repos import known_timm_names, timm_hub_repo
from wsep_cli.hf.timm_repos_table import TIMM_VERSION

COMMIT = "2222222222222222222222222222222222222222"

# Runs the CLI in a fresh interpreter and reports which torch/timm modules ended up in sys.modules.
CHILD = r"""
import atexit, json, sys
atexit.register(lambda: print("HEAVY=" + json.dumps(sorted(m for m in sys.modules
                                                         if m.split(".")[0] in ("torch", "timm"))), file=sys.stderr))
sys.argv = ["wsep", *sys.argv[1:]]
from wsep_cli.cli.launch import main
main()
"""


def run_child(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("WSEP_")}
    full.update({"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_TOKEN": "",
                 "HF_ENDPOINT": "http://127.0.0.1:9", **env})
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, cwd=REPO,
                          env=full, timeout=120, stdin=subprocess.DEVNULL)
    heavy = [ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")]
    assert heavy, proc.stderr[-2000:]
    return proc, json.loads(heavy[-1][len("HEAVY="):])


def test_table_matches_the_installed_timm() -> None:
    timm = pytest.importorskip("timm")
    from timm.models import get_deprecated_models, get_pretrained_cfg

    assert TIMM_VERSION == timm.__version__, "regenerate: python tools/gen_timm_names.py"
    table = known_timm_names()
    assert set(table) == set(timm.list_models()) | set(get_deprecated_models())
    for name in timm.list_models():  # what create_model(name, pretrained=True) would download
        hub_id = get_pretrained_cfg(name).hf_hub_id if get_pretrained_cfg(name) is not None else None
        want = hub_id if isinstance(hub_id, str) and hub_id.startswith("timm/") else None
        assert table[name] == want, name
        assert timm_hub_repo(name) == want, name
    old, new = next((o, n) for o, n in get_deprecated_models().items() if "." in n)
    assert timm_hub_repo(old) == get_pretrained_cfg(new).hf_hub_id


def _model_and_repo(tmp_path: Path) -> tuple[Any, str, Path]:
    """test_vit (0.4 M parameters) saved by timm's own save_for_hf; its default repo says the installed timm."""
    timm = pytest.importorskip("timm")
    torch = pytest.importorskip("torch")
    from timm.models._hub import save_for_hf

    torch.manual_seed(0)
    model = timm.create_model("test_vit", pretrained=False, num_classes=7)
    save_for_hf(model, str(tmp_path / "repo"), safe_serialization=True)
    return model, timm.models.get_pretrained_cfg("test_vit").hf_hub_id, tmp_path / "repo"


def test_untagged_name_scores_offline_from_the_cache_without_torch_or_timm(tmp_path: Path) -> None:
    hf_hub = pytest.importorskip("huggingface_hub")
    from hub_server import HubRepoFiles, LocalHub

    model, default_repo, folder = _model_and_repo(tmp_path)
    assert default_repo.startswith("timm/test_vit.")  # the default tag, by timm itself
    cache = tmp_path / "hub"
    with LocalHub({default_repo: HubRepoFiles(folder, COMMIT)}) as hub:  # a connected run's download
        for name in ("config.json", "model.safetensors"):
            hf_hub.hf_hub_download(default_repo, name, cache_dir=cache, endpoint=hub.url)
    env = {"HF_HOME": str(tmp_path / "home"), "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    proc, heavy = run_child("score", "--json", "timm:test_vit", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (res,) = json.loads(proc.stdout)["results"]
    assert res["path"] == "timm:test_vit"
    assert (res["source"]["kind"], res["source"]["repo"], res["source"]["commit"]) == ("hub", default_repo, COMMIT)
    head = res["heads"][0]
    assert head["layer"] == "head.weight" and "pretrained_cfg" in head["reason"]
    w = model.head.weight.detach().double().numpy()
    g = w @ w.T - np.eye(w.shape[0])
    assert head["epsilon"] == pytest.approx(float((g * g).sum() / w.shape[0]), rel=1e-12)
    assert heavy == []  # neither torch nor timm was imported


def test_unknown_names_are_one_line_usage_errors_with_close_matches(tmp_path: Path) -> None:
    near = next(n for n in sorted(known_timm_names()) if n.startswith("resnet5"))
    typo = near.replace("resnet", "resnt", 1)
    proc, heavy = run_child("score", f"timm:{typo}", "timm:zzqq_no_such_net", "timm:", env={})
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("wsep: error:")]
    assert len(errors) == 3 and "Traceback" not in proc.stderr
    assert f"timm:{typo}: not a timm model name; did you mean" in errors[0] and near in errors[0]
    assert "timm:zzqq_no_such_net: not a timm model name" in errors[1] and TIMM_VERSION in errors[1]
    assert "needs a model name" in errors[2]
    if _installed_timm_is_the_tables():
        assert heavy == []


def _installed_timm_is_the_tables() -> bool:
    from importlib import metadata

    try:
        return metadata.version("timm") == TIMM_VERSION
    except metadata.PackageNotFoundError:
        return True


def test_lookups_follow_the_table() -> None:
    table = known_timm_names()
    with_repo = next(n for n, r in table.items() if r is not None and r.startswith(f"timm/{n}."))
    without = next(n for n, r in table.items() if r is None)
    assert timm_hub_repo(with_repo) == table[with_repo]
    assert timm_hub_repo(without) is None  # timm builds it (or says it has no weights)
    assert timm_hub_repo(f" {with_repo}.some_tag ") == f"timm/{with_repo}.some_tag"  # a tag is taken as given
    with pytest.raises(UsageError, match="not a timm model name"):
        timm_hub_repo("zzqq_no_such_net.some_tag")


def test_a_newer_installed_timm_decides_names_the_table_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    monkeypatch.setattr(metadata, "version", lambda dist: "999.0" if dist == "timm" else "0")
    assert timm_hub_repo("zzqq_net_of_the_future") is None
    monkeypatch.setattr(metadata, "version", lambda dist: TIMM_VERSION)
    with pytest.raises(UsageError):
        timm_hub_repo("zzqq_net_of_the_future")


def test_random_init_keeps_the_timm_path() -> None:
    with_repo = next(n for n, r in known_timm_names().items() if r is not None)
    assert open_hf_source(f"timm:{with_repo}", random_init=True) is None
    assert open_hf_source("timm:zzqq_no_such_net", random_init=True) is None  # timm's reader says what is wrong
