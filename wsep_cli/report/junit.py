"""JUnit XML, built with xml.etree: one testsuite per file, one testcase per file x head x check.

A violated threshold or baseline is a ``<failure>`` whose message names the file, head, metric,
value and limit; a file that could not be scored is an ``<error>``. Without a gate each head is one
passing testcase, so the document is never empty. Jenkins, GitLab and the common GitHub actions read
this layout.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from wsep_cli.gate.verdicts import Check
from wsep_cli.report import ScoreReport
from wsep_cli.results import FileResult

__all__ = ["render_junit"]


def _g(x: float | None) -> str:
    return "" if x is None else repr(float(x))  # shortest text that round-trips


def _failure_text(c: Check) -> str:
    parts = [f"rule: {c.rule}"]
    if c.metric is not None:
        parts += [f"metric: {c.metric}", f"value: {_g(c.value)}", f"limit: {_g(c.limit)}"]
    if c.baseline is not None:
        parts.append(f"baseline: {_g(c.baseline)}")
    return "\n".join(parts)


def _case(suite: ET.Element, path: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", {"classname": path, "name": name})


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", {"name": name})


def _fill_file(suite: ET.Element, r: FileResult, checks: tuple[Check, ...]) -> None:
    if r.status != "ok":
        err = ET.SubElement(_case(suite, r.path, "score"), "error", {"message": r.error or "", "type": f"exit {r.exit_code}"})
        err.text = r.error or ""
        return
    if not checks:
        for h in r.heads:
            _case(suite, r.path, f"{h.layer}: scored")
    _fill_checks(suite, checks)


def _fill_checks(suite: ET.Element, checks: tuple[Check, ...]) -> None:
    for c in checks:
        case = _case(suite, c.path, c.name)
        if not c.passed:
            fail = ET.SubElement(case, "failure", {"message": c.message, "type": c.rule})
            fail.text = _failure_text(c)


def _count(el: ET.Element) -> None:
    cases = el.iter("testcase")
    n = f = e = 0
    for case in cases:
        n += 1
        f += case.find("failure") is not None
        e += case.find("error") is not None
    el.set("tests", str(n))
    el.set("failures", str(f))
    el.set("errors", str(e))


def render_junit(report: ScoreReport) -> str:
    """The report as a JUnit XML document (UTF-8, with declaration)."""
    root = ET.Element("testsuites", {"name": "wsep"})
    for r in report.results:
        checks = report.gate.for_path(r.path).checks if report.gate is not None else ()
        _fill_file(_suite(root, r.path), r, checks)
    if report.gate is not None and report.gate.unmatched:
        _fill_checks(_suite(root, "baseline"), report.gate.unmatched)
    for suite in root.iter("testsuite"):
        _count(suite)
    _count(root)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
