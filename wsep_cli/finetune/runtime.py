"""Where a run executes: device, precision, and (under ``torchrun``) the DDP process group.

``torchrun --nproc_per_node N wsep finetune ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; the group
uses NCCL on CUDA and gloo on CPU. Only rank 0 logs and writes files; metrics are all-reduced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import torch

from wsep_cli.errors import UsageError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Runtime", "setup_runtime", "all_reduce_sum"]


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    precision: str  # fp32 | bf16 | fp16 (resolved)
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def autocast_dtype(self) -> Optional[torch.dtype]:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def describe(self) -> dict[str, object]:
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"
        return {"device": str(self.device), "device_name": name, "precision": self.precision,
                "world_size": self.world, "torch": torch.__version__,
                "threads": torch.get_num_threads()}


def _device(spec: str, local_rank: int, distributed: bool) -> torch.device:
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError(f"--device {spec}: no CUDA device is available here; use --device cpu")
    dev = torch.device(spec)
    if distributed:
        dev = torch.device("cuda", local_rank)  # one GPU per process
    index = dev.index if dev.index is not None else 0
    if index >= torch.cuda.device_count():
        raise UsageError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) here")
    return torch.device("cuda", index)


def _precision(requested: str, device: torch.device) -> str:
    if requested == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise UsageError("--precision fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
    return requested


def setup_runtime(device: str, precision: str) -> Runtime:
    """Resolve the device and precision; join the torchrun process group if there is one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _device(device, local_rank, world > 1)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend, device_id=dev if dev.type == "cuda" else None)
    return Runtime(dev, _precision(precision, dev), rank, world, local_rank)


def all_reduce_sum(t: "Tensor", rt: Runtime) -> "Tensor":
    """Sum ``t`` over all ranks (in place; a no-op in a single process)."""
    if rt.distributed:
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return t


def teardown(rt: Runtime) -> None:
    if rt.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
