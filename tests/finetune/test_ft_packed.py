"""The packed JPEG copy of CIFAR-10 (``--data cifar10-jpeg:PATH``, issue 16 point 1): reader, cache,
errors, and offline training / ``--eval-only`` through the installed ``wsep`` on a slice of the real file."""

from __future__ import annotations

import hashlib
import io
import json
import stat
from pathlib import Path

import numpy as np
import pytest
from conftest import run_wsep
from ft_helpers import SHARED_DATA, metrics

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from wsep_cli.errors import UnreadableError, UsageError  # noqa: E402
from wsep_cli.finetune import packed  # noqa: E402
from wsep_cli.finetune.config import FinetuneConfig  # noqa: E402
from wsep_cli.finetune.data import load_data, parse_data  # noqa: E402
from wsep_cli.finetune.models import model_spec  # noqa: E402

PACKED = SHARED_DATA / "yoongikim_cifar10_npz"
need_packed = pytest.mark.skipif(not (PACKED / packed.PACKED_FILES["train"]).is_file(),
                                 reason="../shared/data/yoongikim_cifar10_npz is absent")


def _jpeg(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=75)
    return buf.getvalue()


def _tiny(folder: Path, n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    """Real JPEGs (Pillow, quality 75) of smooth random images, packed like the shared files."""
    rng = np.random.default_rng(0)
    truth = {}
    for split, n in (("train", n_train), ("test", n_test)):
        base = rng.integers(0, 256, (n, 4, 4, 3)).astype(np.uint8)
        imgs = base.repeat(8, axis=1).repeat(8, axis=2)  # 8x8 blocks: JPEG keeps them within a few levels
        labels = np.arange(n) % 10
        packed.write_packed(folder / packed.PACKED_FILES[split], [_jpeg(i) for i in imgs], labels)
        truth[split] = imgs
    return truth


def test_decode_matches_pillow_and_the_source_pixels(tmp_path: Path) -> None:
    truth = _tiny(tmp_path)
    npz = tmp_path / packed.PACKED_FILES["train"]
    x, y = packed.decode_packed(npz)
    assert x.dtype == torch.uint8 and tuple(x.shape) == (20, 3, 32, 32)
    assert y.dtype == torch.int64 and y.tolist() == [i % 10 for i in range(20)]
    with np.load(npz) as d:  # the README's reader, image 7
        blob = d["jpeg"][d["offsets"][7]:d["offsets"][8]].tobytes()
    ref = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
    assert np.array_equal(x[7].permute(1, 2, 0).numpy(), ref)
    err = np.abs(x.permute(0, 2, 3, 1).numpy().astype(int) - truth["train"].astype(int))
    assert 0 < err.mean() < 16  # lossy (4:2:0 chroma) but close: unrelated images differ by ~85


def test_cache_is_written_beside_and_reused(tmp_path: Path) -> None:
    _tiny(tmp_path)
    npz = tmp_path / packed.PACKED_FILES["test"]
    x1, _ = packed.decode_packed(npz)
    caches = list(tmp_path.glob(".*decoded-*.npy"))
    assert len(caches) == 1
    # Overwrite the cache with a marker of the right shape: a second call must read it, not re-decode.
    marker = np.full((10, 32, 32, 3), 7, dtype=np.uint8)
    np.save(caches[0], marker)
    x2, _ = packed.decode_packed(npz)
    assert int(x2.min()) == int(x2.max()) == 7
    np.save(caches[0], np.zeros((3, 3), dtype=np.uint8))  # a wrong-shaped cache is ignored and replaced
    x3, _ = packed.decode_packed(npz)
    assert torch.equal(x3, x1)


def test_read_only_folder_caches_elsewhere(tmp_path: Path) -> None:
    ro, cache = tmp_path / "ro", tmp_path / "cache"
    _tiny(ro)
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        packed.decode_packed(ro / packed.PACKED_FILES["test"], cache_dir=cache)
        assert not list(ro.glob(".*")) and len(list(cache.glob(".*decoded-*.npy"))) == 1
    finally:
        ro.chmod(0o755)


def test_malformed_files_are_unreadable(tmp_path: Path) -> None:
    bad = tmp_path / "cifar10_test_yoongikim_jpeg.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UnreadableError, match="packed-JPEG"):
        packed.decode_packed(bad)
    np.savez(bad, jpeg=np.zeros(10, np.uint8), offsets=np.array([0, 5, 20]), labels=np.zeros(2, np.uint8))
    with pytest.raises(UnreadableError, match="offsets"):
        packed.decode_packed(bad)
    np.savez(bad, jpeg=np.frombuffer(b"\xff\xd8garbage!", np.uint8), offsets=np.array([0, 10]), labels=np.zeros(1, np.uint8))
    with pytest.raises(UnreadableError, match="image 0"):
        packed.decode_packed(bad)


def test_parse_and_resolve(tmp_path: Path) -> None:
    assert parse_data(f"cifar10-jpeg:{tmp_path}").path == tmp_path
    with pytest.raises(UsageError, match="needs the folder"):
        parse_data("cifar10-jpeg")
    with pytest.raises(UsageError, match="no cifar10_test"):
        packed.resolve_packed(tmp_path)
    _tiny(tmp_path / "cifar10_npz")
    assert packed.resolve_packed(tmp_path) == tmp_path / "cifar10_npz"  # a known subfolder
    f = tmp_path / "cifar10_npz" / packed.PACKED_FILES["train"]
    assert packed.resolve_packed(f) == f.parent  # or one of the files


def test_bundle_records_the_lossy_form_and_cifar10_finds_it_by_name(tmp_path: Path) -> None:
    _tiny(tmp_path / "cifar10_npz")
    cfg = FinetuneConfig(output="x", model="resnet20", data=f"cifar10-jpeg:{tmp_path}")
    b = load_data(cfg, model_spec("resnet20"))
    d = b.describe()
    assert d["data"] == "cifar10-jpeg" and d["lossless"] is False and "lossy" in d["form"]
    assert (d["train_size"], d["test_size"], b.num_classes, b.classes[0]) == (20, 10, 10, "airplane")
    assert len(d["files"]) == 2
    by_name = load_data(FinetuneConfig(output="x", model="resnet20", data="cifar10", data_dir=str(tmp_path)),
                        model_spec("resnet20"), need_train=False)
    assert by_name.train is None and by_name.describe()["lossless"] is False
    assert torch.equal(by_name.test.x, b.test.x)  # type: ignore[union-attr]


@need_packed
def test_real_file_labels_match_the_readme_checksum() -> None:
    with np.load(PACKED / packed.PACKED_FILES["train"]) as d:
        labels = d["labels"]
    assert hashlib.sha256(labels.tobytes()).hexdigest() == (
        "a29f2a5ffc141bb1c9e1af453e9a5ef8c316b2f675f8cea1d849d220d33a14fb")
    assert np.bincount(labels).tolist() == [5000] * 10


@need_packed
def test_offline_training_and_eval_only_on_a_slice_of_the_real_files(tmp_path: Path) -> None:
    data = tmp_path / "slice"
    packed.slice_packed(PACKED / packed.PACKED_FILES["train"], data / packed.PACKED_FILES["train"], 8)
    packed.slice_packed(PACKED / packed.PACKED_FILES["test"], data / packed.PACKED_FILES["test"], 5)
    out = tmp_path / "run"
    env = {"WSEP_OFFLINE": "1"}
    proc = run_wsep("finetune", "--model", "resnet20", "--data", f"cifar10-jpeg:{data}", "--epochs", "1",
                    "--batch-size", "40", "--device", "cpu", "--output", str(out), "--quiet", env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["data"] == f"cifar10-jpeg:{data}"
    assert cfg["resolved"]["data"]["lossless"] is False and "JPEG" in cfg["resolved"]["data"]["form"]
    assert cfg["resolved"]["data"]["train_size"] == 80 and cfg["resolved"]["data"]["test_size"] == 50
    last = metrics(out)[-1]
    ev = tmp_path / "eval"
    proc = run_wsep("finetune", "--model", "resnet20", "--data", "cifar10", "--data-dir", str(data), "--eval-only",
                    "--init", str(out / "model.safetensors"), "--device", "cpu", "--output", str(ev), "--quiet",
                    env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    row = metrics(ev)[0]
    assert row["test_images"] == 50
    assert row["test_acc"] == pytest.approx(last["test_acc"]) and row["epsilon"] == pytest.approx(last["epsilon"])
    assert json.loads((ev / "config.json").read_text())["resolved"]["data"]["lossless"] is False
