"""PyTorch checkpoints read without torch: every tensor is compared bit for bit against
``torch.load(..., weights_only=True)`` on files written by the real ``torch.save`` / ``torch.jit.save``
(zip, legacy, TorchScript; every dtype; strided views; CUDA-saved; wrappers), and on the real
third-party checkpoints in ../shared/data (issue 2 readers, issue 5 no-torch scoring)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_json, shared_file
from wsep_cli.errors import UnreadableError
from wsep_cli.readers.pytorch.reader import TorchReader
from wsep_cli.pipeline import score_file

RESNET32 = "akamaster_pytorch_resnet_cifar10/resnet32-d509ac18.th"
RESNET20 = "akamaster_pytorch_resnet_cifar10/resnet20-12fca82f.th"
MS_CNN = "microsoft_windows_machine_learning/myFirstModel.pth"


def _ref_array(t: torch.Tensor) -> np.ndarray:
    """torch's own values in the dtype wsep returns (bf16/float8 -> float32, complex32 -> complex64)."""
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16 or "float8" in str(t.dtype):
        t = t.float()
    elif t.dtype == torch.complex32:
        t = t.to(torch.complex64)
    return t.numpy()


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())


def assert_matches(path: Path, ref: dict[str, torch.Tensor]) -> TorchReader:
    """Every tensor of ``ref`` is listed in the same order and loads bit-identically."""
    with TorchReader(path) as r:
        infos = r.tensors()
        assert [t.name for t in infos] == list(ref), "tensor keys or order differ from torch's"
        for info in infos:
            want = _ref_array(ref[info.name])
            got = r.load(info.name)
            assert info.shape == tuple(ref[info.name].shape)
            assert info.dtype == str(ref[info.name].dtype).removeprefix("torch.")
            assert _same_bits(got, want), info.name
        return r


def _save(obj: object, path: Path, legacy: bool) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def _tiny_sd(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "features.0.weight": torch.randn(8, 3, 3, 3, generator=g),
        "features.0.bias": torch.randn(8, generator=g),
        "bn.running_mean": torch.randn(8, generator=g),
        "bn.num_batches_tracked": torch.tensor(7),
        "fc.weight": torch.randn(10, 8, generator=g),
        "fc.bias": torch.randn(10, generator=g),
    }


ALL_DTYPES = [
    torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.int16,
    torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128, torch.complex32,
    torch.uint16, torch.uint32, torch.uint64, torch.float8_e4m3fn, torch.float8_e5m2,
    torch.float8_e4m3fnuz, torch.float8_e5m2fnuz, torch.float8_e8m0fnu,
]


# torch.load cannot read legacy files holding dtypes without a legacy Storage class (uint16, float8,
# complex32, ...): it fails on torch.UntypedStorage.dtype. Those are compared in the zip format only.
LEGACY_DTYPES = ALL_DTYPES[:12]


