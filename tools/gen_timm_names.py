"""Write wsep's two tables of timm facts, so that wsep never imports timm (~5 s, ~800 MB) to learn them.

- wsep_cli/locate/timm_table.py: every timm architecture and its ``pretrained_cfg["classifier"]``, read
  when a checkpoint names its ``arch`` or the user passes ``--arch``;
- wsep_cli/hf/timm_repos_table.py: every timm model name (deprecated aliases too) and the Hub repo of
  its default pretrained weights (``resnet50`` -> ``timm/resnet50.a1_in1k``), read for ``timm:NAME``.

Regenerate both after upgrading timm:

    python tools/gen_timm_names.py            (rewrite the tables)
    python tools/gen_timm_names.py --check    (exit 1 when either differs from the installed timm)

tests/locate/test_timm_table.py and tests/hf/test_timm_default_tags.py run the check whenever timm is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

TABLE = Path(__file__).resolve().parents[1] / "wsep_cli" / "locate" / "timm_table.py"
REPOS = Path(__file__).resolve().parents[1] / "wsep_cli" / "hf" / "timm_repos_table.py"


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


def _wrapped(names: list[str], indent: str = "        ") -> list[str]:
    """Space-separated names as implicitly concatenated string literals, under 100 columns."""
    lines: list[str] = []
    row: list[str] = []
    for a in names:
        if row and len(" ".join(row + [a])) > 88:
            lines.append(f"{indent}{' '.join(row) + ' '!r}")
            row = []
        row.append(a)
    lines.append(f"{indent}{' '.join(row)!r}")
    return lines


def _timm_repo(cfg: object) -> str | None:
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    return hub_id if isinstance(hub_id, str) and hub_id.startswith("timm/") and "." in hub_id else None


def collect_repos() -> tuple[str, dict[str, str | None]]:
    """(timm version, model name -> Hub repo of its default pretrained weights, None: no ``timm/`` repo).

    The repo is the ``hf_hub_id`` of ``get_pretrained_cfg(name)``: what ``timm.create_model(name,
    pretrained=True)`` downloads. Deprecated aliases map to the repo of the name they stand for.
    """
    import timm
    from timm.models import get_deprecated_models, get_pretrained_cfg

    repos: dict[str, str | None] = {arch: _timm_repo(get_pretrained_cfg(arch)) for arch in timm.list_models()}
    for old, new in get_deprecated_models().items():
        try:
            cfg = get_pretrained_cfg(new) if new else None
        except RuntimeError:  # an alias naming a tag its architecture no longer has
            cfg = None
        repos.setdefault(old, _timm_repo(cfg))
    return timm.__version__, repos


def render_repos(version: str, repos: dict[str, str | None]) -> str:
    by_tag: dict[str, list[str]] = {}
    other: dict[str, str] = {}
    none: list[str] = []
    for name, repo in sorted(repos.items()):
        if repo is None:
            none.append(name)
        elif repo.startswith(f"timm/{name}."):
            by_tag.setdefault(repo[len(f"timm/{name}."):], []).append(name)
        else:
            other[name] = repo
    lines = [
        '"""timm model names and the Hub repo of their default pretrained weights: generated, do not edit.',
        "",
        "Written by ``python tools/gen_timm_names.py`` from timm " + version + ". A name in ``DEFAULT_TAGS``",
        "under TAG reads ``timm/NAME.TAG``; ``OTHER_REPOS`` names the repo outright (an alias, a variant",
        "sharing another model's weights); ``NO_TIMM_REPO`` names have no ``timm/`` safetensors repo",
        "(untrained, another organisation's repo, or a URL): timm itself loads those.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"TIMM_VERSION = {version!r}",
        "",
        "DEFAULT_TAGS: dict[str, str] = {",
    ]
    for tag in sorted(by_tag):
        lines.append(f"    {tag!r}: (")
        lines.extend(_wrapped(by_tag[tag]))
        lines.append("    ),")
    lines.append("}")
    lines.append("")
    lines.append("OTHER_REPOS: dict[str, str] = {")
    lines.extend(f"    {name!r}: {repo!r}," for name, repo in sorted(other.items()))
    lines.append("}")
    lines.append("")
    lines.append("NO_TIMM_REPO: str = (")
    lines.extend(_wrapped(none, indent="    "))
    lines.append(")")
    return "\n".join(lines) + "\n"


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
        lines.extend(_wrapped(sorted(groups[names])))
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    tables = {TABLE: render(*collect()), REPOS: render_repos(*collect_repos())}
    if "--check" in argv:
        stale = [p for p, text in tables.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for p in stale:
            print(f"{p} is stale for the installed timm; run python tools/gen_timm_names.py", file=sys.stderr)
        return 1 if stale else 0
    for p, text in tables.items():
        p.write_text(text, encoding="utf-8")
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
