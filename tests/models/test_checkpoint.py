import json

import numpy as np
import pytest
import torch

from cabench.errors import UserError
from cabench.models.adapter import TrainedModel
from cabench.models.checkpoint import (
    pack_train_state,
    read_card,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unpack_train_state,
)
from cabench.models.config import load_config
from cabench.models.text_encoder import TextTokenizer
from cabench.models.vlm import VisionLanguageModel
from cabench.text.tokenizer import train_tokenizer


@pytest.fixture
def tiny_checkpoint(tmp_path):
    config = load_config("fvlp")
    config.image_encoder.depth = 1
    config.preprocessing.shape = [16, 32, 32]
    tokenizer = TextTokenizer(train_tokenizer(["The lungs are clear."] * 5, 300), 32, "bpe")
    torch.manual_seed(0)
    model = VisionLanguageModel(config, tokenizer.vocab_size)
    card = {"name": "fvlp", "config": config.to_dict(), "config_hash": config.config_hash()}
    return save_checkpoint(tmp_path / "ckpt", model, card, tokenizer), model


def test_round_trip_gives_identical_embeddings(tiny_checkpoint):
    folder, model = tiny_checkpoint
    loaded = TrainedModel.load(folder, device="cpu")
    assert loaded.model.image_encoder is None  # built when the first volume needs it
    hu = np.random.default_rng(0).integers(-1000, 500, (2, 16, 32, 32)).astype(np.int16)
    bits = np.full((2, 16, 32, 32), 0b1111111, dtype=np.uint8)
    out = loaded.encode_volumes(hu, bits)
    model.eval()
    with torch.no_grad():
        ref = model.encode_image(model.normalise_hu(torch.from_numpy(hu)), torch.from_numpy(bits))
    assert np.allclose(out.anatomy, ref.anatomy.numpy(), atol=1e-6)
    assert out.anatomy_valid.all()
    texts = loaded.encode_texts(["Lung nodule is present.", "Not nodule."])
    assert texts.shape == (2, 128) and np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    assert loaded.identity() == TrainedModel.load(folder, device="cpu").identity()


def test_text_side_of_a_cnn_checkpoint_does_not_import_monai(tiny_checkpoint):
    """A run on cached volume embeddings encodes only prompts: it must not pay for MONAI's
    import (seconds: it pulls in torchvision and torch._dynamo) to build the CNN."""
    import subprocess
    import sys

    folder, _ = tiny_checkpoint
    assert read_card(folder)["config"]["image_encoder"]["type"] == "cnn3d"
    code = (
        "import sys\n"
        "from cabench.models.adapter import TrainedModel\n"
        f"model = TrainedModel.load({str(folder)!r}, device='cpu')\n"
        "model.encode_texts(['Lung nodule is present.'])\n"
        "assert 'monai' not in sys.modules, 'monai was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-1000:]


def test_weights_without_an_image_encoder_are_refused(tmp_path):
    config = load_config("fvlp")
    tokenizer = TextTokenizer(train_tokenizer(["The lungs are clear."] * 5, 300), 32, "bpe")
    text_only = VisionLanguageModel(config, tokenizer.vocab_size, with_image_encoder=False)
    card = {"name": "fvlp", "config": config.to_dict(), "config_hash": config.config_hash()}
    folder = save_checkpoint(tmp_path / "ckpt", text_only, card, tokenizer)
    with pytest.raises(UserError, match="hold no image encoder"):
        TrainedModel.load(folder, device="cpu")


def test_tampered_weights_are_refused(tiny_checkpoint):
    folder, _ = tiny_checkpoint
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="does not match the model card"):
        TrainedModel.load(folder, device="cpu")


def test_pickles_are_refused(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    torch.save({"w": torch.zeros(2)}, folder / "model.pt")
    with pytest.raises(UserError, match="pickled checkpoints are refused"):
        read_card(folder)


def test_train_state_round_trip(tmp_path, tiny_checkpoint):
    folder, model = tiny_checkpoint
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.text_proj[1].weight.sum().backward()
    opt.step()
    state = {"optimizer": opt.state_dict(), "rng": rng_state(), "epoch": 3}
    card = json.loads((folder / "model_card.json").read_text())
    tokenizer = TextTokenizer.load(folder, load_config("fvlp").text_encoder)
    save_checkpoint(folder, model, card, tokenizer, pack_train_state(state))
    restored = unpack_train_state(folder)
    assert restored["epoch"] == 3
    opt2 = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt2.load_state_dict(restored["optimizer"])
    for key, value in opt.state_dict()["state"].items():
        assert torch.equal(value["exp_avg"], opt2.state_dict()["state"][key]["exp_avg"])
    set_rng_state(restored["rng"])  # the restored (round-tripped) state ...
    first = (torch.rand(2), np.random.rand(2))
    torch.manual_seed(123)
    np.random.seed(123)
    set_rng_state(state["rng"])  # ... replays exactly what the original state gives
    second = (torch.rand(2), np.random.rand(2))
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@pytest.mark.parametrize("pooling", ["mean", "none"])
def test_encode_texts_encodes_each_distinct_unit_once(tmp_path, pooling, monkeypatch):
    config = load_config("fvlp")
    config.image_encoder.depth = 1
    config.text_encoder.sentence_pooling = pooling
    corpus = ["The lungs are clear. No nodule is seen. The heart is normal."] * 5
    tokenizer = TextTokenizer(train_tokenizer(corpus, 300), 32, "bpe")
    torch.manual_seed(0)
    model = VisionLanguageModel(config, tokenizer.vocab_size)
    card = {"name": "fvlp", "config": config.to_dict(), "config_hash": config.config_hash()}
    loaded = TrainedModel.load(save_checkpoint(tmp_path / "c", model, card, tokenizer), "cpu")
    loaded.unit_batch_size = 2  # several batches of different padded widths
    texts = [
        "The lungs are clear. No nodule is seen.",
        "No nodule is seen. The lungs are clear.",  # a permutation: same sentences
        "The heart is normal.",
        "The lungs are clear. No nodule is seen.",  # a repeat
        "No nodule is seen.",
    ]
    rows = []
    encode_text = loaded.model.encode_text

    def counting(ids, mask):
        rows.append(len(ids))
        return encode_text(ids, mask)

    monkeypatch.setattr(loaded.model, "encode_text", counting)
    together = loaded.encode_texts(texts)
    monkeypatch.undo()
    alone = np.concatenate([loaded.encode_texts([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-6)
    assert sum(rows) == (3 if pooling == "mean" else 4)  # distinct sentences / distinct texts
    if pooling == "mean":
        assert np.allclose(together[0], together[1], atol=1e-6)
    else:
        assert not np.allclose(together[0], together[1], atol=1e-3)
