"""Shared test helpers: where the real third-party data lives, and running the installed ``wsep``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def shared_file(rel: str) -> Path:
    """A file under ../shared/data, or skip the test cleanly when it is absent."""
    p = SHARED_DATA / rel
    if not p.exists():
        pytest.skip(f"shared test data not present: {p}")
    return p


def wsep_executable() -> list[str]:
    """The installed console script (falls back to ``python -m wsep_cli``)."""
    exe = shutil.which("wsep")
    return [exe] if exe else [sys.executable, "-m", "wsep_cli"]


def run_wsep(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("GITHUB_STEP_SUMMARY", None)
    for k in [k for k in full_env if k.startswith("WSEP_")]:
        full_env.pop(k)
    if env:
        full_env.update(env)
    return subprocess.run(
        [*wsep_executable(), *args], capture_output=True, text=True, cwd=cwd, env=full_env,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )


def run_json(*args: str, **kw: Any) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run_wsep("score", "--json", *args, **kw)
    return proc, json.loads(proc.stdout)


def bytes_read_so_far() -> int:
    """Bytes this process has read through read() syscalls so far (Linux ``/proc/self/io``, rchar)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``wsep ARGS`` in this process (``wsep_cli.cli.app.main``, the console script's body), with the
    environment ``run_wsep`` would give it. For tests where nothing depends on the process itself
    (imports, start-up, signals, hostile files keep :func:`run_wsep`); ~100x cheaper than a start."""
    from click.testing import CliRunner

    from wsep_cli.cli import app as cli_app

    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("WSEP_")}
    overrides["GITHUB_STEP_SUMMARY"] = None
    overrides.update(env or {})
    code = 0
    with CliRunner().isolation(env=overrides) as (out, err, _mixed):
        saved_argv, saved_cwd, saved_debug = sys.argv, os.getcwd(), dict(cli_app._state)
        sys.argv = ["wsep", *args]
        cli_app._state["debug"] = False
        try:
            if cwd is not None:
                os.chdir(cwd)
            cli_app.main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            sys.argv = saved_argv
            os.chdir(saved_cwd)
            cli_app._state.update(saved_debug)
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return subprocess.CompletedProcess(["wsep", *args], code, stdout, stderr)


def run_cli_json(*args: str, **kw: Any) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run_cli("score", "--json", *args, **kw)
    return proc, json.loads(proc.stdout)
