"""Write wsep_cli/locate/timm_table.py: every timm architecture and its pretrained_cfg["classifier"].

wsep reads that table instead of importing timm (~5 s, ~800 MB) when a checkpoint names its ``arch``
or the user passes ``--arch``. Regenerate it after upgrading timm:

    python tools/gen_timm_names.py            (rewrite the table)
    python tools/gen_timm_names.py --check    (exit 1 when it differs from the installed timm)

tests/locate/test_timm_table.py runs the check whenever timm is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

TABLE = Path(__file__).resolve().parents[1] / "wsep_cli" / "locate" / "timm_table.py"


def collect() -> tuple[str, dict[tuple[str, ...], list[str]]]:
    """(timm version, classifier names -> architectures); ``()`` groups architectures without one."""
    import timm
    from timm.models import get_pretrained_cfg

    groups: dict[tuple[str, ...], list[str]] = {}
    for arch in timm.list_models():
        cfg = get_pretrained_cfg(arch)
        value = getattr(cfg, "classifier", None) if cfg is not None else None
        names: tuple[str, ...] = () if value is None else (value,) if isinstance(value, str) else tuple(map(str, value))
        groups.setdefault(names, []).append(arch)
    return timm.__version__, groups


def render(version: str, groups: dict[tuple[str, ...], list[str]]) -> str:
    lines = [
        '"""timm architectures and their ``pretrained_cfg["classifier"]``: generated, do not edit.',
        "",
        "Written by ``python tools/gen_timm_names.py`` from timm " + version + ". ``GROUPS`` maps classifier",
        "module names (``()``: the architecture names none) to the architectures that use them.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"TIMM_VERSION = {version!r}",
        "",
        "GROUPS: dict[tuple[str, ...], str] = {",
    ]
    for names in sorted(groups):
        lines.append(f"    {names!r}: (")
        archs = sorted(groups[names])
        row: list[str] = []
        for a in archs:  # space-separated names, wrapped under 100 columns
            if row and len(" ".join(row + [a])) > 88:
                lines.append(f"        {' '.join(row) + ' '!r}")
                row = []
            row.append(a)
        lines.append(f"        {' '.join(row)!r}")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render(*collect())
    if "--check" in argv:
        if TABLE.read_text(encoding="utf-8") != text:
            print(f"{TABLE} is stale for the installed timm; run python tools/gen_timm_names.py", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
