"""The CI gate: thresholds and configuration (``config``), baselines (``baseline``), the checks
themselves (``checks``) and ``wsep compare`` (``compare``).

Empty on purpose: a score run without thresholds never loads the gate, baseline or TOML code.
"""
