"""The text tower: a frozen pretrained tower is a cached fixed function of the tokens."""

import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from cabench.models.config import TextEncoderConfig
from cabench.models.text_encoder import TextEncoder, pretrained_tokenizer

WORDS = ["pleural", "effusion", "is", "present", "not", "no", "seen", "the", "heart", "lung"]
WORDS += ["nodule", "a", "in"]


def local_pretrained(folder) -> TextEncoderConfig:
    """A small BERT saved as a user's local pretrained model folder (random weights, dropout on,
    as a real checkpoint's config has it)."""
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                                 *WORDS]) + "\n")  # fmt: skip
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=5 + len(WORDS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        hidden_dropout_prob=0.3,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(str(folder))
    return TextEncoderConfig(type="pretrained", pretrained_path=str(folder), trainable_layers=0)


def test_frozen_tower_encodes_each_text_once_whatever_it_is_batched_with(
    tmp_path, monkeypatch, capsys
):
    from transformers.utils import logging as hf_logging

    config = local_pretrained(tmp_path / "bert")
    tokenizer = pretrained_tokenizer(config)
    capsys.readouterr()
    encoder = TextEncoder(config, tokenizer.vocab_size).train()  # as in the training loop
    assert "Loading weights" not in capsys.readouterr().err  # no transformers progress bar
    assert hf_logging.is_progress_bar_enabled()  # and the setting is left as it was
    assert encoder.frozen and not encoder.bert.training  # no dropout noise
    calls = []
    forward = encoder.bert.forward
    monkeypatch.setattr(encoder.bert, "forward", lambda **kw: calls.append(1) or forward(**kw))

    texts = ["pleural effusion is present.", "pleural effusion is not present.", "the heart."]
    first = encoder(*tokenizer(texts))
    assert len(calls) == 3
    again = encoder(*tokenizer(["the heart.", "a lung nodule is seen in the lung.", texts[0]]))
    assert len(calls) == 4  # only the new text
    assert torch.equal(again[0], first[2]) and torch.equal(again[2], first[0])

    with torch.no_grad():  # the same numbers as the tower run directly in eval mode
        ids, mask = tokenizer(texts)
        states = encoder.bert.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
        direct = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    torch.testing.assert_close(first, direct, atol=1e-5, rtol=1e-5)
    assert not first.requires_grad


def test_trainable_tower_is_not_cached(tmp_path):
    config = local_pretrained(tmp_path / "bert")
    config.trainable_layers = 1
    tokenizer = pretrained_tokenizer(config)
    encoder = TextEncoder(config, tokenizer.vocab_size).train()
    assert not encoder.frozen and encoder.bert.training
    out = encoder(*tokenizer(["pleural effusion is present."]))
    assert out.requires_grad and not encoder._features
