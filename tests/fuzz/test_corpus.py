"""Replay every input in ``tests/corpus/``: inputs that once crashed, hung or warned must now end cleanly.

Each entry is a file (or a folder, for sharded checkpoints) with a ``<name>.note`` beside it::

    what: <what went wrong when it was found>
    found-by: <test, seed, case number, mutators>   (fuzz finds) or  fixed-in: <what fixed it>
    entry: <file inside the folder to score>         (optional, folders only)
    expect-exit: 4                                   (optional: the exact exit code now required)
    allow-defended: yes                              (optional: the reader still relies on the
                                                      score pipeline's safety net for this input)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import CORPUS, memory_budget, run_case


def _entries() -> list[Path]:
    if not CORPUS.exists():
        return []
    return sorted(p for p in CORPUS.iterdir() if not p.name.endswith(".note") and p.name != "README.md")


def _note(entry: Path) -> dict[str, str]:
    note = entry.with_name(entry.name + ".note")
    out: dict[str, str] = {}
    if note.exists():
        for line in note.read_text().splitlines():
            key, sep, value = line.partition(":")
            if sep:
                out[key.strip()] = value.strip()
    return out


ENTRIES = _entries()


def test_corpus_is_not_empty_and_every_entry_has_a_note() -> None:
    assert ENTRIES, "tests/corpus/ holds no regression inputs"
    for entry in ENTRIES:
        note = _note(entry)
        assert note.get("what"), f"{entry.name} has no .note with a 'what:' line"
    orphans = [n for n in CORPUS.glob("*.note") if not n.with_name(n.name[: -len(".note")]).exists()]
    assert not orphans, orphans


@pytest.mark.parametrize("entry", ENTRIES, ids=[p.name for p in ENTRIES])
def test_corpus_entry_replays_cleanly(entry: Path) -> None:
    note = _note(entry)
    target = entry / note["entry"] if entry.is_dir() and note.get("entry") else entry
    with memory_budget():
        out = run_case(target)
    assert out.kind not in ("crash", "hang"), f"{entry.name}: {out.kind} {out.signature}\n{out.detail}"
    assert not out.problems, out.problems
    if note.get("allow-defended") != "yes":
        assert out.kind != "defended", f"{entry.name}: only the safety net caught it: {out.signature}"
    if "expect-exit" in note:
        assert out.exit_code == int(note["expect-exit"]), (out.exit_code, out.message)
