"""Glob patterns for ``[tool.wsep.overrides."glob"]``, matched against checkpoint paths.

``*`` and ``?`` stay within one path segment, ``**/`` spans folders, ``[abc]``/``[!abc]`` are
classes, and a pattern without ``/`` matches the file name in any folder. Patterns are relative to
the config file's folder.

Example:
    >>> glob_matches("models/*.onnx", "/p/models/a.onnx", Path("/p"))
    True
    >>> glob_matches("models/*.onnx", "/p/models/old/a.onnx", Path("/p"))
    False
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path, PurePosixPath

__all__ = ["glob_matches"]


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    i, out = 0, []
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in pattern[i + 1 :]:
            j = pattern.index("]", i + 1)
            body = pattern[i + 1 : j].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def glob_matches(pattern: str, path: str, root: Path) -> bool:
    """Does ``path`` (as given on the command line) match an override glob relative to ``root``?"""
    if path.startswith("timm:"):
        return _glob_regex(pattern).match(path) is not None
    p = Path(path)
    try:
        rel = p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = PurePosixPath(p.as_posix()).as_posix()
    if "/" not in pattern.rstrip("/"):
        return _glob_regex(pattern).match(PurePosixPath(rel).name) is not None
    return _glob_regex(pattern.removeprefix("./")).match(rel) is not None
