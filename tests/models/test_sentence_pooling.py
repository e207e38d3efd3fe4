import torch
import torch.nn.functional as F

from cabench.models.config import load_config
from cabench.models.vlm import VisionLanguageModel
from cabench.text.sections import split_into_sentences


def test_split_into_sentences_groups_by_text():
    sentences, groups = split_into_sentences(["A nodule. No effusion.", "Heart normal.", ""])
    assert sentences == ["A nodule.", "No effusion.", "Heart normal.", ""]
    assert groups.tolist() == [0, 0, 1, 2]


def test_a_text_is_the_normalised_mean_of_its_sentences():
    config = load_config("fvlp")
    config.text_encoder.sentence_pooling = "mean"
    model = VisionLanguageModel(config, vocab_size=64).eval()
    ids = torch.randint(5, 64, (3, 6), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    each = model.encode_text(ids, mask)
    pooled = model.encode_text(ids, mask, torch.tensor([0, 0, 1]), 2)
    assert torch.allclose(pooled[0], F.normalize(each[0] + each[1], dim=0), atol=1e-6)
    assert torch.allclose(pooled[1], each[2], atol=1e-6)


def test_plain_heads_and_cls_pooling_are_config_switches():
    config = load_config("fvlp-plain")
    assert config.pooling.projection_norm == "none" and config.text_encoder.pooling == "cls"
    model = VisionLanguageModel(config, vocab_size=64).eval()
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
    ids = torch.randint(5, 64, (2, 6), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 3:] = 0
    states = model.text_encoder.bert(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(model.text_encoder(ids, mask), states[:, 0])
    default = VisionLanguageModel(load_config("fvlp"), vocab_size=64)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in default.modules()) == 2
