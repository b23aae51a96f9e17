"""Datasets, batched augmentation and the batch plan (sharding, resume skipping)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from ft_helpers import SHARED_DATA

torch = pytest.importorskip("torch")

from wsep_cli.errors import UsageError  # noqa: E402
from wsep_cli.finetune.augment import apply_flip, fit_to_size, plan_epoch, random_crop  # noqa: E402
from wsep_cli.finetune.batches import TensorBatches  # noqa: E402
from wsep_cli.finetune.config import FinetuneConfig  # noqa: E402
from wsep_cli.finetune.data import load_data, parse_data  # noqa: E402
from wsep_cli.finetune.models import model_spec  # noqa: E402


def test_digits_is_a_stratified_split_of_sklearns_1797_images() -> None:
    from sklearn.datasets import load_digits

    b = load_data(FinetuneConfig(output="x", model="lenet", data="digits"), model_spec("lenet"))
    assert len(b.train) + len(b.test) == 1797 == len(load_digits().target)
    assert len(b.test) == 360 and b.num_classes == 10 and b.in_channels == 1
    assert b.image_size == 28 and tuple(b.test.x.shape[1:]) == (1, 28, 28)  # 8x8 upsampled for LeNet
    counts = np.bincount(b.test.y.numpy(), minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~36 of each digit
    b32 = load_data(FinetuneConfig(output="x", model="resnet20", data="digits"), model_spec("resnet20"))
    assert tuple(b32.train.x.shape[1:]) == (1, 32, 32)


def test_fit_to_size_pads_small_enlargements_and_resamples_otherwise() -> None:
    x = torch.arange(2 * 28 * 28, dtype=torch.uint8).reshape(2, 1, 28, 28)
    y = fit_to_size(x, 32)
    assert y.dtype == torch.uint8 and torch.equal(y[:, :, 2:30, 2:30], x) and y[:, :, :2].sum() == 0
    z = fit_to_size(torch.ones(3, 1, 8, 8), 28)
    assert z.shape == (3, 1, 28, 28) and torch.allclose(z, torch.ones_like(z))


def _reference_crop(img: np.ndarray, pad: int, dx: int, dy: int) -> np.ndarray:
    padded = np.pad(img, ((0, 0), (pad, pad), (pad, pad)))
    h, w = img.shape[1:]
    return padded[:, dy:dy + h, dx:dx + w]


def test_batched_crop_and_flip_match_a_per_image_reference() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (6, 3, 10, 10), generator=g, dtype=torch.uint8)
    dx = torch.tensor([0, 1, 2, 3, 4, 8])
    dy = torch.tensor([8, 0, 4, 4, 1, 0])
    got = random_crop(x, 4, dx, dy).numpy()
    for i in range(6):
        np.testing.assert_array_equal(got[i], _reference_crop(x[i].numpy(), 4, int(dx[i]), int(dy[i])))
    flip = torch.tensor([True, False, True, False, False, True])
    f = apply_flip(x, flip).numpy()
    for i in range(6):
        np.testing.assert_array_equal(f[i], x[i].numpy()[:, :, ::-1] if flip[i] else x[i].numpy())


def test_epoch_plan_is_a_function_of_seed_and_epoch() -> None:
    a, b, c = plan_epoch(100, 3, 5, 4, True), plan_epoch(100, 3, 5, 4, True), plan_epoch(100, 3, 6, 4, True)
    assert torch.equal(a.order, b.order) and torch.equal(a.dx, b.dx) and torch.equal(a.flip, b.flip)
    assert not torch.equal(a.order, c.order)
    assert sorted(a.order.tolist()) == list(range(100))
    assert int(a.dx.min()) >= 0 and int(a.dx.max()) <= 8


def test_two_rank_shards_make_up_the_single_process_batches_and_resume_skips_exactly() -> None:
    cfg = FinetuneConfig(output="x", model="lenet", data="digits")
    b = load_data(cfg, model_spec("lenet"))
    cpu = torch.device("cpu")
    one = list(TensorBatches(b.train, b, cpu, 100, train=True, seed=1).epoch(2))
    r0 = list(TensorBatches(b.train, b, cpu, 100, train=True, seed=1, rank=0, world=2).epoch(2))
    r1 = list(TensorBatches(b.train, b, cpu, 100, train=True, seed=1, rank=1, world=2).epoch(2))
    assert len(one) == len(r0) == len(r1) == 15  # 1437 = 14 * 100 + 37
    for (x, y), (x0, y0), (x1, y1) in zip(one, r0, r1):
        assert torch.equal(x[0::2], x0) and torch.equal(x[1::2], x1) and torch.equal(y[0::2], y0)
    skipped = list(TensorBatches(b.train, b, cpu, 100, train=True, seed=1).epoch(2, start_step=9))
    assert len(skipped) == 6 and all(torch.equal(s[0], o[0]) for s, o in zip(skipped, one[9:]))
    # normalisation: dataset mean/std give roughly zero-mean, unit-variance inputs
    xs = torch.cat([x for x, _ in TensorBatches(b.test, b, cpu, 500, train=False, seed=0).epoch(0)])
    assert abs(float(xs.mean())) < 0.1 and 0.7 < float(xs.std()) < 1.3


def test_parse_data_and_errors(tmp_path: Path) -> None:
    assert parse_data("imagefolder:/a/b").path == Path("/a/b")
    assert parse_data("synthetic:64").size == 64
    for bad in ("imagenet", "imagefolder:", "synthetic:x", "digits:3"):
        with pytest.raises(UsageError):
            parse_data(bad)
    only_test = tmp_path / "f"
    (only_test / "test" / "a").mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (8, 8)).save(only_test / "test" / "a" / "0.png")
    cfg = FinetuneConfig(output="x", model="lenet", data=f"imagefolder:{only_test}")
    with pytest.raises(UsageError, match="train/"):
        load_data(cfg, model_spec("lenet"))
    b = load_data(cfg, model_spec("lenet"), need_train=False)
    assert b.train is None and len(b.test) == 1 and b.classes == ["a"] and b.in_channels == 3


def test_single_image_folder_is_split_with_val_split(tmp_path: Path) -> None:
    from PIL import Image

    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(10):
            Image.new("RGB", (12, 12), (i * 20, 0, 0)).save(tmp_path / c / f"{i}.png")
    cfg = FinetuneConfig(output="x", model="resnet20", data=f"imagefolder:{tmp_path}", val_split=0.25)
    b = load_data(cfg, model_spec("resnet20"))
    assert len(b.train) == 15 and len(b.test) == 5 and b.num_classes == 2
    assert not set(b.train.indices) & set(b.test.indices)
    from wsep_cli.finetune.batches import FolderBatches

    fb = FolderBatches(b.train, b, torch.device("cpu"), 4, train=True, seed=0, workers=0)
    xs = [x for x, _ in fb.epoch(0)]
    assert [tuple(x.shape) for x in xs] == [(4, 3, 32, 32)] * 3 + [(3, 3, 32, 32)]


def test_mnist_test_split_from_the_real_idx_files(tmp_path: Path) -> None:
    src = SHARED_DATA / "facebookarchive_models_mnist"
    if not (src / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("../shared/data is absent")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (raw / name).symlink_to(src / name)
    cfg = FinetuneConfig(output="x", model="lenet", data="mnist", data_dir=str(tmp_path), init="w", eval_only=True)
    b = load_data(cfg, model_spec("lenet"), need_train=False)
    assert tuple(b.test.x.shape) == (10000, 1, 28, 28) and b.test.x.dtype == torch.uint8
    # the MNIST test set's label counts, as published with the data set
    assert np.bincount(b.test.y.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    pixels = np.frombuffer(gzip.open(src / "t10k-images-idx3-ubyte.gz").read()[16:], dtype=np.uint8)
    assert np.array_equal(b.test.x.numpy().ravel(), pixels)
    with pytest.raises(UsageError, match="train-images-idx3-ubyte"):
        load_data(cfg, model_spec("lenet"), need_train=True)


def test_mean_std_override_and_channel_check() -> None:
    cfg = FinetuneConfig(output="x", model="lenet", data="digits", mean=(0.5,), std=(0.5,))
    assert load_data(cfg, model_spec("lenet")).mean == (0.5,)
    bad = FinetuneConfig(output="x", model="lenet", data="digits", mean=(0.5, 0.5), std=(0.5, 0.5))
    with pytest.raises(UsageError, match="channels"):
        load_data(bad, model_spec("lenet"))
