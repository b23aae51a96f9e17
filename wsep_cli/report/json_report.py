"""The versioned JSON document (docs/json-schema.md)."""

from __future__ import annotations

import json
from typing import Any

from wsep_cli import __version__
from wsep_cli.report import ScoreReport
from wsep_cli.results import SCHEMA_VERSION

__all__ = ["render_json", "report_document"]


def report_document(report: ScoreReport) -> dict[str, Any]:
    results = []
    for r in report.results:
        d = r.to_dict()
        if report.gate is not None:  # exit codes already count the gate (wsep_cli.pipeline.run_score)
            d["gate"] = report.gate.for_path(r.path).to_dict()
        results.append(d)
    doc: dict[str, Any] = {"wsep_version": __version__, "schema_version": SCHEMA_VERSION, "results": results}
    if report.gate is not None:
        doc["gate"] = report.gate.to_dict()
    return doc


def render_json(report: ScoreReport) -> str:
    return json.dumps(report_document(report), indent=2, allow_nan=False) + "\n"
