"""A byte-level BPE tokenizer trained on the training reports.

BPE training in `tokenizers` is reproducible (WordPiece training is not: its vocabulary changes
from run to run), and byte-level BPE never produces an unknown token, so prompt wordings unseen in
reports still tokenize. The trained tokenizer is saved with every checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2
) -> Tokenizer:
    """Train a lower-casing byte-level BPE on ``texts``; [CLS] text [SEP] framing."""
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return tokenizer


def load_tokenizer(path: str | Path) -> Tokenizer:
    return Tokenizer.from_file(str(path))


def encode_batch(
    tokenizer: Tokenizer, texts: list[str], max_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) padded to the longest text in the batch, truncated."""
    encoded = [e.ids for e in tokenizer.encode_batch(texts)]
    length = min(max_length, max(map(len, encoded), default=1))
    sep_id = tokenizer.token_to_id("[SEP]")
    ids = np.full((len(texts), length), tokenizer.token_to_id("[PAD]"), dtype=np.int64)
    mask = np.zeros((len(texts), length), dtype=np.int64)
    for row, tokens in enumerate(encoded):
        if len(tokens) > length:
            tokens = tokens[: length - 1] + [sep_id]
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
    return ids, mask
