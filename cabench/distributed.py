"""torchrun support shared by training and evaluation: one process group per launch (NCCL on GPU,
gloo on CPU), the rank's device, and a barrier that is a no-op in a single process."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from cabench.errors import UserError


def world_size() -> int:
    """Processes in this launch (torchrun sets WORLD_SIZE); 1 when not launched by torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def device_for(requested: str) -> torch.device:
    """auto | cpu | cuda -> this rank's device (cuda:LOCAL_RANK under torchrun)."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA GPU is visible; use --device cpu or auto")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if requested != "cpu":
        raise UserError(f"--device {requested!r}: use auto, cpu or cuda")
    return torch.device("cpu")


def init(device: torch.device) -> tuple[int, int]:
    """(rank, world size), joining the process group when launched by torchrun."""
    world = world_size()
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
