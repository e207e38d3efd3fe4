"""Shared fixtures. Tests run offline, on CPU, with small generated data."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("CABENCH_PROGRESS", "0")

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
