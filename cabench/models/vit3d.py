"""3D Vision Transformer image encoder (Conv3d patch embedding, PyTorch SDPA attention).

An optional convolutional stem (stride-2 convolutions before patchifying) helps small ViTs learn
from little data on CPU; with an empty stem this is the plain patch-embedding ViT of CT-CLIP and
fVLM. The encoder returns the token grid, so anatomy-level models can pool tokens inside masks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cabench.models.config import ImageEncoderConfig


class Attention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        qkv = self.qkv(x).view(batch, tokens, 3, self.heads, width // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, width))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads, dropout)
        self.norm2 = nn.LayerNorm(width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT3D(nn.Module):
    """Volume (B, C, D, H, W) -> tokens (B, N, width) on a grid of ``self.grid`` cells."""

    def __init__(self, config: ImageEncoderConfig, input_shape: tuple[int, int, int]) -> None:
        super().__init__()
        if config.width % config.heads:
            raise ValueError("image_encoder.width must be divisible by image_encoder.heads")
        layers: list[nn.Module] = []
        channels = config.in_channels
        for out_channels in config.stem_channels:
            layers += [
                nn.Conv3d(channels, out_channels, 3, stride=2, padding=1, bias=False),
                nn.GroupNorm(min(8, out_channels), out_channels),
                nn.GELU(),
            ]
            channels = out_channels
        self.stem = nn.Sequential(*layers)
        self.patch_embed = nn.Conv3d(
            channels, config.width, kernel_size=config.patch_size, stride=config.patch_size
        )
        stride = [2 ** len(config.stem_channels) * p for p in config.patch_size]
        for size, step in zip(input_shape, stride, strict=True):
            if size % step:
                raise ValueError(
                    f"input shape {tuple(input_shape)} is not divisible by the total stride "
                    f"{tuple(stride)} of the stem and patch embedding"
                )
        self.stride = tuple(stride)
        self.grid = tuple(size // step for size, step in zip(input_shape, stride, strict=True))
        self.pos_embed = nn.Parameter(torch.zeros(1, math.prod(self.grid), config.width))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(
            Block(config.width, config.heads, config.mlp_ratio, config.dropout)
            for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(config.width)
        self.width = config.width

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(self.stem(volume))
        x = x.flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)