def _all_dtype_sd(dtypes: list[torch.dtype]) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    out = {}
    for dt in dtypes:
        name = str(dt).removeprefix("torch.")
        if dt.is_floating_point or dt.is_complex:
            base = torch.randn(5, 7, generator=g, dtype=torch.float64) * 3
            base[0, :3] = torch.tensor([0.0, -0.0, 1e-3])
            out[name] = base.to(torch.complex64 if dt == torch.complex32 else dt).to(dt)
        elif dt == torch.bool:
            out[name] = torch.randint(0, 2, (5, 7), generator=g).bool()
        else:
            out[name] = torch.randint(0, 100, (5, 7), generator=g).to(dt)
    if torch.float8_e5m2 in dtypes:  # every float8 bit pattern, NaNs and infinities included
        for dt in (torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e8m0fnu):
            out[f"{dt}_all_bits"] = torch.arange(256, dtype=torch.uint8).view(dt)
    return out


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_every_dtype_matches_torch(tmp_path: Path, legacy: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "ComplexHalf support is experimental"
        p = _save(_all_dtype_sd(LEGACY_DTYPES if legacy else ALL_DTYPES), tmp_path / "dtypes.pt", legacy)
    r = assert_matches(p, torch.load(p, weights_only=True))
    assert r.format == ("pytorch-legacy" if legacy else "pytorch-zip")


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_strided_views_sharing_storage(tmp_path: Path, legacy: bool) -> None:
    base = torch.randn(10, 12, dtype=torch.float64)
    sd = {
        "base": base,
        "transposed": base.t(),
        "slice": base[2:7, 1::3],
        "row": base[3],
        "scalar": base[4, 5],
        "expanded": torch.randn(1, 5).expand(4, 5),
        "half_view": torch.randn(6, 6).half()[1:, ::2],
        "empty": torch.empty(0, 3),
        "conv1x1": torch.randn(10, 6, 1, 1).permute(0, 1, 3, 2),
    }
    p = _save(sd, tmp_path / "views.pt", legacy)
    r = assert_matches(p, torch.load(p, weights_only=True))
    refs = r._tensors
    assert refs["slice"].storage.key == refs["base"].storage.key  # one storage, several views
    assert refs["slice"].offset == 2 * 12 + 1


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_cuda_saved_tensors_load(tmp_path: Path, legacy: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch records the device of each storage; a 'cuda:0' location must load on a CPU machine."""
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    p = _save(_tiny_sd(), tmp_path / "cuda.pt", legacy)
    monkeypatch.undo()
    if legacy:
        raw = p.read_bytes()
    else:
        with zipfile.ZipFile(p) as z:
            raw = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
    assert b"cuda:0" in raw  # the file really records a CUDA device
    assert_matches(p, torch.load(p, weights_only=True, map_location="cpu"))


def test_zip_top_folder_and_big_endian(tmp_path: Path) -> None:
    """The top folder's name varies; a 'big' byteorder record means big-endian storages."""
    sd = {"f32": torch.randn(4, 3), "f16": torch.randn(5).half(), "bf16": torch.randn(3, 2).bfloat16(),
          "i64": torch.arange(6).reshape(2, 3)}
    src = _save(sd, tmp_path / "little.pt", legacy=False)
    dst = tmp_path / "big.pt"
    itemsize = {str(i): t.element_size() for i, t in enumerate(sd.values())}  # torch keys storages 0, 1, ...
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            rel = info.filename.split("/", 1)[1]
            data = zin.read(info)
            if rel == "byteorder":
                data = b"big"
            elif rel.startswith("data/"):
                data = np.frombuffer(data, dtype=f"<u{itemsize[rel[5:]]}").byteswap().tobytes()
            zout.writestr(f"my_model/{rel}", data)
    ref = torch.load(dst, weights_only=True)
    for k, t in sd.items():  # torch itself reads the rewritten file back to the original values
        assert torch.equal(ref[k], t), k
    assert_matches(dst, ref)


def test_parameters_attributes_and_meta_tensors(tmp_path: Path) -> None:
    """Parameters (with and without Python attributes), tensors with attributes, requires_grad and
    meta tensors: listed like torch lists them; a meta tensor has no values to load."""
    p_attr = torch.nn.Parameter(torch.randn(3, 2))
    p_attr.tag = "x"
    t_attr = torch.randn(4)
    t_attr.note = 5
    sd = {"param": torch.nn.Parameter(torch.randn(2, 2)), "param_attr": p_attr, "tensor_attr": t_attr,
          "requires_grad": torch.randn(2, requires_grad=True), "meta": torch.empty(3, 4, device="meta")}
    for legacy in (False, True):
        p = _save(sd, tmp_path / f"kinds{legacy}.pt", legacy)
        ref = torch.load(p, weights_only=True)
        assert ref["meta"].is_meta
        with TorchReader(p) as r:
            assert [(t.name, t.shape) for t in r.tensors()] == [(k, tuple(v.shape)) for k, v in ref.items()]
            for k, v in ref.items():
                if k == "meta":
                    with pytest.raises(UnreadableError, match="meta tensor"):
                        r.load(k)
                else:
                    assert _same_bits(r.load(k), _ref_array(v)), k


def test_training_extras_numpy_and_namespace_are_inert(tmp_path: Path) -> None:
    """numpy scalars/arrays and argparse.Namespace (common beside training weights) are read as
    inert records; the weights still come out exactly."""
    sd = _tiny_sd()
    ckpt = {"state_dict": sd, "best_acc1": np.float64(0.9125), "epoch": np.int64(90),
            "history": np.arange(6, dtype=np.float32).reshape(2, 3), "args": argparse.Namespace(lr=0.1)}
    for legacy in (False, True):
        p = _save(ckpt, tmp_path / f"extras{legacy}.pt", legacy)
        with TorchReader(p) as r:
            assert r.source == "state_dict"
            assert [t.name for t in r.tensors()] == list(sd)
            for k, v in sd.items():
                assert _same_bits(r.load(k), _ref_array(v)), k


class TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU())
        self.register_buffer("scale", torch.arange(5.0))
        self.fc = torch.nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.backbone(x) * self.scale)


