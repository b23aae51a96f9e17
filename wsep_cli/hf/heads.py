"""Which tensor is the head of a Hugging Face model, by the model's own convention.

transformers names each task head the same way across architectures; the class name in
``config.json`` ``architectures`` says the task (``...ForImageClassification``), and the names below are
the modules those classes define (read from transformers' modeling code). The first name the
checkpoint holds wins. Causal and masked LMs tie their output layer to the input embedding by default:
when ``tie_word_embeddings`` holds and the output weight is not stored, the embedding is the head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wsep_cli.hf.config import HFConfig
from wsep_cli.readers.base import HeadHint, TensorInfo

__all__ = ["TaskRule", "TASK_RULES", "UNTIED_BY_DEFAULT", "EMBEDDING_NAMES", "hints_for", "ties_embeddings"]


@dataclass(frozen=True)
class TaskRule:
    """Architectures whose class name matches ``pattern`` keep their head in one of ``modules``.

    ``heads`` > 1 reports that many of the listed modules as heads (a distilled model's two heads);
    ``tied`` says the head is the LM output layer, tied to the input embedding by default.
    """

    pattern: str
    modules: tuple[str, ...]
    heads: int = 1
    tied: bool = False


TASK_RULES: tuple[TaskRule, ...] = (
    # DeiT/LeViT with a distillation token: the class head and the distillation head.
    TaskRule(r"ForImageClassificationWithTeacher$",
             ("cls_classifier", "distillation_classifier", "classifier.linear", "classifier_distill.linear"), heads=2),
    # ResNet/RegNet: Sequential(Flatten, Linear) -> classifier.1; LeViT: classifier.linear; the rest: classifier.
    TaskRule(r"ForImageClassification$", ("classifier.1", "classifier.linear", "classifier", "head")),
    # RoBERTa/XLM-R/Electra: classifier.dense + classifier.out_proj; BART/T5: classification_head.out_proj;
    # decoder LMs (GPT-2, Llama, Qwen, Mistral, Gemma, Phi): score; BERT/DistilBERT/DeBERTa: classifier.
    TaskRule(r"ForSequenceClassification$",
             ("classifier.out_proj", "classification_head.out_proj", "score", "classifier", "logits_proj")),
    TaskRule(r"ForTokenClassification$", ("classifier", "score")),
    TaskRule(r"ForAudioClassification$", ("classifier",)),
    TaskRule(r"ForVideoClassification$", ("classifier",)),
    TaskRule(r"ForObjectDetection$", ("class_labels_classifier", "class_embed")),
    # BERT: cls.predictions.decoder; RoBERTa: lm_head.decoder; DistilBERT: vocab_projector; ALBERT:
    # predictions.decoder; DeBERTa: lm_predictions.lm_head.decoder; ModernBERT and others: decoder.
    TaskRule(r"ForMaskedLM$",
             ("cls.predictions.decoder", "lm_head.decoder", "vocab_projector", "predictions.decoder",
              "lm_predictions.lm_head.decoder", "decoder", "lm_head"), tied=True),
    TaskRule(r"(ForCausalLM|LMHeadModel|ForConditionalGeneration)$", ("lm_head",), tied=True),
)

# model_type values whose config class defaults tie_word_embeddings to False (transformers source);
# every other config inherits PretrainedConfig's True.
UNTIED_BY_DEFAULT = frozenset({
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "gpt_neox",
    "olmo", "olmo2", "stablelm", "granite", "deepseek_v3", "jamba", "mamba2", "dbrx", "internlm2",
})

# Input embeddings an LM head is tied to, in the order they are looked for.
EMBEDDING_NAMES = ("shared", "wte", "embed_tokens", "word_embeddings", "embed_in", "tok_embeddings",
                   "word_embedding", "embeddings")


def ties_embeddings(cfg: HFConfig) -> tuple[bool, str]:
    """Whether the output layer is tied to the input embedding, and where that comes from."""
    if cfg.tie_word_embeddings is not None:
        return cfg.tie_word_embeddings, f"tie_word_embeddings is {str(cfg.tie_word_embeddings).lower()} in config.json"
    tied = cfg.model_type not in UNTIED_BY_DEFAULT
    kind = cfg.model_type or "this model type"
    return tied, f"tie_word_embeddings is {str(tied).lower()} by default for {kind}"


def _weights(tensors: list[TensorInfo]) -> dict[str, TensorInfo]:
    """2-D tensors by module name (``classifier.weight`` -> ``classifier``)."""
    out = {}
    for t in tensors:
        if t.name.endswith(".weight") and len(t.shape) == 2 and min(t.shape) > 0:
            out.setdefault(t.name[: -len(".weight")], t)
    return out


def _find(mods: dict[str, TensorInfo], module: str) -> TensorInfo | None:
    """The module as stored, or under one wrapper prefix (``model.score``, ``base.classifier``)."""
    if module in mods:
        return mods[module]
    hits = [m for m in mods if m.endswith("." + module) and m.count(".") == module.count(".") + 1]
    return mods[hits[0]] if len(hits) == 1 else None


def _embedding(mods: dict[str, TensorInfo], cfg: HFConfig) -> TensorInfo | None:
    for name in EMBEDDING_NAMES:
        hits = sorted((m for m in mods if m == name or m.endswith("." + name)), key=lambda m: (m.count("."), m))
        for m in hits:
            t = mods[m]
            if cfg.vocab_size is None or t.shape[0] == cfg.vocab_size:
                return t
    return None


def _timm_hints(cfg: HFConfig, mods: dict[str, TensorInfo]) -> list[HeadHint]:
    names = ", ".join(repr(c) for c in cfg.timm_classifier)
    arch = cfg.architectures[0] if cfg.architectures else "the model"
    out = []
    for module in cfg.timm_classifier:
        t = _find(mods, module)
        if t is not None:
            extra = "" if not out else f"; a further head beside {out[0].name!r}"
            out.append(HeadHint(t.name, reason=f"timm config.json pretrained_cfg classifier {names} of {arch}{extra}"))
    return out


def hints_for(cfg: HFConfig, tensors: list[TensorInfo]) -> list[HeadHint]:
    """The head(s) ``cfg`` names among ``tensors``, primary first; ``[]`` when no rule applies."""
    mods = _weights(tensors)
    if cfg.is_timm:
        return _timm_hints(cfg, mods)
    for arch in cfg.architectures:
        rule = next((r for r in TASK_RULES if re.search(r.pattern, arch)), None)
        if rule is None:
            continue
        found = [(m, t) for m in rule.modules if (t := _find(mods, m)) is not None]
        if found:
            return _named(arch, rule, found)
        if rule.tied:
            return _tied(arch, rule, cfg, mods)
    return []


def _named(arch: str, rule: TaskRule, found: list[tuple[str, TensorInfo]]) -> list[HeadHint]:
    out: list[HeadHint] = []
    for module, t in found[: rule.heads]:
        extra = "" if not out else f"; a further head beside {out[0].name!r}"
        out.append(HeadHint(t.name, reason=f"config.json architectures {arch}: transformers keeps its head in "
                                           f"{module!r}{extra}"))
    return out


def _tied(arch: str, rule: TaskRule, cfg: HFConfig, mods: dict[str, TensorInfo]) -> list[HeadHint]:
    tied, why = ties_embeddings(cfg)
    if not tied:
        return []
    emb = _embedding(mods, cfg)
    if emb is None:
        return []
    return [HeadHint(emb.name, reason=f"config.json architectures {arch}: the output layer {rule.modules[0]!r} is "
                                      f"not stored; it is tied to the input embedding {emb.name!r} ({why})")]
