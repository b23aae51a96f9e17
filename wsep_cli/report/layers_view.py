"""``wsep layers``: the candidate matrices of one checkpoint, as text or JSON."""

from __future__ import annotations

import json

from wsep_cli.pipeline import LayerListing

__all__ = ["render_layers_text", "render_layers_json"]


def render_layers_text(listing: LayerListing) -> str:
    """One line per candidate; ``*`` marks a chosen head, with the rule that chose it."""
    lines = [f"{listing.spec} [{listing.format}]"]
    for r in listing.rows:
        mark = "*" if r.chosen else " "
        shape = "×".join(str(d) for d in r.shape)
        if r.scored_as is not None and tuple(r.shape) != r.scored_as:
            shape += f" stored, scored as {r.scored_as[0]} classes × {r.scored_as[1]} features"
        why = f"  <- {r.reason}" if r.chosen else ""
        lines.append(f" {mark} {r.name}  {shape}  {r.dtype}{why}")
    return "".join(line + "\n" for line in lines)


def render_layers_json(listing: LayerListing) -> str:
    """The listing as one JSON document (``chosen`` heads in the order the locator ranks them)."""
    doc = {
        "path": listing.spec,
        "format": listing.format,
        "candidates": [
            {"name": r.name, "shape": list(r.shape), "dtype": r.dtype, "chosen": r.chosen, "reason": r.reason or None,
             "scored_as": list(r.scored_as) if r.scored_as is not None else None}
            for r in listing.rows
        ],
        "error": str(listing.error) if listing.error is not None else None,
    }
    return json.dumps(doc, indent=2) + "\n"
