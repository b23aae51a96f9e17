"""JUnit XML: exact document for hand-built results; parses with xml.etree; one failure per violation."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from report_builders import error, head, ok

from wsep_cli.gate.baseline import baseline_from_results
from wsep_cli.gate.checks import Thresholds, evaluate
from wsep_cli.report import ScoreReport
from wsep_cli.report.junit import render_junit


def test_exact_document() -> None:
    results = (ok("a.safetensors", head("fc.weight", 0.5, 0.25, 0.5)), error("b.pt", 4, "b.pt: the file is empty"))
    gate = evaluate(results, thresholds=Thresholds(max_epsilon=0.4, max_abs_cos=0.75))
    assert render_junit(ScoreReport(results=results, gate=gate)) == (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<testsuites name="wsep" tests="3" failures="1" errors="1">\n'
        '  <testsuite name="a.safetensors" tests="2" failures="1" errors="0">\n'
        '    <testcase classname="a.safetensors" name="fc.weight: epsilon &lt;= 0.4 (max-epsilon)">\n'
        '      <failure message="a.safetensors fc.weight: epsilon = 0.5 &gt; 0.4 (max-epsilon)" type="max-epsilon">'
        "rule: max-epsilon\nmetric: epsilon\nvalue: 0.5\nlimit: 0.4</failure>\n"
        "    </testcase>\n"
        '    <testcase classname="a.safetensors" name="fc.weight: cosine.abs_max &lt;= 0.75 (max-abs-cos)" />\n'
        "  </testsuite>\n"
        '  <testsuite name="b.pt" tests="1" failures="0" errors="1">\n'
        '    <testcase classname="b.pt" name="score">\n'
        '      <error message="b.pt: the file is empty" type="exit 4">b.pt: the file is empty</error>\n'
        "    </testcase>\n"
        "  </testsuite>\n"
        "</testsuites>\n"
    )


def test_one_testcase_per_file_head_threshold_and_one_failure_per_violation() -> None:
    results = (
        ok("m1.pt", head("head", 0.5, 0.25, 0.5), head("head_dist", 0.1, 0.05, 0.2)),
        ok("m2.pt", head("fc", 2.0, 1.0, 0.9)),
    )
    gate = evaluate(results, thresholds=Thresholds(max_epsilon=0.4, max_epsilon_normalized=0.5, max_abs_cos=0.3))
    root = ET.fromstring(render_junit(ScoreReport(results=results, gate=gate)))
    cases = list(root.iter("testcase"))
    assert len(cases) == 3 * 3  # 3 heads x 3 thresholds
    failures = [c.find("failure") for c in cases if c.find("failure") is not None]
    assert len(failures) == len(gate.violations) == 5
    assert root.get("tests") == "9" and root.get("failures") == "5" and root.get("errors") == "0"
    texts = {f.get("message") for f in failures}
    assert "m2.pt fc: epsilon_normalized = 1 > 0.5 (max-epsilon-normalized)" in texts
    for f in failures:
        assert "value: " in f.text and "limit: " in f.text


def test_baseline_checks_and_unmatched_files_are_testcases() -> None:
    old = baseline_from_results([ok("a.pt", head("fc", 0.25, 0.25, 0.5)), ok("gone.pt", head("fc", 1, 1, 1))])
    results = (ok("a.pt", head("fc", 0.5, 0.25, 0.5)),)
    gate = evaluate(results, baseline=old)
    root = ET.fromstring(render_junit(ScoreReport(results=results, gate=gate)))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"a.pt", "baseline"}
    fail = suites["a.pt"].find("testcase/failure")
    assert fail.get("type") == "baseline" and "baseline: 0.25" in fail.text and "value: 0.5" in fail.text
    missing = suites["baseline"].find("testcase/failure")
    assert missing.get("type") == "missing-file" and "gone.pt" in missing.get("message")


def test_without_gate_every_head_is_a_passing_testcase() -> None:
    results = (ok("a.pt", head("fc", 0.5, 0.25, 0.5)),)
    root = ET.fromstring(render_junit(ScoreReport(results=results)))
    (case,) = root.iter("testcase")
    assert case.get("name") == "fc: scored" and len(case) == 0
