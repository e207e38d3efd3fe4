"""Where cabench uses its GPU numerics: bf16 autocast and fused AdamW.

Training, validation, evaluation and the GPU benchmark all ask here, so the GPU path is one
switch. Tests widen `GPU_NUMERICS_DEVICES` to ``{"cuda", "cpu"}`` to run that path on a CPU
(CPU autocast covers fewer ops than CUDA's, but it catches the same dtype mistakes: a bf16
tensor meeting a float32 one in an op that needs both alike)."""

from __future__ import annotations

from typing import Any

import torch

GPU_NUMERICS_DEVICES: frozenset[str] = frozenset({"cuda"})


def uses_gpu_numerics(device: torch.device) -> bool:
    """Whether `device` trains and evaluates with bf16 autocast and fused AdamW."""
    return device.type in GPU_NUMERICS_DEVICES


def autocast(device: torch.device) -> Any:
    """bf16 autocast on a GPU; a disabled context elsewhere (float32 throughout)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_gpu_numerics(device))


__all__ = ["GPU_NUMERICS_DEVICES", "autocast", "uses_gpu_numerics"]
