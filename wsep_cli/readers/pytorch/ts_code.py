"""Which modules of a TorchScript archive feed a Softmax / LogSoftmax / Sigmoid: evidence for ranking
sibling heads (a classifier beside box regressors), read from the archive's ``code/`` text.

TorchScript serialises each module class as Python-like source under ``<prefix>/code/``: attribute
declarations (``dense6_1 : __torch__.torch.nn.modules.linear.Linear``) and a ``forward`` whose calls
read ``(dense6_1).forward(x0, )``. This module never runs or compiles that text; it matches three
patterns with regular expressions, all bounded by the text's size:

- ``torch.softmax((VAR).forward(...`` (also ``log_softmax``, ``sigmoid`` and an alias
  ``_0 = __torch__.torch.nn.functional.softmax`` called as ``_0((VAR).forward(...``);
- ``(ACT).forward((VAR).forward(...`` where ``ACT`` is declared a ``Softmax``/``LogSoftmax``/``Sigmoid``
  module;
- either of them applied to a temporary ``T = (VAR).forward(...)``.

``VAR`` is a local bound by ``VAR = self.ATTR``; the result maps module attribute names (``dense6_1``)
to the op. Attribute names are local to their class, so a tensor matches by its module's last name.
"""

from __future__ import annotations

import re

__all__ = ["classifying_attributes", "activations_for", "MAX_CODE_BYTES"]

MAX_CODE_BYTES = 4 * 1024 * 1024  # the code text read from one archive; real models have < 1 MiB
_MAX_ACTIVATION_MODULES = 64  # per code file: each costs one pass over its text
_OPS = {"softmax": "Softmax", "log_softmax": "LogSoftmax", "sigmoid": "Sigmoid"}
_DECL = re.compile(r"^\s+(\w+) : __torch__\.torch\.nn\.modules\.activation\.(?:___torch_mangle_\d+\.)?"
                   r"(Softmax|LogSoftmax|Sigmoid)\s*$", re.M)
_BIND = re.compile(r"^\s+(\w+) = \w+\.(\w+)\s*$", re.M)
_ALIAS = re.compile(r"^\s+(\w+) = __torch__\.torch\.nn\.functional\.(softmax|log_softmax|sigmoid)\s*$", re.M)
_TEMP = re.compile(r"^\s+(\w+) = \((\w+)\)\.forward\(", re.M)
_CALL = re.compile(r"(?:torch\.(softmax|log_softmax|sigmoid)|\b(\w+))\(\(?(\w+)\)?(\.forward\()?")


def classifying_attributes(sources: list[str]) -> dict[str, str]:
    """Module attribute names whose output a classifying op reads, with the op (``"Softmax"``, ...)."""
    out: dict[str, str] = {}
    for text in sources:
        acts = {name: op for name, op in _DECL.findall(text)}
        local = {var: attr for var, attr in _BIND.findall(text)}
        aliases = {a: _OPS[f] for a, f in _ALIAS.findall(text)}
        temps = {t: local.get(v, v) for t, v in _TEMP.findall(text)}
        for fn, callee, arg, forward in _CALL.findall(text):
            op = _OPS.get(fn) or aliases.get(callee)
            attr = local.get(arg) if forward else temps.get(arg)
            if op and attr:
                out.setdefault(attr, op)
        act_vars = [(v, a) for v, a in local.items() if a in acts][:_MAX_ACTIVATION_MODULES]
        for act_var, act_attr in act_vars:
            for inner in re.findall(rf"\({re.escape(act_var)}\)\.forward\(\(?(\w+)\)?(\.forward\()?", text):
                arg, forward = inner
                attr = local.get(arg) if forward else temps.get(arg)
                if attr:
                    out.setdefault(attr, acts[act_attr])
    return out


def activations_for(tensor_names: list[str], sources: list[str]) -> dict[str, str]:
    """Stored tensor name -> the classifying op its module's output feeds (``fc.weight`` matches ``fc``)."""
    attrs = classifying_attributes(sources)
    if not attrs:
        return {}
    out = {}
    for name in tensor_names:
        parts = name.split(".")
        if len(parts) >= 2 and parts[-2] in attrs:
            out[name] = attrs[parts[-2]]
    return out
