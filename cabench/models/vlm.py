"""The one model class behind the three families.

``clip`` aligns a mean-pooled volume embedding with the whole report. ``fvlp`` pools tokens per
anatomy (one learned query each, inside the anatomy mask), projects per anatomy, and aligns each
with that anatomy's report sentences. ``cagcl`` is fvlp plus a global cross-anatomy term and
clinical-aware text augmentation. Which losses run is read from the config, so ablations are
configs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cabench.models import losses
from cabench.models.config import ModelConfig
from cabench.models.pooling import (
    AnatomyPooling,
    PerAnatomyProjection,
    global_pool,
    masked_max,
    token_membership,
)
from cabench.models.text_encoder import TextEncoder
from cabench.models.vit3d import ViT3D
from cabench.vocab import anatomy_set


@dataclass
class ImageEmbeddings:
    """L2-normalised embeddings: global (B, D) for clip, anatomy (B, A, D) for anatomy models."""

    global_: torch.Tensor | None
    anatomy: torch.Tensor | None
    valid: torch.Tensor | None  # (B, A) bool: the anatomy has tokens inside its mask


def _norm(width: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm1d(width) if batch_norm else nn.Identity()


def build_image_encoder(config: ModelConfig) -> nn.Module:
    """The config's image encoder (a ViT3D or a CNN3D), freshly initialised."""
    if config.image_encoder.type == "cnn3d":
        # Imported here: importing MONAI takes seconds (it pulls in torchvision and
        # torch._dynamo), and text-only work or a run on cached volume embeddings never needs it.
        from cabench.models.cnn3d import CNN3D

        return CNN3D(config.image_encoder, tuple(config.preprocessing.shape))
    return ViT3D(config.image_encoder, tuple(config.preprocessing.shape))


