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
    n_templates, n_findings, dim = difference.shape
    source = volumes.global_ if anatomy_index is None else volumes.anatomy
    n_cases = source.shape[0]
    probs = np.empty((n_cases, n_templates, n_findings), dtype=np.float32)
    if anatomy_index is None:
        flat = difference.reshape(n_templates * n_findings, dim)
        np.matmul(volumes.global_, flat.T, out=probs.reshape(n_cases, -1), casting="same_kind")
    else:
        _anatomy_similarities(volumes, np.asarray(anatomy_index), difference, probs)
    return _sigmoid_inplace(probs, logit_scale)


def _anatomy_similarities(
    volumes: VolumeEmbeddings, anatomy_index: np.ndarray, difference: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out`` (N, T, F) with cos(anatomy embedding, difference), NaN where not scorable.

    One matrix product per anatomy, over the findings of that anatomy: no (N, F, D) copy of the
    embeddings is made, and the only temporary is one anatomy's block of the cube.
    """
    n_cases, n_templates, _ = out.shape
    for anatomy in np.unique(anatomy_index):
        findings = np.flatnonzero(anatomy_index == anatomy)
        if anatomy < 0:
            out[:, :, findings] = np.nan
            continue
        block = difference[:, findings, :].reshape(-1, difference.shape[2])  # (T * k, D)
        sims = np.matmul(volumes.anatomy[:, anatomy, :], block.T)  # (N, T * k)
        sims = sims.reshape(n_cases, n_templates, findings.size)
        sims[~volumes.anatomy_valid[:, anatomy]] = np.nan
        out[:, :, findings] = sims


def _sigmoid_inplace(sims: np.ndarray, logit_scale: float) -> np.ndarray:
    """sigmoid(clip(logit_scale * sims, -60, 60)) computed in place (float32, NaN stays NaN)."""
    np.multiply(sims, np.float32(logit_scale), out=sims)
    np.clip(sims, -60, 60, out=sims)
    np.negative(sims, out=sims)
    np.exp(sims, out=sims)
    np.add(sims, np.float32(1.0), out=sims)
    np.reciprocal(sims, out=sims)
    return sims


def merge_findings(
    probs: np.ndarray, score_findings: list[str], merged: dict[str, tuple[str, ...]],
    labelled: list[str],
) -> np.ndarray:  # fmt: skip
    """Columns for the labelled findings: a merged label takes the max over its source findings
    (e.g. Rad-ChestCT's single calcification label scored by max(arterial, coronary))."""
    if list(labelled) == list(score_findings) and not any(f in merged for f in labelled):
        return probs  # nothing merged: the columns are the cube itself, no copy
    columns = []
    for finding in labelled:
        sources = merged.get(finding, (finding,))
        idx = [score_findings.index(s) for s in sources]
        columns.append(np.nanmax(probs[:, :, idx], axis=2) if len(idx) > 1 else probs[:, :, idx[0]])
    return np.stack(columns, axis=2)
