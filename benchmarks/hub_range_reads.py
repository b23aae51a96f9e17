"""Hub range reads: bytes moved and wall time for ``hf:`` against downloading the files.

Makes a 2 GiB sharded safetensors model in a temp dir (two 1 GiB shards: a 131,072 x 4,096 bf16
``model.embed_tokens.weight`` and a 131,072 x 4,096 bf16 ``lm_head.weight`` + a norm, with a Llama
``config.json`` whose ``tie_word_embeddings`` is false), serves it from a local Hub stand-in on
127.0.0.1 (``tests/hf/hub_server.py``: Range support, bytes counted) and measures, each in a fresh
cache:

1. wsep's Hub path: resolve the repo, read the headers, fetch the head's byte range (what
   ``wsep score hf:bench/llm`` reads before the metrics);
2. the same again (warm cache: nothing should move);
3. downloading every file with ``huggingface_hub.hf_hub_download(..., local_dir=...)`` (what one
   does without wsep), then reading the head from the downloaded folder.

The metrics themselves (a 131k-class Gram) are the same either way and are not timed here; see
"Scoring" in docs/benchmarks.md. Needs ~5 GiB of free disk in the temp dir (2 GiB model, 1 GiB range
cache, 2 GiB download cache), all removed at the end.

Usage:
    python benchmarks/hub_range_reads.py [--classes 131072] [--features 4096]

Results are recorded in docs/benchmarks.md ("Hugging Face Hub").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hf"))

COMMIT = "b" * 40


def _make_model(folder: Path, n: int, m: int) -> int:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    shards = {
        "model-00001-of-00002.safetensors": {"model.embed_tokens.weight": (n, m)},
        "model-00002-of-00002.safetensors": {"lm_head.weight": (n, m), "model.norm.weight": (m,)},
    }
    wmap, total = {}, 0
    for shard, tensors in shards.items():
        data = {k: (torch.randn(*s, generator=g) * 0.02).to(torch.bfloat16) for k, s in tensors.items()}
        save_file(data, str(folder / shard), metadata={"format": "pt"})
        total += (folder / shard).stat().st_size
        wmap.update({k: shard for k in tensors})
        del data
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total},
                                                                      "weight_map": wmap}))
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": n, "hidden_size": m,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16"}))
    return total


def _env(url: str, home: Path) -> None:
    os.environ.update({"HF_ENDPOINT": url, "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"),
                       "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})


def _wsep_path() -> tuple[float, str]:
    """Open hf:bench/llm as `wsep score` does and load its head (in a child: fresh client constants)."""
    code = (
        "import time; t=time.perf_counter()\n"
        "from wsep_cli.readers.guard import open_guarded\n"
        "from wsep_cli.locate import locate\n"
        "with open_guarded('hf:bench/llm') as r:\n"
        "    h = locate(r)[0]; v = r.load(h.layer)\n"
        "print(time.perf_counter()-t, h.layer, v.shape, r.source_info().bytes_downloaded)\n"
    )
    import subprocess

    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return time.perf_counter() - t, out.stdout.strip()


def _download_path(folder_files: list[str]) -> tuple[float, float]:
    import subprocess

    code = (
        "import time, sys; t=time.perf_counter()\n"
        "from huggingface_hub import hf_hub_download\n"
        f"paths = [hf_hub_download('bench/llm', f, local_dir={str(Path(os.environ['HF_HOME']) / 'dl')!r}) "
        f"for f in {folder_files!r}]\n"
        "d = time.perf_counter()-t\n"
        "from pathlib import Path\n"
        "from wsep_cli.readers.guard import open_guarded\n"
        "from wsep_cli.locate import locate\n"
        "with open_guarded(str(Path(paths[0]).parent)) as r:\n"
        "    h = locate(r)[0]; v = r.load(h.layer)\n"
        "print(d, time.perf_counter()-t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    d, total = map(float, out.stdout.split())
    return d, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--classes", type=int, default=131072)
    ap.add_argument("--features", type=int, default=4096)
    args = ap.parse_args()
    from hub_server import HubRepoFiles, LocalHub

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="wsep-hub-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        size = _make_model(root / "repo", args.classes, args.features)
        print(f"model: {size / 2**30:.2f} GiB in 2 shards, head {args.classes} x {args.features} bf16 "
              f"({args.classes * args.features * 2 / 2**30:.2f} GiB); made in {time.perf_counter() - t:.0f} s")
        files = sorted(p.name for p in (root / "repo").iterdir())
        with LocalHub({"bench/llm": HubRepoFiles(root / "repo", COMMIT)}) as hub:
            rows = []
            _env(hub.url, root / "home-wsep")
            for label in ("wsep hf: (cold cache)", "wsep hf: (warm cache)"):
                hub.served.clear()
                wall, out = _wsep_path()
                rows.append((label, hub.total_served(), wall, out))
            _env(hub.url, root / "home-dl")
            hub.served.clear()
            dl, total = _download_path(files)
            rows.append(("hf_hub_download every file, then read the head", hub.total_served(), total,
                         f"download alone {dl:.1f} s"))
        print("\n| path | bytes served | wall (s) | note |\n|---|---:|---:|---|")
        for label, served, wall, note in rows:
            print(f"| {label} | {served:,} ({served / 2**20:.1f} MiB) | {wall:.1f} | {note} |")


if __name__ == "__main__":
    main()
