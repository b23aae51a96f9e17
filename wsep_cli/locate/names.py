"""Names the locator knows: classifier modules, and modules that are never a classifier.

Plain data, kept apart from the rules in :mod:`wsep_cli.locate.rules` so the lists are easy to review
and extend.
"""

from __future__ import annotations

import re

__all__ = [
    "KNOWN_CLASSIFIER_NAMES",
    "FLOAT_DTYPES",
    "WRAPPERS",
    "OPTIMIZER_PARTS",
    "EMA_ROOTS",
    "ATTENTION_NAMES",
    "NOT_HEAD_PARTS",
    "NOT_HEAD_PATTERN",
]

FLOAT_DTYPES = {"float64", "float32", "float16", "bfloat16"}
WRAPPERS = ("module.", "_orig_mod.", "model.")

# Key components that mark optimizer / scheduler state: never a classifier, whatever its shape.
OPTIMIZER_PARTS = {
    "optimizer", "optimizers", "optimizer_states", "optimizer_state_dict", "optim", "opt_state",
    "lr_scheduler", "lr_schedulers", "scheduler", "scaler", "grad_scaler",
    "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "square_avg", "acc_delta",
}
# First components of EMA copies: used only when the file holds nothing else.
EMA_ROOTS = {"model_ema", "state_dict_ema", "ema", "ema_model", "ema_state_dict", "module_ema"}

# Last key components of attention projections: never the end of a classifier chain.
ATTENTION_NAMES = {
    "qkv", "kv", "qk", "q", "k", "v", "q_proj", "k_proj", "v_proj", "in_proj", "query", "key", "value",
    "to_qkv", "to_kv", "to_q", "to_k", "to_v",
}

# Key components of modules that end a backbone but are no classifier (pre-logits, stems, position
# encodings, attention internals). They never win by structure; a name or --layer still can.
NOT_HEAD_PARTS = {"attn", "attention", "pre_logits", "conv_head", "final_conv", "neck", "stem"}
NOT_HEAD_PATTERN = re.compile(r"embed|rel_pos|^stem_")

# Module names (full canonical keys, without ".weight") that hold a final classifier, in order of
# preference. All names timm's pretrained_cfg["classifier"] uses, torchvision's heads, and common
# hand-written and Hugging Face ones. A name also matches ``NAME.<index>`` (a Sequential / ModuleList entry).
KNOWN_CLASSIFIER_NAMES: tuple[str, ...] = (
    "head.fc.fc2",
    "head.classifier.linear",
    "head.classifier.fc",
    "head.classifier",
    "head.head.l",
    "head.head",
    "head.fc2",
    "head.fc",
    "head.linear",
    "head.l",
    "head.proj",
    "head.last_linear",
    "head.out",
    "heads.head",
    "heads",
    "head",
    "classifier.fc",
    "classifier.linear",
    "classifier",
    "classif",
    "last_linear",
    "fc.fc2",
    "fc",
    "linear",
    "logits",
    "classification_head",
    "cls_head",
    "predictions",
    "output",
    "out",
    "fc_out",
    "fc3",
    "fc2",
    "fc1",
    "linear3",
    "linear2",
    "linear1",
    "dense",
    "lm_head",
    "score",
)
