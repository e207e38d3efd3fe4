"""Shared fixtures. Tests run offline, on CPU, with small generated data."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("CABENCH_PROGRESS", "0")
# Session-scoped fixtures run before the per-test isolation below: give them a temporary home too,
# so nothing a test does writes caches, stores or checkpoints into the working tree.
_SESSION_HOME = tempfile.mkdtemp(prefix="cabench-tests-")
os.environ["CABENCH_HOME"] = os.path.join(_SESSION_HOME, ".cabench")
os.environ["CABENCH_DATA"] = os.path.join(_SESSION_HOME, "data")
os.environ["CABENCH_CHECKPOINTS"] = os.path.join(_SESSION_HOME, "checkpoints")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep caches, stores and default data roots of every test inside a temporary folder."""
    home = tmp_path_factory.mktemp("cabench_home")
    monkeypatch.setenv("CABENCH_HOME", str(home / ".cabench"))
    monkeypatch.setenv("CABENCH_DATA", str(home / "data"))
    monkeypatch.setenv("CABENCH_CHECKPOINTS", str(home / "checkpoints"))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
    yield


TINY_MODEL = """\
extends: {base}
name: {name}
image_encoder: {{stem_channels: [8, 8, 16], width: 32, heads: 2}}
text_encoder: {{hidden: 32, layers: 1, heads: 2, intermediate: 64, max_length: 48, vocab_size: 400}}
embed_dim: 16
preprocessing: {{spacing: [20.0, 11.0, 11.0], shape: [16, 32, 32]}}
training: {{epochs: 2, batch_size: 8, lr: 0.002}}
"""


@pytest.fixture(scope="session")
def small_sites(tmp_path_factory):
    """Two small synthetic sites (CT-RATE and Rad-ChestCT layouts), generated once per session."""
    from cabench.data.synth import generate

    root = tmp_path_factory.mktemp("sites")
    ct = generate("synth-ct-rate", root / "ct", cases=32, shape=(16, 32, 32), seed=0, workers=1)
    rad = generate("synth-rad-chestct", root / "rad", cases=16, shape=(16, 32, 32), seed=0,
                   workers=1)  # fmt: skip
    return {"synth-ct-rate": ct, "synth-rad-chestct": rad}


@pytest.fixture(scope="session")
def tiny_configs(tmp_path_factory):
    """Model configs small enough to train in seconds: {family: path to YAML}."""
    folder = tmp_path_factory.mktemp("configs")
    paths = {}
    for base in ("clip", "fvlp", "cagcl"):
        path = folder / f"tiny-{base}.yaml"
        path.write_text(TINY_MODEL.format(base=base, name=f"tiny-{base}"))
        paths[base] = path
    return paths


@pytest.fixture(scope="session")
def trained_tiny(small_sites, tiny_configs, tmp_path_factory):
    """A tiny fvlp and clip trained once per session: {family: checkpoint folder}."""
    from cabench.train import TrainOptions, train

    out = tmp_path_factory.mktemp("checkpoints")
    root = small_sites["synth-ct-rate"]
    return {
        family: train(
            TrainOptions(model=str(tiny_configs[family]), root=root, out=out / family, device="cpu")
        )
        for family in ("fvlp", "clip")
    }