def test_torchscript_parameters_without_running_code(tmp_path: Path) -> None:
    """TorchScript: __torch__ objects become inert records; their tensors get dotted names."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = tmp_path / "scripted.pt"
        torch.jit.save(torch.jit.script(TinyNet().eval()), str(p))
        ref = torch.jit.load(str(p)).state_dict()
    with TorchReader(p) as r:
        assert r.format == "torchscript"
        got = {t.name for t in r.tensors()}
        assert set(ref) <= got
        for k, v in ref.items():
            assert _same_bits(r.load(k), _ref_array(v)), k
    res = score_file(str(p))
    assert res.status == "ok" and res.format == "torchscript" and res.heads[0].layer == "fc.weight"


def _wrapped_cases(sd: dict, ema: dict) -> dict[str, tuple[object, dict, str]]:
    """name -> (checkpoint object, expected tensors, expected wrapper key)."""
    model = torch.nn.Linear(8, 10)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 8)).sum().backward()
    opt.step()  # optimizer state now holds exp_avg / exp_avg_sq tensors
    lightning = {f"model.{k}": v for k, v in sd.items()}
    nested = {"backbone": {"conv": {"weight": sd["features.0.weight"]}}, "head": {"weight": sd["fc.weight"]}}
    return {
        "bare": (sd, sd, ""),
        "state_dict": ({"state_dict": sd, "epoch": 3, "best_prec1": 91.2}, sd, "state_dict"),
        "model+optimizer+arch+args": (
            {"model": sd, "optimizer": opt.state_dict(), "epoch": 5, "arch": "tinynet",
             "args": argparse.Namespace(lr=0.1, arch="tinynet")}, sd, "model"),
        "ema_not_primary": ({"state_dict": sd, "state_dict_ema": ema, "optimizer": opt.state_dict()}, sd, "state_dict"),
        "ema_only": ({"model_ema": ema, "epoch": 1}, ema, "model_ema"),
        "module": ({"module": sd}, sd, "module"),
        "net": ({"net": sd, "optim": opt.state_dict()}, sd, "net"),
        "network": ({"network": sd}, sd, "network"),
        "lightning": ({"epoch": 2, "global_step": 10, "pytorch-lightning_version": "2.1.0",
                       "state_dict": lightning, "optimizer_states": [opt.state_dict()],
                       "lr_schedulers": [], "hyper_parameters": {"lr": 0.1}}, lightning, "state_dict"),
        "nested": ({"model": nested}, {"backbone.conv.weight": sd["features.0.weight"],
                                       "head.weight": sd["fc.weight"]}, "model"),
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_wrappers_unwrap_to_the_model_weights(tmp_path: Path, legacy: bool) -> None:
    sd, ema = _tiny_sd(0), _tiny_sd(1)
    for name, (obj, expected, source) in _wrapped_cases(sd, ema).items():
        p = _save(obj, tmp_path / f"{name}.pt", legacy)
        with torch.serialization.safe_globals([argparse.Namespace]):
            loaded = torch.load(p, weights_only=True)
        # the reference is torch's own load of the same file, at the key we expect
        ref = loaded
        for part in filter(None, source.split(".")):
            ref = ref[part]
        if name == "nested":
            ref = {"backbone.conv.weight": ref["backbone"]["conv"]["weight"], "head.weight": ref["head"]["weight"]}
        assert list(ref) == list(expected), name
        r = assert_matches(p, ref)
        assert r.source == source, name
        names = [t.name for t in r.tensors()]
        assert not any("exp_avg" in n or n.startswith(("optimizer", "state.")) for n in names), name
        assert r.metadata() == ({"arch": "tinynet"} if "arch" in name else {}), name


@pytest.mark.parametrize("prefix,wrap", [
    ("module.", lambda m: torch.nn.DataParallel(m)),
    ("_orig_mod.", lambda m: torch.compile(m)),
], ids=["DataParallel", "torch.compile"])
def test_ddp_and_compile_prefixes_reported_as_stored(tmp_path: Path, prefix: str, wrap) -> None:
    torch.manual_seed(0)
    sd = wrap(TinyNet()).state_dict()
    assert all(k.startswith(prefix) for k in sd)
    p = tmp_path / "wrapped.pt"
    torch.save(sd, p)
    assert_matches(p, torch.load(p, weights_only=True))
    res = score_file(str(p))
    assert res.status == "ok" and res.heads[0].layer == f"{prefix}fc.weight"


def test_only_the_head_bytes_are_read(tmp_path: Path) -> None:
    """A 32 MB tensor beside the head is never read: opening and loading the head allocate < 4 MB."""
    big = {"encoder.weight": torch.zeros(4096, 2048), "fc.weight": torch.randn(10, 64)}
    for legacy in (False, True):
        p = _save(big, tmp_path / f"big{legacy}.pt", legacy)
        tracemalloc.start()
        with TorchReader(p) as r:
            w = r.load("fc.weight")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert _same_bits(w, big["fc.weight"].numpy())
        assert peak < 4 * 2**20, f"peak {peak} bytes: more than the head was read"


# ---------------------------------------------------------------- real third-party checkpoints

@pytest.mark.parametrize("rel,source", [(RESNET32, "state_dict"), (RESNET20, "state_dict"), (MS_CNN, "")])
def test_real_checkpoints_match_torch(rel: str, source: str) -> None:
    p = shared_file(rel)
    ref = torch.load(p, weights_only=True, map_location="cpu")
    if source:
        ref = ref[source]
    r = assert_matches(p, ref)
    assert r.format == ("pytorch-legacy" if p.suffix == ".th" else "pytorch-zip")


def _epsilon_ref(v: np.ndarray) -> float:
    v = v.astype(np.float64)
    return float(((v @ v.T - np.eye(v.shape[0])) ** 2).sum() / v.shape[0])


def test_cli_scores_real_checkpoints() -> None:
    th, pth = shared_file(RESNET32), shared_file(MS_CNN)
    proc, doc = run_json(str(th), str(pth))
    assert proc.returncode == 0, proc.stderr
    expected = {
        str(th): ("pytorch-legacy", "module.linear.weight",
                  torch.load(th, weights_only=True, map_location="cpu")["state_dict"]["module.linear.weight"]),
        str(pth): ("pytorch-zip", "fc1.weight", torch.load(pth, weights_only=True)["fc1.weight"]),
    }
    for res in doc["results"]:
        fmt, layer, w = expected[res["path"]]
        head = res["heads"][0]
        assert (res["format"], head["layer"]) == (fmt, layer)
        assert (head["num_classes"], head["num_features"]) == tuple(w.shape)
        assert head["epsilon"] == pytest.approx(_epsilon_ref(w.numpy()), rel=1e-12)


def test_scoring_pytorch_files_does_not_import_torch(tmp_path: Path) -> None:
    paths = [str(_save(_tiny_sd(), tmp_path / "z.pt", False)), str(_save(_tiny_sd(), tmp_path / "l.pt", True))]
    real = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / RESNET32
    if real.exists():
        paths.append(str(real))
    code = (
        "import sys\n"
        "from wsep_cli.pipeline import score_file\n"
        "for p in sys.argv[1:]:\n"
        "    r = score_file(p)\n"
        "    assert r.status == 'ok', r.error\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_json_of_training_checkpoint_reports_format(tmp_path: Path) -> None:
    p = _save({"state_dict": _tiny_sd(), "epoch": 1}, tmp_path / "ckpt.tar", legacy=True)
    res = score_file(str(p))
    assert res.status == "ok" and res.format == "pytorch-legacy" and res.heads[0].layer == "fc.weight"
    assert json.loads(json.dumps(res.to_dict()))["format"] == "pytorch-legacy"
