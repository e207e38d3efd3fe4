"""Case-level bootstrap, paired across models and templates.

One resample of cases is drawn per replicate and shared by every model and template, so the
difference between two models (or two templates) in a replicate is a paired difference.

The per-template macro AUC of every replicate is computed without re-sorting: each column is
sorted once, and a resample is just a multiplicity weight per case (how often it was drawn). The
weighted Mann-Whitney statistic of a column is then
``sum over positives i of w_i * (W_neg below s_i + W_neg tied with s_i / 2)``, read from cumulative
sums of the negatives' weights in their pre-sorted order. This equals :func:`auc` on the explicitly
resampled data, ties included.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from cabench.stats.ranking import check_labels
from cabench.stats.robustness import SPREAD_STATISTICS, spread_statistics

_CHUNK_ELEMENTS = 4_000_000  # replicates x templates x cases per step (bounds memory to ~50 MB)


def case_resamples(
    n_cases: int, n_replicates: int, seed: int, strata: np.ndarray | None = None
) -> np.ndarray:
    """(R, n) case indices drawn with replacement, one row per replicate; same seed, same rows.

    With ``strata`` (one value per case) each stratum is resampled within itself and keeps its
    size (e.g. stratify by dataset site). Rows are meant to be shared by every model and template.
    """
    if n_cases < 1 or n_replicates < 1:
        raise ValueError("need at least one case and one replicate")
    rng = np.random.default_rng(seed)
    if strata is None:
        return rng.integers(0, n_cases, size=(n_replicates, n_cases), dtype=np.intp)
    strata = np.asarray(strata)
    if strata.shape != (n_cases,):
        raise ValueError(f"strata must have one value per case ({n_cases}), not {strata.shape}")
    out = np.empty((n_replicates, n_cases), dtype=np.intp)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        out[:, members] = members[rng.integers(0, len(members), size=(n_replicates, len(members)))]
    return out


@dataclass
class _Finding:
    """One finding's columns, sorted once: negatives in score order and where positives fall."""

    pos_cases: np.ndarray  # (P,)
    neg_sorted: np.ndarray  # (T, N) negative case indices in ascending score order per template
    below: np.ndarray  # (T, P) negatives scoring strictly below each positive
    below_or_tied: np.ndarray | None  # (T, P) negatives scoring <= each positive; None: no ties


def _prepare(probs: np.ndarray, labels: np.ndarray) -> list[_Finding]:
    findings = []
    for f in range(labels.shape[1]):
        pos_cases = np.flatnonzero(labels[:, f] == 1)
        neg_cases = np.flatnonzero(labels[:, f] == 0)
        if pos_cases.size == 0 or neg_cases.size == 0:
            continue  # AUC undefined in every replicate; the macro skips it
        neg_scores = probs[neg_cases, :, f].T
        order = np.argsort(neg_scores, axis=1)
        neg_sorted_scores = np.take_along_axis(neg_scores, order, axis=1)
        pos_scores = probs[pos_cases, :, f].T
        below = np.empty(pos_scores.shape, dtype=np.intp)
        upto = np.empty(pos_scores.shape, dtype=np.intp)
        for t in range(pos_scores.shape[0]):
            below[t] = np.searchsorted(neg_sorted_scores[t], pos_scores[t], side="left")
            upto[t] = np.searchsorted(neg_sorted_scores[t], pos_scores[t], side="right")
        tied = not np.array_equal(below, upto)
        findings.append(_Finding(pos_cases, neg_cases[order], below, upto if tied else None))
    return findings


