"""Threshold policies that turn scores into yes/no predictions (``score >= threshold``).

- ``youden`` (default): per column, the labelled case's score maximising Youden's J = TPR - FPR
  (ties in J: the highest such score; J is compared exactly, as TP N - FP P in integers). It is
  chosen on the evaluation set itself, as CT-CLIP does, so the binary metrics it yields are
  optimistic (an upper bound on what a threshold fixed in advance would give).
- ``ctclip``: CT-CLIP's rule. Grid ``numpy.linspace(0, 1, 100)`` (0, 1/99, 2/99, ..., 1), CT-CLIP
  predicts ``score > g`` and keeps the last grid point g whose ROC point is nearest (0, 1)
  (Euclidean distance ``sqrt((1 - TPR)^2 + FPR^2)``, ties going to the larger g). The threshold
  returned is the smallest value of the scores' dtype above g, so ``score >= threshold`` makes
  exactly CT-CLIP's predictions. Also chosen on the evaluation set.
- ``fixed:T`` with 0 <= T <= 1: the same threshold everywhere.

Youden and ctclip give NaN for a column without labelled positives or negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from cabench.errors import UserError
from cabench.stats.ranking import check_labels, label_columns, sort_columns

CTCLIP_GRID = np.linspace(0.0, 1.0, 100)
_YOUDEN_CHUNK_ELEMENTS = 1 << 16  # keys per step of the Youden scan (bounds scratch memory)
_ACCEPTED = "use 'youden', 'ctclip' or 'fixed:T' with 0 <= T <= 1"


@dataclass(frozen=True)
class ThresholdPolicy:
    """A parsed policy; ``str(policy)`` is its canonical form, recorded with results."""

    kind: Literal["youden", "ctclip", "fixed"]
    value: float | None = None

    def __str__(self) -> str:
        return f"fixed:{self.value!r}" if self.kind == "fixed" else self.kind


def parse_threshold_policy(text: str) -> ThresholdPolicy:
    """Parse ``youden``, ``ctclip`` or ``fixed:T``; anything else is a UserError."""
    cleaned = str(text).strip().lower()
    if cleaned in ("youden", "ctclip"):
        return ThresholdPolicy(cleaned)  # type: ignore[arg-type]
    if cleaned.startswith("fixed:"):
        try:
            value = float(cleaned.removeprefix("fixed:"))
        except ValueError:
            value = float("nan")
        if 0.0 <= value <= 1.0:
            return ThresholdPolicy("fixed", value)
    raise UserError(f"--threshold {text!r} is not a threshold policy: {_ACCEPTED}")


def thresholds(scores: np.ndarray, labels: np.ndarray, policy: ThresholdPolicy | str) -> np.ndarray:
    """One threshold per column of ``scores`` (n, ...): an array of the trailing shape."""
    if isinstance(policy, str):
        policy = parse_threshold_policy(policy)
    scores = np.asarray(scores)
    if policy.kind == "fixed":
        check_labels(labels)
        return np.full(scores.shape[1:], policy.value, dtype=np.float64)
    if policy.kind == "ctclip":
        return _ctclip(scores, labels)
    return _youden(scores, labels)


def _youden(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    cols = sort_columns(scores, labels)
    out = np.full(cols.n_columns, np.nan)
    if cols.n == 0:
        return out.reshape(cols.trailing)
    one = cols.codec.key_dtype.type(1)
    index = np.arange(cols.n, dtype=np.int64)
    # Several int64 (columns, n) temporaries per chunk: size chunks by elements, not columns.
    for sl, keys in cols.chunks(columns=max(1, _YOUDEN_CHUNK_ELEMENTS // cols.n)):
        p, n = cols.n_pos[sl, None], cols.n_neg[sl, None]
        is_pos = (keys & one).astype(np.int64)
        pos_below = np.cumsum(is_pos, axis=1) - is_pos
        neg_below = index - pos_below
        # J * P * N = TP * N - FP * P, exact in integers, at each distinct labelled score.
        j_scaled = (p - pos_below) * n - (n - neg_below) * p
        start = np.ones(keys.shape, dtype=bool)
        start[:, 1:] = (keys[:, 1:] >> one) != (keys[:, :-1] >> one)
        start &= index < p + n
        j_scaled[~start] = np.iinfo(np.int64).min
        # Ties in J go to the highest threshold: the last maximum in ascending order.
        best = keys.shape[1] - 1 - np.argmax(j_scaled[:, ::-1], axis=1)
        rows = np.arange(keys.shape[0])
        out[sl] = cols.codec.values(keys[rows, best])
    out[(cols.n_pos == 0) | (cols.n_neg == 0)] = np.nan
    return out.reshape(cols.trailing)


def _ctclip(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    labels = check_labels(labels)
    labels2d, column_of = label_columns(scores.shape, labels)
    n = scores.shape[0]
    scores2d = scores.reshape(n, column_of.size)
    if np.issubdtype(scores2d.dtype, np.floating) and np.isnan(scores2d).any():
        raise ValueError("scores contain NaN")
    n_cols = scores2d.shape[1]
    # below[i, c] = number of grid points strictly below the score; score > g_k <=> below > k.
    below = np.searchsorted(CTCLIP_GRID, scores2d, side="left")
    lab = labels2d[:, column_of]
    slot = np.arange(n_cols) * (len(CTCLIP_GRID) + 1) + below
    size = n_cols * (len(CTCLIP_GRID) + 1)
    pos_hist = np.bincount(slot[lab == 1], minlength=size).reshape(n_cols, -1)
    neg_hist = np.bincount(slot[lab == 0], minlength=size).reshape(n_cols, -1)
    # TP at grid point k = positives with below > k (reverse cumulative count).
    tp = np.cumsum(pos_hist[:, ::-1], axis=1)[:, ::-1][:, 1:].astype(np.float64)
    fp = np.cumsum(neg_hist[:, ::-1], axis=1)[:, ::-1][:, 1:].astype(np.float64)
    p, neg_n = pos_hist.sum(axis=1, keepdims=True), neg_hist.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = np.sqrt((1 - tp / p) ** 2 + (fp / neg_n) ** 2)
    # CT-CLIP keeps a later grid point on equal distance (`<=`): the last minimum.
    k = len(CTCLIP_GRID) - 1 - np.argmin(distance[:, ::-1], axis=1)
    out = _just_above(CTCLIP_GRID[k], scores.dtype)
    out[(p[:, 0] == 0) | (neg_n[:, 0] == 0)] = np.nan
    return out.reshape(scores.shape[1:])


def _just_above(grid: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The smallest value of ``dtype`` strictly above each grid point, as float64."""
    if not np.issubdtype(dtype, np.floating) or np.finfo(dtype).bits > 64:
        dtype = np.dtype(np.float64)
    cast = grid.astype(dtype)
    cast = np.where(cast.astype(np.float64) > grid, cast, np.nextafter(cast, dtype.type(np.inf)))
    return cast.astype(np.float64)
