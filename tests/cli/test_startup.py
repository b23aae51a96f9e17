"""Start-up without cyclic GC passes (wsep_cli/cli/startup.py): paused for the imports, resumed after."""

from __future__ import annotations

import gc
import subprocess
import sys
from importlib.metadata import entry_points

from conftest import FIXTURES, REPO

from wsep_cli.cli import startup


def test_console_script_is_the_launcher() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "wsep"]
    assert script.value == "wsep_cli.cli.launch:main"


def test_begin_pauses_and_ready_freezes_and_resumes() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        startup.begin()
        assert not gc.isenabled()
        startup.ready()
        assert gc.isenabled() and gc.get_freeze_count() > frozen
        after = gc.get_freeze_count()
        startup.ready()  # a second call changes nothing
        assert gc.isenabled() and gc.get_freeze_count() == after
    finally:
        gc.unfreeze()
        gc.enable()


def test_ready_without_begin_leaves_the_collector_alone() -> None:
    gc.disable()  # a library user's own choice
    try:
        startup.ready()
        assert not gc.isenabled()
    finally:
        gc.enable()


def _gc_state_after(*argv: str) -> tuple[int, str]:
    """Run the launcher in a fresh process and report the collector's state as the process ends."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('GC', gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr))\n"
        f"sys.argv = ['wsep', *{list(argv)!r}]\n"
        "from wsep_cli.cli.launch import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    return proc.returncode, proc.stderr


def test_every_command_resumes_collection() -> None:
    st = str(FIXTURES / "digits_mlp.safetensors")
    for argv in (["score", "--json", st], ["layers", st], ["compare", "-f", "json", st, st], ["--help"],
                 ["score", "missing.safetensors"]):
        rc, err = _gc_state_after(*argv)
        assert rc in (0, 2), (argv, err[-500:])
        assert "GC True True" in err, (argv, err[-500:])
