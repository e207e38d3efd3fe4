"""Model lookup: cabench's configs (models/*.yaml, trained with `cabench train`) and third-party
adapters registered under the entry-point group ``cabench.models``."""

from __future__ import annotations

from pathlib import Path

from cabench import paths
from cabench.errors import UserError
from cabench.models.adapter import TrainedModel, ZeroShotModel
from cabench.models.config import available_configs
from cabench.registry import Registry, did_you_mean

ADAPTERS: Registry = Registry("model", "cabench.models")
ADAPTERS.register("dummy", "cabench.models.dummy:load_dummy")


def model_names() -> list[str]:
    return sorted(set(available_configs()) | set(ADAPTERS.names()))


def default_checkpoint(name: str) -> Path:
    return paths.checkpoints_dir() / name


def load_model(
    name: str, checkpoint: str | Path | None = None, device: str = "auto"
) -> ZeroShotModel:
    """A ready-to-encode model: an adapter from the registry, or a cabench checkpoint."""
    if name in ADAPTERS:
        return ADAPTERS.get(name)(checkpoint, device)
    if name not in available_configs() and checkpoint is None:
        raise UserError(f"unknown model {name!r}: {did_you_mean(name, model_names())}")
    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint(name)
    if not folder.exists():
        raise UserError(
            f"model {name!r} has no checkpoint at {folder}: train one with "
            f"`cabench train --model {name} --dataset synth-ct-rate` or pass "
            f"--checkpoint {name}=DIR"
        )
    return TrainedModel.load(folder, device)
