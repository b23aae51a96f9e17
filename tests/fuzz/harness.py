"""Fuzz cases from the bundled fixtures, and a guarded in-process runner for ``score_file``.

A case is a function of (seed, index) only, so any failure is reproducible from the two numbers the
test prints. The runner enforces a wall-clock limit (SIGALRM, plus a faulthandler backstop for hangs
inside C code) and an address-space budget (RLIMIT_DATA), and sorts each outcome into ok / error /
defended (a raw exception the score pipeline's defensive layer turned into an error) / crash / hang.
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import logging
import os
import random
import resource
import signal
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mutate_bytes import GENERIC, splice
from mutate_formats import (
    mutate_legacy,
    mutate_onnx_wire,
    mutate_safetensors_header,
    mutate_shard_index,
    mutate_zip_members,
    mutate_zip_records,
    nan_fill_safetensors,
)

__all__ = ["FORMATS", "Case", "Outcome", "make_case", "run_case", "save_to_corpus", "memory_budget",
           "DEFENSIVE_MARK", "CORPUS", "HANG_SECONDS"]

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
CORPUS = REPO / "tests" / "corpus"
HANG_SECONDS = 10
DEFENSIVE_MARK = "malformed file ("  # what score_file's defensive layer puts in its messages

Mutator = Callable[[bytes, random.Random], bytes]

_SPECIFIC: dict[str, list[tuple[Mutator, int]]] = {
    "safetensors": [(mutate_safetensors_header, 8), (nan_fill_safetensors, 1)],
    "pt": [(mutate_zip_records, 4), (mutate_zip_members, 6)],
    "legacy": [(mutate_legacy, 9)],
    "onnx": [(mutate_onnx_wire, 9)],
}
_FILES = {"safetensors": "digits_mlp.safetensors", "pt": "digits_mlp.pt", "legacy": "digits_mlp_legacy.pt",
          "onnx": "digits_mlp.onnx"}
FORMATS = ("safetensors", "pt", "legacy", "onnx", "sharded")
_SHARD_DIR = "digits_mlp_sharded"
_INDEX = "model.safetensors.index.json"


@dataclass(frozen=True)
class Case:
    """One mutated input: the files to write (relative path -> bytes) and which one to score."""

    seed: int
    index: int
    fmt: str
    mutators: tuple[str, ...]
    files: dict[str, bytes]
    entry: str

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + self.files[name])
        return h.hexdigest()[:12]


@dataclass
class Outcome:
    """How one case ended; ``detail`` holds the traceback tail for crashes and defended cases."""

    kind: str  # "ok" | "error" | "defended" | "crash" | "hang"
    exit_code: int | None = None
    message: str = ""
    detail: str = ""
    signature: str = ""
    problems: list[str] = field(default_factory=list)


def _fixture_bytes() -> dict[str, bytes]:
    out = {k: (FIXTURES / v).read_bytes() for k, v in _FILES.items()}
    for p in sorted((FIXTURES / _SHARD_DIR).iterdir()):
        out[f"sharded/{p.name}"] = p.read_bytes()
    return out


_BASE: dict[str, bytes] = {}


def base_bytes() -> dict[str, bytes]:
    if not _BASE:
        _BASE.update(_fixture_bytes())
    return _BASE


def _mutate(fmt: str, data: bytes, rng: random.Random) -> tuple[bytes, str]:
    base = base_bytes()
    choices: list[tuple[str, Mutator, int]] = [(n, f, 1) for n, f in GENERIC.items()]
    choices += [(f.__name__, f, w) for f, w in _SPECIFIC.get(fmt, [])]
    choices.append(("splice", lambda d, r: splice(d, r.choice(list(base.values())), r), 2))
    name, fn, _ = rng.choices(choices, [w for *_, w in choices])[0]
    try:
        return fn(data, rng), name
    except Exception:  # noqa: BLE001 - a structured mutator on already-broken bytes: flip bits instead
        return GENERIC["bit_flip"](data, rng), "bit_flip"


def make_case(seed: int, index: int) -> Case:
    """The case number ``index`` of the run seeded ``seed``; formats take turns."""
    rng = random.Random(f"{seed}:{index}")
    fmt = FORMATS[index % len(FORMATS)]
    base = base_bytes()
    names: list[str] = []
    if fmt == "sharded":
        files = {k.split("/", 1)[1]: v for k, v in base.items() if k.startswith("sharded/")}
        target = rng.choice((_INDEX, _INDEX, "model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors"))
        data = files[target]
        if target == _INDEX and rng.random() < 0.6:
            data, name = mutate_shard_index(data, rng), "mutate_shard_index"
        else:
            data, name = _mutate("safetensors" if target != _INDEX else "json", data, rng)
        files[target] = data
        names.append(name)
        entry = rng.choice((".", _INDEX))
    else:
        data = base[fmt]
        for _ in range(1 if rng.random() < 0.8 else 2):  # sometimes stack two mutations
            data, name = _mutate(fmt, data, rng)
            names.append(name)
        files = {_FILES[fmt]: data}
        entry = _FILES[fmt]
    return Case(seed, index, fmt, tuple(names), files, entry)


def write_case(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, blob in case.files.items():
        (folder / rel).write_bytes(blob)
    return folder / case.entry if case.entry != "." else folder


_QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


class FuzzTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that no reader's ``except Exception`` can swallow it."""


