"""Training: the loop, checkpoints, resume, skip-when-current, DDP on CPU, bad input."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import cabench.train as train_module
from cabench.cli import main
from cabench.errors import UserError
from cabench.train import TrainOptions, train


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_trained_checkpoint_has_a_complete_card(trained_tiny, small_sites):
    for family, folder in trained_tiny.items():
        card = json.loads((folder / "model_card.json").read_text())
        assert card["finished"] and card["epochs_done"] == 2 and card["family"] == family
        assert card["dataset"]["name"] == "synth-ct-rate" and card["dataset"]["fingerprint"]
        assert len(card["history"]) == 2 and "val_macro_auc" in card["history"][-1]
        chance = card["history"][-1]["val_chance"]  # the last epoch's test against chance
        assert "val_chance" not in card["history"][0] and "val_chance" not in card["final_losses"]
        assert abs(chance["macro_auc"] - card["history"][-1]["val_macro_auc"]) < 1e-12
        assert 0 < chance["p"] <= 1 and chance["permutations"] == 999 and chance["chance_q99"] > 0.5
        assert card["versions"]["torch"] and card["git_commit"] and card["weights_sha256"]
        assert (folder / "tokenizer.json").exists()


def test_rerun_skips_an_up_to_date_checkpoint(trained_tiny, tiny_configs, small_sites):
    before = (trained_tiny["fvlp"] / "model.safetensors").stat().st_mtime_ns
    options = TrainOptions(model=str(tiny_configs["fvlp"]), root=small_sites["synth-ct-rate"],
                           out=trained_tiny["fvlp"], device="cpu")  # fmt: skip
    assert train(options) == trained_tiny["fvlp"]
    assert (trained_tiny["fvlp"] / "model.safetensors").stat().st_mtime_ns == before


def test_resume_continues_bit_exactly(tiny_configs, small_sites, tmp_path, monkeypatch):
    base = dict(model=str(tiny_configs["cagcl"]), root=small_sites["synth-ct-rate"], device="cpu")
    straight = train(TrainOptions(**base, out=tmp_path / "straight"))

    calls = {"n": 0}
    real = train_module._make_batch

    def crash_in_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:  # 3 steps per epoch: die in epoch 2
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "_make_batch", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(TrainOptions(**base, out=tmp_path / "resumed"))
    monkeypatch.setattr(train_module, "_make_batch", real)
    card = json.loads((tmp_path / "resumed" / "model_card.json").read_text())
    assert card["epochs_done"] == 1 and not card["finished"]
    train(TrainOptions(**base, out=tmp_path / "resumed", resume=True))
    a, b = _weights(straight), _weights(tmp_path / "resumed")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_out_of_memory_names_the_option(tiny_configs, small_sites, tmp_path, monkeypatch):
    def oom(self, batch):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr("cabench.models.vlm.VisionLanguageModel.training_loss", oom)
    with pytest.raises(UserError, match="lower --batch-size"):
        train(TrainOptions(model=str(tiny_configs["fvlp"]), root=small_sites["synth-ct-rate"],
                           out=tmp_path / "x", device="cpu"))  # fmt: skip
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "cagc"], "did you mean 'cagcl'"),
        (["--model", "fvlp", "--preset", "huge"], "no preset 'huge'"),
        (["--model", "fvlp", "--dataset", "synth-rad-chestct"], "no report text"),
        (["--model", "fvlp", "--device", "tpu"], "--device 'tpu'"),
    ],
)
def test_bad_input_exits_2(args, message, small_sites, capsys):
    root = small_sites["synth-rad-chestct" if "synth-rad-chestct" in args else "synth-ct-rate"]
    assert main(["train", *args, "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_anatomy_model_needs_masks(tiny_configs, small_sites, tmp_path, capsys):
    import shutil

    root = tmp_path / "nomasks"
    shutil.copytree(small_sites["synth-ct-rate"], root)
    shutil.rmtree(root / "anatomy_masks")
    code = main(["train", "--model", str(tiny_configs["fvlp"]), "--root", str(root),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 2 and "needs anatomy masks" in capsys.readouterr().err


def test_ddp_two_cpu_processes(tiny_configs, small_sites, tmp_path):
    """torchrun with two gloo processes trains one model and writes one checkpoint."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CABENCH_PROGRESS": "0"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", "29517", "-m", "cabench.cli", "train",
        "--model", str(tiny_configs["cagcl"]), "--root", str(small_sites["synth-ct-rate"]),
        "--out", str(tmp_path / "ddp"), "--device", "cpu", "--batch-size", "4",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((tmp_path / "ddp" / "model_card.json").read_text())
    assert card["world_size"] == 2 and card["finished"]


def test_translation_moves_volume_and_anatomy_masks_together():
    volume = torch.zeros(3, 1, 8, 12, 12)
    bits = torch.zeros(3, 8, 12, 12, dtype=torch.uint8)
    volume[:, 0, 3:5, 4:7, 5:8] = 1.0  # an "organ" and its mask, in the same voxels
    bits[:, 3:5, 4:7, 5:8] = 0b101
    gen = torch.Generator().manual_seed(0)
    moved, moved_bits = train_module._translate(volume, bits, [1, 2, 2], gen)
    assert not torch.equal(moved, volume)  # something moved (the seed gives nonzero offsets)
    assert torch.equal(moved[:, 0] > 0, moved_bits > 0)
    assert torch.equal(moved.sum((1, 2, 3, 4)), volume.sum((1, 2, 3, 4)))
    assert volume[:, 0, 3:5, 4:7, 5:8].eq(1).all()  # inputs untouched