class VisionLanguageModel(nn.Module):
    """Image encoder, anatomy or global pooling and projections, text encoder and projection.

    ``with_image_encoder=False`` leaves ``image_encoder`` as None (set it before encoding images):
    a loaded checkpoint builds it only when a volume needs encoding.
    """

    def __init__(
        self, config: ModelConfig, vocab_size: int, with_image_encoder: bool = True
    ) -> None:
        super().__init__()
        self.config = config
        width = config.image_encoder.width
        batch_norm = config.pooling.projection_norm == "batch"
        self.image_encoder: nn.Module | None = (
            build_image_encoder(config) if with_image_encoder else None
        )
        self.anatomies: tuple[str, ...] = ()
        if config.anatomy_level:
            self.anatomies = anatomy_set(config.anatomy_set).anatomies
            self.pool = AnatomyPooling(width, len(self.anatomies), config.image_encoder.heads)
            self.anatomy_proj = PerAnatomyProjection(
                len(self.anatomies), width, config.embed_dim, batch_norm
            )
        else:
            self.global_proj = nn.Sequential(
                _norm(width, batch_norm), nn.Linear(width, config.embed_dim)
            )
        self.text_encoder = TextEncoder(config.text_encoder, vocab_size)
        # batch-normalised before projecting, for the reason given in PerAnatomyProjection
        self.text_proj = nn.Sequential(
            _norm(self.text_encoder.hidden, batch_norm),
            nn.Linear(self.text_encoder.hidden, config.embed_dim),
        )
        init = math.log(1.0 / config.losses.temperature_init)
        self.logit_scale = nn.Parameter(torch.tensor(init))
        if config.losses.global_variant != "none" and config.losses.global_weight > 0:
            self.global_logit_scale = nn.Parameter(torch.tensor(init))

    # -- scales -------------------------------------------------------------------------------
    def _scale(self, parameter: torch.Tensor) -> torch.Tensor:
        """exp(logit scale) with the temperature clamped to [temperature_min, temperature_max]."""
        low = math.log(1.0 / self.config.losses.temperature_max)
        high = math.log(1.0 / self.config.losses.temperature_min)
        return parameter.clamp(low, high).exp()

    def scale(self) -> torch.Tensor:
        return self._scale(self.logit_scale)

    # -- encoders -----------------------------------------------------------------------------
    def normalise_hu(self, hu: torch.Tensor) -> torch.Tensor:
        """HU (any dtype) -> float in [-1, 1] over the config's window, with a channel axis."""
        low, high = self.config.preprocessing.window
        x = (hu.float().clamp(low, high) - low) / (high - low) * 2.0 - 1.0
        return x.unsqueeze(1) if x.dim() == 4 else x

    def encode_image(self, volume: torch.Tensor, bits: torch.Tensor | None) -> ImageEmbeddings:
        """volume: normalised (B, 1, D, H, W); bits: uint8 anatomy bit field (B, D, H, W)."""
        if self.image_encoder is None:
            raise RuntimeError("this model was built without its image encoder")
        tokens = self.image_encoder(volume)
        pooling = self.config.pooling
        if not self.anatomies:
            pooled = global_pool(tokens, pooling.global_)
            return ImageEmbeddings(F.normalize(self.global_proj(pooled), dim=-1), None, None)
        if bits is None:
            raise ValueError("anatomy-level models need anatomy masks")
        membership = token_membership(bits, len(self.anatomies), self.image_encoder.stride)
        if pooling.anatomy == "max":
            features, valid = masked_max(tokens, membership)
        else:
            features, valid = self.pool(tokens, membership)
            if pooling.anatomy == "attention+max":
                features = features + masked_max(tokens, membership)[0]
        return ImageEmbeddings(None, F.normalize(self.anatomy_proj(features), dim=-1), valid)

    def encode_text(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        groups: torch.Tensor | None = None,
        n_texts: int | None = None,
    ) -> torch.Tensor:
        """Normalised text embeddings. With ``groups`` (one index per row, from
        `split_into_sentences`) the rows are sentences: each text is the normalised mean of its
        sentences' normalised embeddings (text_encoder.sentence_pooling: mean)."""
        out = F.normalize(self.text_proj(self.text_encoder(input_ids, attention_mask)), dim=-1)
        if groups is None:
            return out
        n_texts = int(groups.max()) + 1 if n_texts is None else n_texts
        pooled = out.new_zeros(n_texts, out.shape[-1]).index_add(0, groups, out)
        return F.normalize(pooled, dim=-1)

    # -- training -----------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Training forward pass (what DistributedDataParallel wraps): the loss terms."""
        return self.training_loss(batch)

    def training_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Loss terms for one batch (see cabench.train for the batch layout)."""
        image = self.encode_image(batch["image"], batch.get("bits"))
        cfg = self.config.losses
        if not self.anatomies:
            text = self.encode_text(
                batch["text_ids"], batch["text_mask"], batch.get("text_group"), len(image.global_)
            )
            loss = losses.clip_loss(image.global_, text, self.scale())
            return {"loss": loss, "clip": loss.detach()}
        batch_size, n_anat = batch["normal"].shape
        groups, n_texts = batch.get("text_group"), batch_size * n_anat
        text = self.encode_text(batch["text_ids"], batch["text_mask"], groups, n_texts)
        text = text.view(batch_size, n_anat, -1)
        valid = image.valid & batch["text_valid"]
        args = (image.anatomy, text, valid, batch["normal"], batch["text_hash"])
        local = losses.local_anatomy_loss(*args, self.scale(), cfg.false_negatives)
        out = {"local": local.detach()}
        total = cfg.local_weight * local
        if hasattr(self, "global_logit_scale"):
            global_scale = self._scale(self.global_logit_scale)
            if cfg.global_variant == "cross_anatomy":
                term = losses.cross_anatomy_loss(*args, global_scale, cfg.false_negatives)
            else:
                term = losses.supcon_anatomy_loss(image.anatomy, text, valid, global_scale)
            total = total + cfg.global_weight * term
            out["global"] = term.detach()
        out["loss"] = total
        return out
