"""Config discovery, validation, per-glob overrides and precedence (option > env > config > none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsep_cli.gate.config import GateRequest, env_settings, find_config, gate_settings, load_config, resolve_settings
from wsep_cli.errors import ConfigError, ExitCode
from wsep_cli.gate.checks import Thresholds
from wsep_cli.gate.pathglob import glob_matches

PYPROJECT = """
[project]
name = "demo"

[tool.wsep]
max-epsilon = 500
max-abs-cos = 0.9
tolerance = 0.05
baseline = "ci/base.json"

[tool.wsep.overrides."models/*.onnx"]
max-epsilon = 900

[tool.wsep.overrides."*_big.pt"]
max-epsilon-normalized = 2
"""


def _write(folder: Path, text: str, name: str = "pyproject.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


def test_nearest_pyproject_is_found_upward(tmp_path: Path) -> None:
    outer = _write(tmp_path, PYPROJECT)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == outer.resolve()
    inner = _write(tmp_path / "a", "[project]\nname = 'inner'\n")
    assert find_config(deep) == inner.resolve()
    assert load_config(cwd=deep).settings == {}  # nearest has no [tool.wsep]: no settings, no error


def test_table_values_overrides_and_relative_baseline(tmp_path: Path) -> None:
    cfg = load_config(cwd=_write(tmp_path, PYPROJECT).parent)
    assert cfg.settings["max-epsilon"] == 500.0 and cfg.settings["tolerance"] == 0.05
    assert Path(cfg.settings["baseline"]) == tmp_path.resolve() / "ci" / "base.json"
    s = resolve_settings(GateRequest(), {}, cfg)
    assert s.thresholds_for(str(tmp_path / "models" / "a.onnx")) == Thresholds(900.0, None, 0.9)
    assert s.thresholds_for(str(tmp_path / "models" / "sub" / "a.onnx")) == Thresholds(500.0, None, 0.9)
    assert s.thresholds_for(str(tmp_path / "x" / "r_big.pt")) == Thresholds(500.0, 2.0, 0.9)
    assert s.tolerance == 0.05 and s.active


def test_precedence_option_over_env_over_config(tmp_path: Path) -> None:
    cfg = load_config(cwd=_write(tmp_path, PYPROJECT).parent)
    onnx = str(tmp_path / "models" / "a.onnx")
    env = {"WSEP_MAX_EPSILON": "700", "WSEP_TOLERANCE": "0.2"}
    s = resolve_settings(GateRequest(), env, cfg)
    assert s.thresholds_for(onnx).max_epsilon == 700.0  # env beats the config, overrides included
    assert s.tolerance == 0.2
    s = resolve_settings(GateRequest(max_epsilon=10.0), env, cfg)
    assert s.thresholds_for(onnx).max_epsilon == 10.0 and s.tolerance == 0.2
    none = resolve_settings(GateRequest(), {}, _empty())
    assert none.thresholds_for("a.pt") == Thresholds() and not none.active and none.tolerance == 0.0


def _empty():  # type: ignore[no-untyped-def]
    from wsep_cli.gate.config import WsepConfig

    return WsepConfig()


@pytest.mark.parametrize(
    "body, key",
    [
        ("max-epsilonn = 3", "max-epsilonn"),
        ('max-epsilon = "3"', "max-epsilon"),
        ("max-abs-cos = true", "max-abs-cos"),
        ("tolerance = -0.1", "tolerance"),
        ('allow-new = "yes"', "allow-new"),
        ("baseline = 3", "baseline"),
        ('[overrides."*.pt"]\ntolerance = 0.1', "tolerance"),
        ('[overrides."*.pt"]\nmax-epsilon = "x"', "max-epsilon"),
    ],
)
def test_unknown_key_or_wrong_type_names_the_key(tmp_path: Path, body: str, key: str) -> None:
    pyproject = "[tool.wsep]\n" + body.replace("[overrides.", "[tool.wsep.overrides.") + "\n"
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, pyproject))
    assert repr(key) in str(e.value) or f"{key} must" in str(e.value)
    assert e.value.exit_code == ExitCode.USAGE
    with pytest.raises(ConfigError):  # the same rules for a wsep.toml's top level
        load_config(_write(tmp_path, body + "\n", "wsep.toml"))


def test_wsep_toml_top_level_and_explicit_pyproject(tmp_path: Path) -> None:
    w = _write(tmp_path, 'max-epsilon = 1\n[overrides."*.onnx"]\nmax-epsilon = 2\n', "wsep.toml")
    cfg = load_config(w)
    assert cfg.settings == {"max-epsilon": 1.0} and cfg.overrides[0][0] == "*.onnx"
    p = _write(tmp_path / "other", PYPROJECT)
    assert load_config(p).settings["max-epsilon"] == 500.0
    renamed = _write(tmp_path / "other", PYPROJECT, "ci-settings.toml")  # any name: [tool.wsep] is used
    assert load_config(renamed).settings["max-abs-cos"] == 0.9


def test_bad_toml_and_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[tool.wsep]\nmax-epsilon = [\n"))
    with pytest.raises(ConfigError, match="no such file"):
        gate_settings(GateRequest(config=tmp_path / "nope.toml"), env={})
    with pytest.raises(ConfigError, match="no such file"):
        gate_settings(GateRequest(), env={"WSEP_CONFIG": str(tmp_path / "nope.toml")})


def test_wsep_config_env_names_the_file(tmp_path: Path) -> None:
    w = _write(tmp_path, "max-abs-cos = 0.3\n", "wsep.toml")
    s = gate_settings(GateRequest(), env={"WSEP_CONFIG": str(w)}, cwd=tmp_path)
    assert s.thresholds_for("a.pt").max_abs_cos == 0.3


def test_env_values_are_parsed_and_validated() -> None:
    env = {"WSEP_MAX_ABS_COS": "0.5", "WSEP_ALLOW_NEW": "yes", "WSEP_EXIT_ZERO": "0", "WSEP_BASELINE": "b.json"}
    assert env_settings(env) == {"max-abs-cos": 0.5, "allow-new": True, "exit-zero": False, "baseline": "b.json"}
    for bad in ({"WSEP_MAX_EPSILON": "lots"}, {"WSEP_MAX_EPSILON": "-1"}, {"WSEP_ALLOW_NEW": "maybe"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            env_settings(bad)


def test_option_values_are_validated() -> None:
    with pytest.raises(ConfigError, match="--max-epsilon"):
        resolve_settings(GateRequest(max_epsilon=-2.0), {}, _empty())
    with pytest.raises(ConfigError, match="--tolerance"):
        resolve_settings(GateRequest(tolerance=float("nan")), {}, _empty())


def test_limits_that_can_never_fail_and_a_tolerance_without_baseline_are_refused() -> None:
    for value in (1.5, 90.0):
        with pytest.raises(ConfigError, match="--max-abs-cos"):
            resolve_settings(GateRequest(max_abs_cos=value), {}, _empty())
    assert resolve_settings(GateRequest(max_abs_cos=1.0), {}, _empty()).thresholds_for("a.pt").max_abs_cos == 1.0
    with pytest.raises(ConfigError, match="--tolerance.*--baseline"):
        resolve_settings(GateRequest(tolerance=0.1), {}, _empty())
    with pytest.raises(ConfigError, match="WSEP_TOLERANCE"):
        resolve_settings(GateRequest(), {"WSEP_TOLERANCE": "0.1"}, _empty())
    assert resolve_settings(GateRequest(tolerance=0.1, baseline=Path("b.json")), {}, _empty()).tolerance == 0.1


def test_booleans_follow_precedence(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "[tool.wsep]\nallow-new = true\nexit-zero = true\n"))
    assert resolve_settings(GateRequest(), {}, cfg).allow_new is True
    assert resolve_settings(GateRequest(), {"WSEP_ALLOW_NEW": "false"}, cfg).allow_new is False
    assert resolve_settings(GateRequest(exit_zero=False), {"WSEP_EXIT_ZERO": "1"}, cfg).exit_zero is False


def test_exact_pairs_follows_precedence_and_is_top_level_only(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "[tool.wsep]\nexact-pairs = true\n"))
    assert resolve_settings(GateRequest(), {}, load_config(_write(tmp_path / "none", "[project]\n"))).exact_pairs is False
    assert resolve_settings(GateRequest(), {}, cfg).exact_pairs is True
    assert resolve_settings(GateRequest(), {"WSEP_EXACT_PAIRS": "off"}, cfg).exact_pairs is False
    assert resolve_settings(GateRequest(exact_pairs=False), {"WSEP_EXACT_PAIRS": "1"}, cfg).exact_pairs is False
    assert not gate_settings(GateRequest(), env={}, cwd=tmp_path).active  # a scoring setting, not a check
    body = '[tool.wsep.overrides."*.pt"]\nexact-pairs = true\n'
    with pytest.raises(ConfigError, match="unknown key 'exact-pairs'"):
        load_config(_write(tmp_path / "ov", body))


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        ("models/*.onnx", "models/a.onnx", True),
        ("models/*.onnx", "models/old/a.onnx", False),
        ("models/**/*.onnx", "models/old/a.onnx", True),
        ("models/**/*.onnx", "models/a.onnx", True),
        ("*.onnx", "deep/er/a.onnx", True),
        ("*.onnx", "a.onnx.bak", False),
        ("ckpt-?.pt", "ckpt-1.pt", True),
        ("ckpt-?.pt", "ckpt-12.pt", False),
        ("ckpt-[!0].pt", "ckpt-0.pt", False),
        ("ckpt-[0-4].pt", "ckpt-3.pt", True),
        ("./models/*.pt", "models/a.pt", True),
        ("timm:resnet*", "timm:resnet50", True),
    ],
)
def test_glob_semantics(tmp_path: Path, pattern: str, path: str, expected: bool) -> None:
    full = path if path.startswith("timm:") else str(tmp_path / path)
    assert glob_matches(pattern, full, tmp_path) is expected


def test_relative_paths_match_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path / "models")
    assert glob_matches("models/*.onnx", "a.onnx", tmp_path)  # a.onnx given relative to cwd
    assert glob_matches("models/*.onnx", "../models/a.onnx", tmp_path)
