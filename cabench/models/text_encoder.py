"""Text encoder: a `transformers` BERT built from a config (trained from scratch with the
report-trained BPE tokenizer), or a local pretrained BERT-style directory (no hub downloads).

BERT is the architecture of the clinical text encoders the published CT models use, so a user's
local pretrained model (e.g. a CXR-BERT export) drops in through `text_encoder.pretrained_path`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from cabench.errors import UserError
from cabench.models.config import TextEncoderConfig


class TextTokenizer:
    """Callable texts -> (input_ids, attention_mask), over a trained or pretrained tokenizer."""

    def __init__(self, backend: object, max_length: int, kind: str) -> None:
        self.backend = backend
        self.max_length = max_length
        self.kind = kind  # "bpe" (tokenizers.Tokenizer) or "pretrained" (transformers)

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "bpe":
            from cabench.text.tokenizer import encode_batch

            return encode_batch(self.backend, texts, self.max_length)
        encoded = self.backend(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return encoded["input_ids"], encoded["attention_mask"]

    def save(self, folder: Path) -> None:
        if self.kind == "bpe":
            self.backend.save(str(folder / "tokenizer.json"))
        else:
            self.backend.save_pretrained(str(folder / "tokenizer"))

    @classmethod
    def load(cls, folder: Path, config: TextEncoderConfig) -> TextTokenizer:
        if (folder / "tokenizer.json").exists():
            from cabench.text.tokenizer import load_tokenizer

            return cls(load_tokenizer(folder / "tokenizer.json"), config.max_length, "bpe")
        if (folder / "tokenizer").is_dir():
            from transformers import AutoTokenizer

            backend = AutoTokenizer.from_pretrained(
                str(folder / "tokenizer"), local_files_only=True
            )
            return cls(backend, config.max_length, "pretrained")
        raise UserError(f"{folder}: no tokenizer.json or tokenizer/ folder in this checkpoint")

    @property
    def vocab_size(self) -> int:
        if self.kind == "bpe":
            return self.backend.get_vocab_size()
        return len(self.backend)


def pretrained_tokenizer(config: TextEncoderConfig) -> TextTokenizer:
    from transformers import AutoTokenizer

    path = _pretrained_dir(config)
    backend = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return TextTokenizer(backend, config.max_length, "pretrained")


def _pretrained_dir(config: TextEncoderConfig) -> Path:
    spec = config.pretrained_path or ""
    if spec.startswith("package:"):
        import importlib.util

        package, _, sub = spec.removeprefix("package:").partition("/")
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise UserError(
                f"text_encoder.pretrained_path {spec!r}: package {package!r} is not installed "
                f"(pip install {package.replace('_', '-')})"
            )
        spec = str(Path(next(iter(found.submodule_search_locations))) / sub)
    path = Path(spec)
    if not (path / "config.json").exists():
        raise UserError(
            f"text_encoder.pretrained_path {str(path)!r} is not a local model folder with "
            "config.json (cabench never downloads weights; point it at a saved model)"
        )
    return path


def _load_quietly(path: Path) -> nn.Module:
    """``AutoModel.from_pretrained`` without transformers' "Loading weights" progress bar, which
    would interleave with cabench's own output on every checkpoint load."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return AutoModel.from_pretrained(
            str(path), local_files_only=True, attn_implementation="sdpa"
        )
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _freeze_below(model: nn.Module, trainable_layers: int) -> None:
    """Keep only the top ``trainable_layers`` encoder layers trainable (-1: everything)."""
    if trainable_layers < 0:
        return
    layers = list(model.encoder.layer)
    for parameter in model.parameters():
        parameter.requires_grad = False
    for layer in layers[len(layers) - trainable_layers :] if trainable_layers else []:
        for parameter in layer.parameters():
            parameter.requires_grad = True


class TextEncoder(nn.Module):
    """Texts -> features (N, hidden): the mean of the token states over the attention mask
    (default), or the [CLS] state (text_encoder.pooling: cls).

    Mean pooling by default: a BERT trained from scratch starts with nearly identical [CLS]
    states for every text, which stalls contrastive training; sentence encoders such as MiniLM
    also pool by mean. [CLS] is there to reproduce the published BERT-based models.
    """

    def __init__(self, config: TextEncoderConfig, vocab_size: int) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel

        if config.type == "pretrained":
            self.bert = _load_quietly(_pretrained_dir(config))
            _freeze_below(self.bert, config.trainable_layers)
        elif config.type == "bert":
            bert_config = BertConfig(
                vocab_size=vocab_size,
                hidden_size=config.hidden,
                num_hidden_layers=config.layers,
                num_attention_heads=config.heads,
                intermediate_size=config.intermediate,
                max_position_embeddings=max(config.max_length, 8),
                hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0,
                pad_token_id=0,
            )
            bert_config._attn_implementation = "sdpa"
            self.bert = BertModel(bert_config, add_pooling_layer=False)
        else:
            raise UserError(f"text_encoder.type {config.type!r} is not one of: bert, pretrained")
        self.hidden = self.bert.config.hidden_size
        self.pooling = config.pooling
        # a frozen pretrained tower (trainable_layers: 0) is a fixed function of the tokens:
        # each distinct text is encoded once, alone, in eval mode, and remembered
        self.frozen = config.type == "pretrained" and config.trainable_layers == 0
        self._features: dict[tuple[int, ...], torch.Tensor] = {}

    def train(self, mode: bool = True) -> TextEncoder:
        super().train(mode)
        if self.frozen:
            self.bert.eval()  # no dropout: the tower is a fixed function
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            return self._frozen_features(input_ids, attention_mask)
        states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self._pool(states, attention_mask)

    def _pool(self, states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return states[:, 0]
        weights = attention_mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    @torch.no_grad()
    def _frozen_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Features of a frozen tower, each distinct token sequence computed once with batch
        size 1 (so a text's features never depend on what it was batched with: training with
        the cache is as reproducible as without it) and reused for the rest of the process."""
        keys = [
            tuple(ids[mask.bool()].tolist())
            for ids, mask in zip(input_ids.cpu(), attention_mask.cpu(), strict=True)
        ]
        for key in dict.fromkeys(keys):
            if key not in self._features:
                ids = torch.tensor([key], device=input_ids.device)
                mask = torch.ones_like(ids)
                states = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
                self._features[key] = self._pool(states, mask)[0].float()
        return torch.stack([self._features[key] for key in keys]).to(input_ids.device)