def _weighted_auc(
    finding: _Finding, weights: np.ndarray, count_dtype: type, float_dtype: type
) -> np.ndarray:
    """(Rc, T) AUC of one finding under multiplicity ``weights`` (Rc, n)."""
    r, (t, n_neg) = weights.shape[0], finding.neg_sorted.shape
    neg_w = np.take(weights, finding.neg_sorted, axis=1)  # (Rc, T, N)
    cum = np.zeros((r, t, n_neg + 1), dtype=count_dtype)
    np.cumsum(neg_w, axis=2, out=cum[:, :, 1:])
    twice = np.take_along_axis(cum, finding.below[None], axis=2).astype(float_dtype)
    if finding.below_or_tied is None:
        twice *= 2
    else:
        twice += np.take_along_axis(cum, finding.below_or_tied[None], axis=2)
    pos_w = weights[:, finding.pos_cases].astype(float_dtype)
    numerator = np.matmul(twice, pos_w[:, :, None])[:, :, 0].astype(np.float64)
    denominator = 2.0 * pos_w.sum(axis=1, dtype=np.float64) * cum[:, 0, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / denominator[:, None]


def bootstrap_macro_auc(
    probs: np.ndarray, labels: np.ndarray, resamples: np.ndarray, workers: int | None = None
) -> np.ndarray:
    """(R, T): the macro AUC over findings of every template in every replicate.

    ``probs`` (n, T, F), ``labels`` (n, F) with -1 for not labelled, ``resamples`` (R, n) from
    :func:`case_resamples`. A finding whose resample lacks positives or negatives is left out of
    that replicate's macro (as :func:`macro` does); NaN where no finding is left. Replicates run
    in chunks (bounded memory) on ``workers`` threads (default: up to 2; numpy releases the GIL).
    """
    probs = np.asarray(probs)
    labels = check_labels(labels)
    resamples = np.asarray(resamples)
    n, t, _ = probs.shape
    if labels.shape != (n, probs.shape[2]) or resamples.ndim != 2 or resamples.shape[1] != n:
        raise ValueError("expected probs (n, T, F), labels (n, F) and resamples (R, n)")
    findings = _prepare(probs, labels)
    # Exact integer arithmetic: cumulative weights fit int16 below 16,384 cases; float32 sums of
    # products stay exact below 2**24.
    count_dtype = np.int16 if n < 2**14 else np.int32
    float_dtype = np.float32 if n * n < 2**24 else np.float64
    n_rep = resamples.shape[0]
    step = max(1, _CHUNK_ELEMENTS // max(1, t * n))

    def run(r0: int) -> tuple[int, np.ndarray]:
        rows = resamples[r0 : r0 + step]
        flat = (np.arange(rows.shape[0])[:, None] * n + rows).ravel()
        weights = np.bincount(flat, minlength=rows.shape[0] * n).reshape(rows.shape[0], n)
        weights = weights.astype(count_dtype)
        total = np.zeros((rows.shape[0], t))
        count = np.zeros((rows.shape[0], t))
        for finding in findings:
            values = _weighted_auc(finding, weights, count_dtype, float_dtype)
            ok = np.isfinite(values)
            total += np.where(ok, values, 0.0)
            count += ok
        with np.errstate(invalid="ignore"):
            return r0, total / count

    out = np.empty((n_rep, t))
    workers = workers or min(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for r0, values in pool.map(run, range(0, n_rep, step)):
            out[r0 : r0 + values.shape[0]] = values
    return out


def _interval(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 (numpy's linear quantiles), ignoring NaN replicates."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(values, [alpha, 1.0 - alpha], axis=0)
    return low, high


def _check(replicates: np.ndarray, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    replicates = np.asarray(replicates, dtype=np.float64)
    point = np.asarray(point, dtype=np.float64)
    if replicates.ndim != 2 or point.shape != replicates.shape[1:]:
        raise ValueError(
            f"expected replicates (R, T) and point (T,), not {replicates.shape}, {point.shape}"
        )
    return replicates, point


def summarise(replicates: np.ndarray, point: np.ndarray, level: float = 0.95) -> dict:
    """Percentile confidence intervals of the across-template statistics, JSON-ready.

    ``replicates`` (R, T) from :func:`bootstrap_macro_auc`, ``point`` (T,) the estimate on all
    cases. Returns ``{"level", "n_replicates", "mean"|"std"|"min"|"q05": {"point", "low",
    "high"}, "per_template": {"point", "low", "high"} (lists)}``; the statistics are those of
    :func:`cabench.stats.robustness.spread_statistics`, computed within each replicate.
    """
    replicates, point = _check(replicates, point)
    per_replicate = spread_statistics(replicates)
    at_point = spread_statistics(point)
    out: dict = {"level": level, "n_replicates": int(replicates.shape[0])}
    for name in SPREAD_STATISTICS:
        low, high = _interval(per_replicate[name], level)
        out[name] = {"point": float(at_point[name]), "low": float(low), "high": float(high)}
    low, high = _interval(replicates, level)
    out["per_template"] = {"point": point.tolist(), "low": low.tolist(), "high": high.tolist()}
    return out


def paired_difference(
    rep_a: np.ndarray,
    rep_b: np.ndarray,
    point_a: np.ndarray,
    point_b: np.ndarray,
    level: float = 0.95,
) -> dict:
    """Paired CIs of A minus B for the mean, std, worst (min) and 5% quantile across templates.

    Both replicate arrays must come from the same resamples (same rows, same cases) so that each
    replicate's difference is paired. Returns ``{"level", "n_replicates", "mean"|"std"|"worst"|
    "q05": {"point", "low", "high"}}``; a model against itself gives exactly 0.
    """
    rep_a, point_a = _check(rep_a, point_a)
    rep_b, point_b = _check(rep_b, point_b)
    if rep_a.shape[0] != rep_b.shape[0]:
        raise ValueError("paired replicates need the same number of replicates")
    spread_a, spread_b = spread_statistics(rep_a), spread_statistics(rep_b)
    at_a, at_b = spread_statistics(point_a), spread_statistics(point_b)
    out: dict = {"level": level, "n_replicates": int(rep_a.shape[0])}
    for name in SPREAD_STATISTICS:
        low, high = _interval(spread_a[name] - spread_b[name], level)
        key = "worst" if name == "min" else name
        out[key] = {"point": float(at_a[name] - at_b[name]), "low": float(low), "high": float(high)}
    return out


def sampling_floor(replicates: np.ndarray) -> float:
    """Mean over templates of the bootstrap standard error (ddof=1) of one template's score.

    Report it beside the spread across templates: a template spread near or below this floor is
    indistinguishable from case-sampling noise.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(np.nanstd(replicates, axis=0, ddof=1)))
