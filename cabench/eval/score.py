"""The score cube: zero-shot probabilities for every case, template and finding in one pass of
matrix products over cached embeddings (no per-volume text encoding).

P(finding present) = softmax over the positive and negative prompt similarities (as the published
evaluations do) = sigmoid(logit_scale * (cos(v, t_pos) - cos(v, t_neg))), where v is the case's
global embedding (clip) or the embedding of the finding's anatomy (anatomy-level models).
"""

from __future__ import annotations

import numpy as np

from cabench.models.adapter import VolumeEmbeddings


def score_cube(
    volumes: VolumeEmbeddings,
    anatomy_index: np.ndarray | None,
    positive: np.ndarray,
    negative: np.ndarray,
    logit_scale: float,
) -> np.ndarray:
    """probs (N, T, F) float32.

    positive/negative: (T, F, D) prompt embeddings. anatomy_index: (F,) index of each finding's
    anatomy in the model's anatomy list (-1: no anatomy; those columns are NaN), or None for a
    global model. Cases whose anatomy is absent from the volume get NaN for that finding.
    """
    difference = (positive - negative).astype(np.float32)  # (T, F, D)
    if anatomy_index is None:
        sims = np.einsum("nd,tfd->ntf", volumes.global_, difference, optimize=True)
    else:
        index = np.maximum(anatomy_index, 0)
        chosen = volumes.anatomy[:, index, :]  # (N, F, D)
        sims = np.einsum("nfd,tfd->ntf", chosen, difference, optimize=True)
        invalid = ~volumes.anatomy_valid[:, index] | (anatomy_index < 0)[None, :]
        sims = np.where(invalid[:, None, :], np.nan, sims)
    logits = np.clip(logit_scale * sims, -60, 60)
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def merge_findings(
    probs: np.ndarray, score_findings: list[str], merged: dict[str, tuple[str, ...]],
    labelled: list[str],
) -> np.ndarray:  # fmt: skip
    """Columns for the labelled findings: a merged label takes the max over its source findings
    (e.g. Rad-ChestCT's single calcification label scored by max(arterial, coronary))."""
    columns = []
    for finding in labelled:
        sources = merged.get(finding, (finding,))
        idx = [score_findings.index(s) for s in sources]
        columns.append(np.nanmax(probs[:, :, idx], axis=2) if len(idx) > 1 else probs[:, :, idx[0]])
    return np.stack(columns, axis=2)
