"""Clinical-aware text augmentation used while training CA-GCL (arXiv 2605.13544).

Two properties of clinical descriptions are taught by augmentation: permutation invariance (the
order of an anatomy's sentences carries no meaning) and partial completeness (any non-empty
subset of them is still a true description).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TextAugmentation:
    """shuffle_p: probability of shuffling an anatomy's sentences; subset_q: probability of
    keeping only a random non-empty subset of them (order of the kept ones preserved)."""

    shuffle_p: float = 0.0
    subset_q: float = 0.0

    @property
    def active(self) -> bool:
        return self.shuffle_p > 0 or self.subset_q > 0

    def __call__(self, sentences: list[str], rng: np.random.Generator) -> list[str]:
        out = list(sentences)
        if len(out) > 1 and self.subset_q > 0 and rng.random() < self.subset_q:
            keep = int(rng.integers(1, len(out) + 1))
            chosen = np.sort(rng.choice(len(out), size=keep, replace=False))
            out = [out[i] for i in chosen]
        if len(out) > 1 and self.shuffle_p > 0 and rng.random() < self.shuffle_p:
            out = [out[i] for i in rng.permutation(len(out))]
        return out
