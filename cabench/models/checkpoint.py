"""Checkpoints: safetensors weights, a JSON model card, the tokenizer, and (for --resume) the
optimizer, scheduler and RNG states, also in safetensors + JSON. Nothing is ever unpickled.

Layout of a checkpoint folder (default models/checkpoints/<name>/):
  model.safetensors     weights
  model_card.json       config, preset, dataset fingerprint, seed, steps, git commit, package
                        versions, final losses, and the sha256 of model.safetensors
  tokenizer.json        the BPE tokenizer trained on the training reports (or tokenizer/)
  train_state.safetensors + train_state.json   optimizer/scheduler/RNG state for --resume
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from cabench.errors import UserError

WEIGHTS = "model.safetensors"
CARD = "model_card.json"
STATE = "train_state.safetensors"
STATE_JSON = "train_state.json"
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def save_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    card: dict[str, Any],
    tokenizer: Any,
    train_state: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None,
) -> Path:
    """Write a checkpoint atomically (a temporary sibling folder renamed into place)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(staging / WEIGHTS))
        card = {**card, "weights_sha256": sha256_file(staging / WEIGHTS)}
        _atomic_json(staging / CARD, card)
        tokenizer.save(staging)
        if train_state is not None:
            state_tensors, state_json = train_state
            save_file(state_tensors, str(staging / STATE))
            _atomic_json(staging / STATE_JSON, state_json)
        if folder.exists():
            backup = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(folder, backup)
            os.replace(staging, folder)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def refuse_pickles(folder: Path) -> None:
    pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickled and not (folder / WEIGHTS).exists():
        raise UserError(
            f"{folder / pickled[0]}: pickled checkpoints are refused (they can run code when "
            "loaded); convert the weights to safetensors (safetensors.torch.save_file)"
        )


def read_card(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no checkpoint folder here")
    refuse_pickles(folder)
    if not (folder / CARD).exists() or not (folder / WEIGHTS).exists():
        raise UserError(f"{folder}: not a cabench checkpoint ({CARD} and {WEIGHTS} expected)")
    try:
        return json.loads((folder / CARD).read_text())
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{folder / CARD}: not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None


def load_weights(folder: Path, card: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Weights of a checkpoint after checking their sha256 against the model card."""
    path = Path(folder) / WEIGHTS
    actual = sha256_file(path)
    if actual != card.get("weights_sha256"):
        raise UserError(
            f"{path}: sha256 {actual[:12]}... does not match the model card "
            f"({str(card.get('weights_sha256'))[:12]}...): the file was changed or corrupted; "
            "retrain or restore it"
        )
    return load_file(str(path))


# -- training state (resume) ------------------------------------------------------------------
def _flatten(prefix: str, value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Tensors go to ``tensors`` under a key; everything else stays JSON."""
    if isinstance(value, torch.Tensor):
        tensors[prefix] = value.detach().cpu().contiguous()
        return {"__tensor__": prefix}
    if isinstance(value, dict):
        return {
            "__dict__": [[_key(k), _flatten(f"{prefix}.{k}", v, tensors)] for k, v in value.items()]
        }
    if isinstance(value, (list, tuple)):
        return {"__list__": [_flatten(f"{prefix}.{i}", v, tensors) for i, v in enumerate(value)]}
    return value


def _key(key: Any) -> Any:
    return {"__int__": key} if isinstance(key, int) else key


def _unflatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict) and "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if isinstance(value, dict) and "__dict__" in value:
        return {
            (k["__int__"] if isinstance(k, dict) else k): _unflatten(v, tensors)
            for k, v in value["__dict__"]
        }
    if isinstance(value, dict) and "__list__" in value:
        return [_unflatten(v, tensors) for v in value["__list__"]]
    return value


def pack_train_state(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    return tensors, _flatten("s", state, tensors)


def unpack_train_state(folder: Path) -> dict[str, Any] | None:
    folder = Path(folder)
    if not (folder / STATE).exists():
        return None
    tensors = load_file(str(folder / STATE))
    return _unflatten(json.loads((folder / STATE_JSON).read_text()), tensors)


def rng_state() -> dict[str, Any]:
    py = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": json.loads(json.dumps(np.random.get_state()[1].tolist())),
        "numpy_pos": int(np.random.get_state()[2]),
        "python": [py[0], list(py[1]), py[2]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    keys = np.array(state["numpy"], dtype=np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_pos"], 0, 0.0))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
