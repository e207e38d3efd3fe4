"""The GPU numerics path (bf16 autocast, fused AdamW) run on a CPU: each family trains,
validates, saves and encodes with it, so a first GPU run does not meet a dtype mistake."""

import json
import math

import numpy as np
import pytest
import torch

from cabench.data import open_dataset
from cabench.models import precision
from cabench.models.adapter import TrainedModel
from cabench.models.vlm import VisionLanguageModel
from cabench.train import TrainOptions, train
from cabench.train_data import load_training_set


def test_gpu_numerics_are_off_on_cpu_by_default():
    assert not precision.uses_gpu_numerics(torch.device("cpu"))
    assert precision.uses_gpu_numerics(torch.device("cuda"))
    with precision.autocast(torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")


@pytest.mark.parametrize("family", ["clip", "fvlp", "cagcl"])
def test_every_family_trains_and_encodes_under_gpu_numerics(
    family, tiny_configs, small_sites, tmp_path, monkeypatch
):
    monkeypatch.setattr(precision, "GPU_NUMERICS_DEVICES", frozenset({"cuda", "cpu"}))
    seen: dict[str, object] = {}
    original = VisionLanguageModel.training_loss

    def spying_loss(self, batch):
        seen["autocast"] = torch.is_autocast_enabled("cpu")
        seen["dtype"] = torch.get_autocast_dtype("cpu")
        return original(self, batch)

    real_adamw = torch.optim.AdamW

    def spying_adamw(*args, **kwargs):
        seen["fused"] = kwargs.get("fused")
        return real_adamw(*args, **kwargs)

    monkeypatch.setattr(VisionLanguageModel, "training_loss", spying_loss)
    monkeypatch.setattr(torch.optim, "AdamW", spying_adamw)
    root = small_sites["synth-ct-rate"]
    folder = train(TrainOptions(model=str(tiny_configs[family]), root=root, epochs=1,
                                out=tmp_path / family, device="cpu"))  # fmt: skip
    assert seen == {"autocast": True, "dtype": torch.bfloat16, "fused": True}

    last = json.loads((folder / "model_card.json").read_text())["history"][-1]
    assert math.isfinite(last["loss"]) and math.isfinite(last["val_macro_auc"])

    model = TrainedModel.load(folder, device="cpu")
    assert all(p.dtype == torch.float32 for p in model.model.parameters())
    data = load_training_set(open_dataset("synth-ct-rate", root), model.config, "valid", 4)
    texts = ["Pleural effusion is present.", "No pleural effusion. The heart is normal."]
    mixed = model.encode_volumes(data.hu, data.bits), model.encode_texts(texts)
    monkeypatch.setattr(precision, "GPU_NUMERICS_DEVICES", frozenset({"cuda"}))
    exact = model.encode_volumes(data.hu, data.bits), model.encode_texts(texts)

    def agree(a: np.ndarray | None, b: np.ndarray | None) -> None:
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == np.float32 and np.allclose(np.linalg.norm(a, axis=-1), 1, atol=1e-4)
            assert (a * b).sum(-1).min() > 0.98  # bf16 keeps the direction of each embedding

    agree(mixed[0].global_, exact[0].global_)
    if family == "clip":
        assert mixed[0].anatomy is None and exact[0].anatomy is None
    else:
        valid = exact[0].anatomy_valid
        assert valid.any() and np.array_equal(mixed[0].anatomy_valid, valid)
        agree(mixed[0].anatomy[valid], exact[0].anatomy[valid])
    agree(mixed[1], exact[1])
