"""Which matrix is the classifier, and why: the order of evidence (``locator``), the rules on names
and shapes (``rules``), the name lists (``names``) and timm's classifier names (``timm_names``)."""

from wsep_cli.locate.locator import (
    KNOWN_CLASSIFIER_NAMES,
    Head,
    candidate_matrices,
    canonical_key,
    load_head_matrix,
    locate,
)

__all__ = ["Head", "KNOWN_CLASSIFIER_NAMES", "canonical_key", "candidate_matrices", "locate", "load_head_matrix"]