def _on_alarm(signum: int, frame: object) -> None:
    raise FuzzTimeout(f"no result after {HANG_SECONDS} s")


@contextlib.contextmanager
def memory_budget(extra_bytes: int = 4 << 30) -> Iterator[None]:
    """Cap new heap/anonymous memory at ``extra_bytes`` above what the process uses now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    used = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmData:"):
                used = int(line.split()[1]) * 1024
    cap = used + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


class _Capture(logging.Handler):
    """Keeps the exc_info the defensive layer logs, to locate the reader bug it covered."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


def _signature(exc: BaseException) -> tuple[str, str]:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "wsep_cli" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].name}" if ours else "?"  # stable across line shifts
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    mod = type(exc).__module__
    name = type(exc).__qualname__ if mod == "builtins" else f"{mod}.{type(exc).__qualname__}"
    return f"{name} at {where}", tail


def run_case(path: Path) -> Outcome:
    """Score ``path`` in-process under the time limit; classify what happened."""
    from wsep_cli.errors import WsepError
    from wsep_cli.results import FileResult
    from wsep_cli.pipeline import list_layers, score_file

    cap = _Capture()
    log = logging.getLogger("wsep_cli")
    log.addHandler(cap)
    old_level = log.level
    log.setLevel(logging.DEBUG)
    old = signal.signal(signal.SIGALRM, _on_alarm)
    faulthandler.dump_traceback_later(HANG_SECONDS * 3, exit=True)  # backstop: a hang inside C code
    signal.alarm(HANG_SECONDS)
    caught = warnings.catch_warnings(record=True)
    seen = caught.__enter__()
    warnings.simplefilter("always")
    stage, layers_msg = "score_file", ""
    try:
        result = score_file(str(path))
        stage = "list_layers"  # what `wsep layers` runs: may raise, but only a WsepError
        try:
            list_layers(str(path))
        except WsepError as e:
            layers_msg = str(e)
    except FuzzTimeout as e:
        sig, tail = _signature(e)
        return Outcome("hang", message=f"{stage}: {e}", detail=tail, signature=f"hang at {sig.split(' at ')[-1]}")
    except WsepError as e:
        sig, tail = _signature(e)
        return Outcome("crash", message=f"score_file raised {type(e).__name__}: {e}", detail=tail, signature=sig)
    except Exception as e:  # noqa: BLE001 - this is what the fuzz looks for
        sig, tail = _signature(e)
        return Outcome("crash", message=f"{stage}: {type(e).__name__}: {e}", detail=tail, signature=sig)
    finally:
        signal.alarm(0)
        faulthandler.cancel_dump_traceback_later()
        caught.__exit__(None, None, None)
        signal.signal(signal.SIGALRM, old)
        log.removeHandler(cap)
        log.setLevel(old_level)
    out = Outcome("ok" if result.status == "ok" else "error", exit_code=result.exit_code, message=result.error or "")
    if not isinstance(result, FileResult):
        out.problems.append(f"score_file returned {type(result).__name__}")
    for w in seen:  # the CLI would print these to stderr (its default filters hide the quiet ones)
        if issubclass(w.category, _QUIET_WARNINGS):
            continue
        out.problems.append(f"warning {w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})")
    if result.exit_code not in (0, 3, 4):
        out.problems.append(f"exit code {result.exit_code}")
    if (result.status == "ok") != (result.exit_code == 0):
        out.problems.append(f"status {result.status!r} with exit code {result.exit_code}")
    if result.status != "ok" or DEFENSIVE_MARK in layers_msg:
        msg = result.error or ""
        if result.status != "ok" and (not msg.strip() or "\n" in msg or "Traceback" in msg):
            out.problems.append(f"error message is not one non-empty line: {msg!r}")
        if DEFENSIVE_MARK in msg or DEFENSIVE_MARK in layers_msg:
            out.kind = "defended"
            if cap.records and cap.records[-1].exc_info and cap.records[-1].exc_info[1] is not None:
                out.signature, out.detail = _signature(cap.records[-1].exc_info[1])
            else:
                src = msg if DEFENSIVE_MARK in msg else layers_msg
                out.signature = src.split(DEFENSIVE_MARK, 1)[1].split(":", 1)[0]
    return out


def save_to_corpus(case: Case, outcome: Outcome, corpus: Path = CORPUS) -> Path:
    """Keep a failing input as a regression case, with a note saying what it was."""
    corpus.mkdir(parents=True, exist_ok=True)
    stem = f"{case.fmt}-{outcome.kind}-{case.digest}"
    if len(case.files) == 1:
        (rel, blob), = case.files.items()
        target = corpus / (stem + Path(rel).suffix)
        target.write_bytes(blob)
        entry = ""
    else:
        target = corpus / stem
        target.mkdir(exist_ok=True)
        for rel, blob in case.files.items():
            (target / rel).write_bytes(blob)
        entry = f"entry: {case.entry}\n"
    note = (
        f"what: {outcome.kind} - {outcome.signature}: {' '.join(outcome.message.split())[:300]}\n"
        f"found-by: tests/fuzz/test_fuzz_readers.py seed={case.seed} case={case.index} "
        f"mutators={','.join(case.mutators)}\n{entry}"
        + ("allow-defended: yes\n" if outcome.kind == "defended" else "")
    )
    target.with_name(target.name + ".note").write_text(note)
    return target


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default
