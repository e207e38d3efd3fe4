"""Per-column detection metrics: rank-based AUC, thresholded binary metrics, macro averages.

Every function works on a score array ``scores[case, ...]`` (typically the score cube
``probs[case, template, finding]``) and labels ``labels[case, ...]`` that broadcast against it on
the trailing axes (labels (n, F) serve scores (n, T, F)). Labels are 1 (positive), 0 (negative)
or -1 (not labelled: the case is left out of that column). Results have the trailing shape.
"""

from __future__ import annotations

import warnings

import numpy as np

from cabench.stats.ranking import check_labels, label_columns, sort_columns, tie_pairs
from cabench.stats.thresholds import ThresholdPolicy, parse_threshold_policy, thresholds

BINARY_METRICS = ("f1", "f1_weighted", "accuracy", "precision", "recall", "specificity")
CUBE_METRICS = ("auc", *BINARY_METRICS, "threshold")
_BINARY_CHUNK_ELEMENTS = 1 << 18  # (case, column) pairs per step of the binary metrics


def auc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of every column, equal to ``sklearn.metrics.roc_auc_score``.

    Mann-Whitney U with midranks for ties, from one sort per column: AUC = (U_upper - ties/2)/(P N)
    where U_upper counts the negatives sorted before each positive (ties put negatives first) and
    ``ties`` counts tied (positive, negative) pairs. Counts are exact integers, so the only rounding
    is the final division. NaN where a column has no labelled positive or no labelled negative.
    Fast path: float32 scores >= 0 (probabilities); other dtypes are ranked first (slower).
    """
    cols = sort_columns(scores, labels)
    n = cols.n
    # Sum of the positions of positive keys, by BLAS; float32 is exact while the sum < 2**24.
    exact = np.float32 if n * (n - 1) // 2 < 2**24 else np.float64
    positions = np.arange(n, dtype=exact)
    u_upper = np.empty(cols.n_columns, dtype=np.float64)
    ties = np.empty(cols.n_columns, dtype=np.float64)
    one = cols.codec.key_dtype.type(1)
    bits = None
    for sl, keys in cols.chunks():
        if bits is None:
            bits = np.empty(keys.shape, dtype=exact)
        low = bits[: keys.shape[0]]
        np.bitwise_and(keys, one, out=low, casting="unsafe")
        # Unlabelled keys (all bits set, sorted last) are subtracted in closed form below.
        u_upper[sl] = low @ positions
        ties[sl] = tie_pairs(keys)
    n_pos, n_neg = cols.n_pos.astype(np.float64), cols.n_neg.astype(np.float64)
    n_valid = n_pos + n_neg
    unlabelled_positions = (n * (n - 1) - n_valid * (n_valid - 1)) / 2
    u_upper -= unlabelled_positions + n_pos * (n_pos - 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (2 * u_upper - ties) / (2 * n_pos * n_neg)
    out[(n_pos == 0) | (n_neg == 0)] = np.nan
    return out.reshape(cols.trailing)


def binary_metrics(
    scores: np.ndarray, labels: np.ndarray, thresholds: np.ndarray
) -> dict[str, np.ndarray]:
    """F1, weighted F1, accuracy, precision, recall and specificity of ``score >= threshold``.

    ``thresholds`` has the trailing shape (one per column). Values equal scikit-learn's with its
    default ``zero_division`` (0 where a ratio is 0/0): ``f1_score`` (binary, positive class),
    ``f1_score(average="weighted")`` (support-weighted mean of both classes' F1, what CT-CLIP
    reports), ``accuracy_score``, ``precision_score``, ``recall_score``; specificity is the recall
    of the negative class. Columns whose threshold is NaN (no threshold could be chosen) or
    without labelled cases give NaN.
    """
    scores = np.asarray(scores)
    labels = check_labels(labels)
    thr = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), scores.shape[1:])
    labels2d, column_of = label_columns(scores.shape, labels)
    n = scores.shape[0]
    tp, fp, p, neg_n = _confusion_counts(
        scores.reshape(n, column_of.size), thr.reshape(-1), labels2d, column_of
    )
    fn, tn = p - tp, neg_n - fp
    f1_pos = _ratio(2 * tp, 2 * tp + fp + fn)
    f1_neg = _ratio(2 * tn, 2 * tn + fn + fp)
    out = {
        "f1": f1_pos,
        "f1_weighted": _ratio(p * f1_pos + neg_n * f1_neg, p + neg_n, empty=np.nan),
        "accuracy": _ratio(tp + tn, p + neg_n, empty=np.nan),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, p),
        "specificity": _ratio(tn, neg_n),
    }
    unknown = np.isnan(thr.reshape(-1)) | (p + neg_n == 0)
    for name, values in out.items():
        values[unknown] = np.nan
        out[name] = values.reshape(scores.shape[1:])
    return out


def _confusion_counts(
    scores2d: np.ndarray, thr: np.ndarray, labels2d: np.ndarray, column_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives, positives and negatives per column, as float64.

    Columns go a block at a time, so the boolean temporaries stay small whatever the cube size.
    """
    n, n_cols = scores2d.shape
    counts = np.empty((4, n_cols), dtype=np.float64)
    step = max(1, _BINARY_CHUNK_ELEMENTS // max(n, 1))
    for j0 in range(0, n_cols, step):
        sl = slice(j0, min(j0 + step, n_cols))
        lab = labels2d[:, column_of[sl]]
        pred = scores2d[:, sl] >= thr[sl]
        pos, neg = lab == 1, lab == 0
        counts[0, sl] = np.count_nonzero(pred & pos, axis=0)
        counts[1, sl] = np.count_nonzero(pred & neg, axis=0)
        counts[2, sl] = np.count_nonzero(pos, axis=0)
        counts[3, sl] = np.count_nonzero(neg, axis=0)
    return counts[0], counts[1], counts[2], counts[3]


def _ratio(num: np.ndarray, den: np.ndarray, empty: float = 0.0) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out[den == 0] = empty
    return out


def evaluate_cube(
    probs: np.ndarray, labels: np.ndarray, policy: ThresholdPolicy | str = "youden"
) -> dict[str, np.ndarray]:
    """All metrics of a score cube: ``auc``, the binary metrics and the ``threshold`` used.

    Each value has the trailing shape of ``probs`` ((T, F) for a cube (n, T, F)); thresholds
    follow ``policy`` (see :mod:`cabench.stats.thresholds`).
    """
    if isinstance(policy, str):
        policy = parse_threshold_policy(policy)
    thr = thresholds(probs, labels, policy)
    return {"auc": auc(probs, labels), **binary_metrics(probs, labels, thr), "threshold": thr}


def macro(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis (findings), ignoring NaN; NaN where every finding is NaN."""
    values = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=-1)
