"""Shared pieces of the benchmarks: synthetic data, deterministic untrained models, empty caches.

Timing does not need trained weights, so the models here are freshly initialised from a config
under a fixed seed and saved as ordinary cabench checkpoints (weights, card, tokenizer): the
evaluation engine loads them exactly as it loads a trained model.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch

from cabench import paths


def bench_home() -> Path:
    """Where benchmark data and checkpoints persist between runs (gitignored .cabench/bench)."""
    return paths.cabench_home().resolve() / "bench"


def synthetic_site(
    cases: int, seed: int = 0, shape: tuple[int, int, int] | None = None, workers: int = 1
) -> Path:
    """A synth-ct-rate site of ``cases`` volumes, generated once and reused (200 volumes of the
    default shape: about 80 s of one core)."""
    from cabench.data.synth import GENERATOR_VERSION, generate

    suffix = "" if shape is None else "-" + "x".join(map(str, shape))
    # the generator version in the name: a new generator gets a new folder, not a refusal
    name = f"synth-ct-rate-v{GENERATOR_VERSION}-{cases}-s{seed}{suffix}"
    root = bench_home() / name
    return generate("synth-ct-rate", root, cases=cases, seed=seed, shape=shape, workers=workers)


def fresh_checkpoint(
    model: str, root: Path, folder: Path, preset: str = "tiny", seed: int = 0
) -> Path:
    """An untrained, seeded model of config ``model`` saved as a cabench checkpoint in ``folder``.

    The tokenizer is the BPE tokenizer cabench's training would build from the site's training
    reports; the same (model, root, preset, seed) always gives byte-identical weights.
    """
    from cabench.data import open_dataset
    from cabench.models.checkpoint import save_checkpoint
    from cabench.models.config import load_config
    from cabench.models.vlm import VisionLanguageModel
    from cabench.text.targets import case_texts
    from cabench.train import _tokenizer
    from cabench.vocab import anatomy_set

    config = load_config(model, preset)
    reader = open_dataset("synth-ct-rate", root)
    aset = anatomy_set(config.anatomy_set)
    texts = [case_texts(c.report or {}, c.labels, aset) for c in reader.cases("train")]
    tokenizer = _tokenizer(config, texts)
    torch.manual_seed(seed)
    net = VisionLanguageModel(config, tokenizer.vocab_size)
    card = {
        "name": config.name,
        "family": config.family,
        "preset": preset,
        "config": config.to_dict(),
        "config_hash": config.config_hash(),
        "seed": seed,
        "finished": True,
        "note": "untrained: initialised from the config for benchmarks",
    }
    return save_checkpoint(folder, net, card, tokenizer)


@contextlib.contextmanager
def empty_home() -> Iterator[Path]:
    """A temporary CABENCH_HOME: empty embedding and volume caches and results store."""
    old = os.environ.get("CABENCH_HOME")
    with tempfile.TemporaryDirectory(prefix="cabench-bench-") as tmp:
        os.environ["CABENCH_HOME"] = str(Path(tmp) / ".cabench")
        try:
            yield Path(tmp)
        finally:
            if old is None:
                os.environ.pop("CABENCH_HOME", None)
            else:
                os.environ["CABENCH_HOME"] = old
