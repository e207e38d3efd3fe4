"""A small residual 3D CNN image encoder built from MONAI's ResidualUnit blocks.

On CPU with a few hundred volumes a CNN learns local findings (nodules, opacities, effusions)
far faster than a ViT trained from scratch: a supervised probe on synth-ct-rate at 32x64x64
reached a validation macro AUC of 0.69-0.72 in 12 epochs with this encoder against 0.58 with the
ViT of the same budget (docs/models.md). It returns a token grid like the ViT, so anatomy pooling
works the same on both.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import ResidualUnit
from torch import nn

from cabench.models.config import ImageEncoderConfig


class CNN3D(nn.Module):
    """Volume (B, C, D, H, W) -> tokens (B, N, width); one stride-2 residual unit per stage."""

    def __init__(self, config: ImageEncoderConfig, input_shape: tuple[int, int, int]) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        channels = config.in_channels
        for out_channels in config.stem_channels:
            stages.append(
                ResidualUnit(
                    3,
                    channels,
                    out_channels,
                    strides=2,
                    subunits=2,
                    norm=("group", {"num_groups": min(8, out_channels)}),
                    act="GELU",
                )  # fmt: skip
            )
            channels = out_channels
        self.stages = nn.Sequential(*stages)
        self.head = nn.Conv3d(channels, config.width, kernel_size=1)
        factor = 2 ** len(config.stem_channels)
        for size in input_shape:
            if size % factor:
                raise ValueError(f"input shape {tuple(input_shape)} is not divisible by {factor}")
        self.stride = (factor, factor, factor)
        self.grid = tuple(size // factor for size in input_shape)
        self.width = config.width
        # Channels-last 3D convolutions: a training step of the tiny encoder (batch 16 at
        # 32 x 64 x 64, forward and backward) took about 20% less time on 2 CPU cores.
        self.to(memory_format=torch.channels_last_3d)

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        volume = volume.contiguous(memory_format=torch.channels_last_3d)
        return self.head(self.stages(volume)).flatten(2).transpose(1, 2)
