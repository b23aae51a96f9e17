"""Imported by the crash tests' forkserver only: one single-threaded run, so that its children start warm
(imports done, datasets cached, kernels and fonts initialised)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"
import torch  # noqa: E402

torch.set_num_threads(1)
from ft_crash import SETTINGS  # noqa: E402

from wsep_cli.finetune.config import FinetuneConfig  # noqa: E402
from wsep_cli.finetune.options import config_from_options  # noqa: E402, F401 - children use it
from wsep_cli.finetune.trainer import run_finetune  # noqa: E402

_tmp = Path(tempfile.mkdtemp(prefix="wsep-warm-"))
try:
    run_finetune(FinetuneConfig(output=str(_tmp / "run"), **SETTINGS))
finally:
    shutil.rmtree(_tmp, ignore_errors=True)
