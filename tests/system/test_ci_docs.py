"""docs/ci.md and .pre-commit-hooks.yaml stay true: real options, valid YAML/TOML, valid config keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from conftest import REPO
from wsep_cli.cli.app import app
from wsep_cli.gate.config import KEYS, load_config

DOC = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
yaml = pytest.importorskip("yaml")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)


def _wsep_options() -> set[str]:
    group = typer.main.get_command(app)
    opts: set[str] = set()
    for cmd in group.commands.values():  # type: ignore[attr-defined]
        for p in cmd.params:
            opts.update(o for o in [*p.opts, *p.secondary_opts] if o.startswith("--"))
    return opts


def test_every_option_in_the_doc_exists() -> None:
    known = _wsep_options() | {"--extra-index-url"}  # pip's, in the install step
    used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", DOC))
    assert used - known == set()


def test_yaml_blocks_and_hook_file_parse() -> None:
    blocks = _blocks("yaml")
    assert len(blocks) >= 4
    docs = [yaml.safe_load(b) for b in blocks]
    workflow = next(d for d in docs if isinstance(d, dict) and "jobs" in d)
    steps = workflow["jobs"]["wsep"]["steps"]
    assert any("wsep score" in s.get("run", "") for s in steps)
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert hook["id"] == "wsep" and hook["entry"] == "wsep score"
    assert re.search(hook["files"], "models/a.safetensors") and not re.search(hook["files"], "README.md")


def test_config_example_is_valid(tmp_path: Path) -> None:
    (toml,) = _blocks("toml")
    p = tmp_path / "pyproject.toml"
    p.write_text(toml, encoding="utf-8")
    cfg = load_config(p)
    assert cfg.settings["max-epsilon"] == 0.2 and len(cfg.overrides) == 2
    documented = set(re.findall(r"\| `([a-z-]+)` \| `WSEP_", DOC))
    assert documented == set(KEYS)
