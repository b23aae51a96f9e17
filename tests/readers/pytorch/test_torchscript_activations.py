"""Issue 11 point 1 for TorchScript: a sibling head whose output feeds a Softmax / Sigmoid in the
archive's code ranks first, from scripted and traced archives written by torch.jit.save; the code
text is read, never run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wsep_cli.pipeline import score_file
from wsep_cli.readers.pytorch.reader import TorchReader
from wsep_cli.readers.pytorch.ts_code import classifying_attributes

torch = pytest.importorskip("torch")
nn = torch.nn


class Functional(nn.Module):
    """Two unnamed siblings, neither 4·k outputs; the second (stored later) is the classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(16, 16)
        self.a = nn.Linear(16, 6)
        self.b = nn.Linear(16, 10)

    def forward(self, x):  # noqa: ANN001, ANN201
        h = torch.relu(self.body(x))
        return self.a(h), torch.softmax(self.b(h), 1)


class Modules(Functional):
    """The same with the activation as a module, applied to a temporary."""

    def __init__(self) -> None:
        super().__init__()
        self.act = nn.Sigmoid()

    def forward(self, x):  # noqa: ANN001, ANN201
        h = torch.relu(self.body(x))
        logits = self.b(h)
        return self.a(h), self.act(logits)


def _save(net: nn.Module, how: str, path: Path) -> Path:
    torch.manual_seed(0)
    m = torch.jit.script(net.eval()) if how == "script" else torch.jit.trace(net.eval(), torch.randn(2, 16))
    torch.jit.save(m, str(path))
    return path


@pytest.mark.parametrize("how", ["script", "trace"])
@pytest.mark.parametrize("cls, op", [(Functional, "Softmax"), (Modules, "Sigmoid")])
def test_the_activated_sibling_ranks_first(tmp_path: Path, how: str, cls: type, op: str) -> None:
    net = cls()
    path = _save(net, how, tmp_path / "m.pt")
    with TorchReader(path) as r:
        assert r.format == "torchscript"
        acts = r.activations()
        assert acts.get("b.weight") == op and "a.weight" not in acts and "body.weight" not in acts
    res = score_file(str(path))
    assert res.status == "ok", res.error
    assert [h.layer for h in res.heads] == ["b.weight", "a.weight"]
    assert f"feeds a {op}" in res.heads[0].reason
    v = net.b.weight.detach().double().numpy()
    want = float(((v @ v.T - np.eye(10)) ** 2).sum() / 10)
    assert res.heads[0].metrics.epsilon == pytest.approx(want, rel=1e-12)


def test_without_activation_storage_order_decides(tmp_path: Path) -> None:
    class Plain(Functional):
        def forward(self, x):  # noqa: ANN001, ANN201
            h = torch.relu(self.body(x))
            return self.a(h), self.b(h)

    res = score_file(str(_save(Plain(), "script", tmp_path / "p.pt")))
    assert [h.layer for h in res.heads] == ["a.weight", "b.weight"]
    assert "storage order" in res.heads[0].reason


def test_a_plain_state_dict_has_no_activations(tmp_path: Path) -> None:
    torch.save(Functional().state_dict(), tmp_path / "sd.pt")
    with TorchReader(tmp_path / "sd.pt") as r:
        assert r.activations() == {}


def test_code_patterns_are_matched_not_run() -> None:
    text = ("class M(Module):\n  s : __torch__.torch.nn.modules.activation.___torch_mangle_3.LogSoftmax\n"
            "  def forward(self: M, x: Tensor) -> Tensor:\n    s = self.s\n    fc = self.fc\n"
            "    _0 = __torch__.torch.nn.functional.sigmoid\n    other = self.other\n"
            "    y = _0((other).forward(x, ), )\n    return (s).forward((fc).forward(x, ), )\n")
    assert classifying_attributes([text]) == {"fc": "LogSoftmax", "other": "Sigmoid"}


def test_code_past_the_budget_is_left_unread_not_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wsep_cli.readers.pytorch.ts_code as ts_code

    path = _save(Functional(), "script", tmp_path / "m.pt")
    monkeypatch.setattr(ts_code, "MAX_CODE_BYTES", 16)  # smaller than any code file
    with TorchReader(path) as r:
        assert r.activations() == {}
    res = score_file(str(path))
    assert res.status == "ok", res.error
    assert [h.layer for h in res.heads] == ["a.weight", "b.weight"]  # storage order decides again
