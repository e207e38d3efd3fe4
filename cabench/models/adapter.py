"""The protocol the evaluation speaks to, and its implementation for cabench's own checkpoints.

A model trained elsewhere (CT-CLIP, fVLM, ...) is benchmarked by implementing `ZeroShotModel` in
the user's own package with the authors' code, and registering a factory under the entry-point
group ``cabench.models``::

    [project.entry-points."cabench.models"]
    ctclip-official = "my_package.adapters:load_ctclip"   # load_ctclip(checkpoint, device)

The evaluation hands the adapter HU volumes already resampled to the adapter's `preprocessing`
(canonical orientation, see cabench/data/base.py) and, for anatomy-level models, the anatomy bit
field of the adapter's anatomy set; it never touches the adapter's internals.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from cabench.errors import UserError
from cabench.models import precision
from cabench.models.checkpoint import load_weights, read_card, sha256_file
from cabench.models.config import ModelConfig, config_from_dict
from cabench.models.text_encoder import TextTokenizer
from cabench.models.vlm import VisionLanguageModel, build_image_encoder

_IMAGE_PREFIX = "image_encoder."


@dataclass
class VolumeEmbeddings:
    """L2-normalised float32 arrays. global_: (B, D) or None; anatomy: (B, A, D) or None;
    anatomy_valid: (B, A) bool or None (False where the anatomy is absent from the volume)."""

    global_: np.ndarray | None
    anatomy: np.ndarray | None = None
    anatomy_valid: np.ndarray | None = None


@runtime_checkable
class ZeroShotModel(Protocol):
    name: str
    anatomy_set: str | None  # the anatomy set of `anatomy` embeddings; None for global models
    anatomies: tuple[str, ...]
    logit_scale: float  # multiplies cosine similarities before the positive/negative softmax

    def identity(self) -> str:
        """A content hash of everything that changes the embeddings (config, weights, tokenizer)."""

    def preprocessing(self) -> dict[str, Any]:
        """{"spacing": [mm D, H, W], "shape": [D, H, W]} the model wants its volumes at."""

    def encode_volumes(self, hu: np.ndarray, bits: np.ndarray | None) -> VolumeEmbeddings:
        """hu: int16 (B, D, H, W) HU; bits: uint8 (B, D, H, W) anatomy bit field or None."""

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """(N, D) float32, L2-normalised. The engine calls it with at most 128 texts at a time,
        or with up to ``texts_per_call`` texts if the adapter has that attribute (an adapter
        that batches and deduplicates internally gains from seeing more at once)."""


def pick_device(device: str = "auto") -> torch.device:
    """auto | cpu | cuda (this rank's GPU under torchrun) | any torch device string."""
    from cabench.distributed import device_for

    return device_for(device) if device in ("auto", "cpu", "cuda") else torch.device(device)


class TrainedModel:
    """A cabench checkpoint (clip, fvlp or cagcl) behind the ZeroShotModel protocol."""

    def __init__(
        self,
        config: ModelConfig,
        model: VisionLanguageModel,
        tokenizer: TextTokenizer,
        card: dict[str, Any],
        folder: Path,
        device: torch.device,
        image_weights: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.config = config
        self.model = model.to(device).eval()
        # With the image encoder left out of ``model``, its weights wait here until a volume
        # needs encoding (see load).
        self._image_weights = image_weights
        self.unit_batch_size = 256  # texts or sentences per forward pass of the text encoder
        # the engine may hand encode_texts this many texts at once: it batches them itself
        self.texts_per_call = 8192
        self.tokenizer = tokenizer
        self.card = card
        self.folder = folder
        self.device = device
        self.name = card.get("name", config.name)
        self.anatomy_set = config.anatomy_set if config.anatomy_level else None
        self.anatomies = model.anatomies
        self.logit_scale = float(model.scale().detach())

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> TrainedModel:
        folder = Path(folder)
        card = read_card(folder)
        config = config_from_dict(card["config"])
        tokenizer = TextTokenizer.load(folder, config.text_encoder)
        # The image encoder is built on first use: a run whose volume embeddings are all cached
        # needs only the text side, and building a MONAI CNN means importing MONAI (seconds).
        model = VisionLanguageModel(config, tokenizer.vocab_size, with_image_encoder=False)
        weights = load_weights(folder, card)
        image_weights = {
            k.removeprefix(_IMAGE_PREFIX): v
            for k, v in weights.items()
            if k.startswith(_IMAGE_PREFIX)
        }
        if not image_weights:
            raise UserError(f"{folder}: its weights hold no image encoder; retrain the model")
        model.load_state_dict({k: v for k, v in weights.items() if not k.startswith(_IMAGE_PREFIX)})
        return cls(config, model, tokenizer, card, folder, pick_device(device), image_weights)

    def network(self) -> VisionLanguageModel:
        """The whole network, its image encoder built and loaded if it was not yet."""
        if self.model.image_encoder is None:
            encoder = build_image_encoder(self.config)
            encoder.load_state_dict(self._image_weights)
            self.model.image_encoder = encoder.to(self.device).eval()
            self._image_weights = None
        return self.model

    def identity(self) -> str:
        tokenizer_file = self.folder / "tokenizer.json"
        parts = {
            "config": self.config.config_hash(),
            "weights": self.card["weights_sha256"],
            "tokenizer": sha256_file(tokenizer_file) if tokenizer_file.exists() else "pretrained",
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def preprocessing(self) -> dict[str, Any]:
        prep = self.config.preprocessing
        return {"spacing": list(prep.spacing), "shape": list(prep.shape)}

    def _unit_float32(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Float32 embeddings of unit length. Under bf16 autocast the model normalises in bf16
        (norms off by up to 0.3%), so they are normalised again in float32; in float32 they
        pass unchanged, bit for bit."""
        if not precision.uses_gpu_numerics(self.device):
            return embeddings.float()
        return F.normalize(embeddings.float(), dim=-1)

    @torch.inference_mode()
    def encode_volumes(self, hu: np.ndarray, bits: np.ndarray | None) -> VolumeEmbeddings:
        network = self.network()
        volume = network.normalise_hu(torch.from_numpy(np.asarray(hu)).to(self.device))
        mask = torch.from_numpy(np.asarray(bits)).to(self.device) if bits is not None else None
        with precision.autocast(self.device):
            out = network.encode_image(volume, mask)
        as_np = lambda t: None if t is None else self._unit_float32(t).cpu().numpy()  # noqa: E731
        valid = None if out.valid is None else out.valid.cpu().numpy()
        return VolumeEmbeddings(as_np(out.global_), as_np(out.anatomy), valid)

    @torch.inference_mode()
    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """(N, D) float32, L2-normalised. The encoder's unit is a text, or with
        text_encoder.sentence_pooling: mean a sentence; each distinct unit is encoded once (the
        permutation and partial augmenters reorder and drop sentences, so 100 templates' 7,000
        sentences hold about 1,300 distinct ones), shortest first, in batches padded only to
        their longest."""
        if self.config.text_encoder.sentence_pooling == "mean":
            from cabench.text.sections import split_into_sentences

            units, groups = split_into_sentences(texts)
        else:
            units, groups = texts, None
        position: dict[str, int] = {}
        inverse = torch.tensor([position.setdefault(u, len(position)) for u in units])
        distinct = list(position)
        ids, mask = self.tokenizer(distinct)
        lengths = mask.sum(1)
        order = torch.argsort(lengths, stable=True)
        vectors: torch.Tensor | None = None
        for start in range(0, len(distinct), self.unit_batch_size):
            rows = order[start : start + self.unit_batch_size]
            width = int(lengths[rows].max())
            with precision.autocast(self.device):
                out = self.model.encode_text(
                    ids[rows, :width].to(self.device), mask[rows, :width].to(self.device)
                )
            out = self._unit_float32(out)
            if vectors is None:
                vectors = out.new_empty(len(distinct), out.shape[-1])
            vectors[rows.to(self.device)] = out
        if vectors is None:
            return np.empty((0, 0), dtype=np.float32)
        per_unit = vectors[inverse.to(self.device)]
        if groups is not None:
            summed = per_unit.new_zeros(len(texts), per_unit.shape[-1])
            per_unit = F.normalize(summed.index_add(0, groups.to(self.device), per_unit), dim=-1)
        return per_unit.cpu().numpy()


__all__ = ["TrainedModel", "VolumeEmbeddings", "ZeroShotModel", "pick_device"]
