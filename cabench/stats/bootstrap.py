"""Case-level bootstrap, paired across models and templates.

One resample of cases is drawn per replicate and shared by every model and template, so the
difference between two models (or two templates) in a replicate is a paired difference.

The per-template macro AUC of every replicate is computed without re-sorting: each column is
sorted once, and a resample is just a multiplicity weight per case (how often it was drawn). The
weighted Mann-Whitney statistic of a column,
``U = sum over positives i of w_i * (W_neg below s_i + W_neg tied with s_i / 2)``, is read from
cumulative sums of one class's weights in its pre-sorted order, binned against the other class's
weights by a sparse product. This equals :func:`auc` on the explicitly resampled data, ties
included (bench/bench_metrics.py measures the speed).
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from cabench.stats.ranking import check_labels
from cabench.stats.robustness import SPREAD_STATISTICS, nan_quantile, spread_statistics

_CHUNK_ELEMENTS = 4_000_000  # replicates x templates x cases per step (bounds scratch memory)
_SLICE_CUMSUM_MIN = 512  # templates x replicates from which slice-wise cumulative sums pay


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
    """One finding's columns sorted once.

    The smaller class is kept in score order per template ("sorted"); each case of the other class
    ("looked-up") knows how many sorted-class cases score below it (``lo``) and below or tied
    (``hi``). ``lookup`` is the sparse (T * (S + 1), L) matrix with a 1 at (t, lo) and at (t, hi)
    for every looked-up case (one 2 where lo == hi), so ``lookup @ weights`` bins the looked-up
    weights by position.
    """

    sorted_cases: np.ndarray  # (T * S,) sorted-class case indices, ascending score per template
    looked_up: np.ndarray  # (L,) the other class's case indices
    lookup: scipy.sparse.csr_matrix
    positives_looked_up: bool  # else the pair count is the complement: W_pos W_neg - U


def _prepare(probs: np.ndarray, labels: np.ndarray, dtype: np.dtype) -> list[_Finding]:
    findings = []
    for f in range(labels.shape[1]):
        pos_cases = np.flatnonzero(labels[:, f] == 1)
        neg_cases = np.flatnonzero(labels[:, f] == 0)
        if pos_cases.size == 0 or neg_cases.size == 0:
            continue  # AUC undefined in every replicate; the macro skips it
        # Cumulative sums cost more per case than look-ups: sort the smaller class.
        positives_looked_up = pos_cases.size >= neg_cases.size
        sorted_class, other = (
            (neg_cases, pos_cases) if positives_looked_up else (pos_cases, neg_cases)
        )
        sorted_scores = probs[sorted_class, :, f].T
        order = np.argsort(sorted_scores, axis=1)
        sorted_scores = np.take_along_axis(sorted_scores, order, axis=1)
        other_scores = probs[other, :, f].T
        lookup = _lookup(sorted_scores, other_scores, dtype)
        sorted_cases = sorted_class.astype(_index_dtype(probs.shape[0]))[order].ravel()
        findings.append(_Finding(sorted_cases, other, lookup, positives_looked_up))
    return findings


def _index_dtype(size: int) -> np.dtype:
    """int32 for indices below 2**31 (half the memory of int64), else int64."""
    return np.dtype(np.int32 if size < 2**31 else np.int64)


def _lookup(sorted_scores: np.ndarray, other_scores: np.ndarray, dtype: np.dtype):
    """The (T * (S + 1), L) lookup matrix of :class:`_Finding`, built in CSC form, then CSR.

    Column i (a looked-up case) holds, for each template t, a 2 at row t (S + 1) + lo when no
    sorted-class score ties it (lo == hi), else a 1 at lo and a 1 at hi. Rows ascend within a
    column, so the arrays are final as built: no COO copy, no duplicate summing, exact sizes.
    """
    n_templates, n_sorted = sorted_scores.shape
    n_other = other_scores.shape[1]
    index = _index_dtype(n_templates * (n_sorted + 1))
    rows = np.empty((n_other, n_templates, 2), dtype=index)  # case-major: CSC column order
    for t in range(n_templates):
        rows[:, t, 0] = np.searchsorted(sorted_scores[t], other_scores[t], side="left")
        rows[:, t, 1] = np.searchsorted(sorted_scores[t], other_scores[t], side="right")
    rows += (np.arange(n_templates, dtype=index) * (n_sorted + 1))[:, None]
    tied = rows[:, :, 1] != rows[:, :, 0]  # (L, T)
    keep = np.ones(rows.shape, dtype=bool)
    keep[:, :, 1] = tied
    indices = rows[keep]
    del rows
    data = np.ones(keep.shape, dtype=dtype)
    data[:, :, 0] = np.where(tied, dtype.type(1), dtype.type(2))
    data = data[keep]
    indptr = np.zeros(n_other + 1, dtype=index)
    np.cumsum(n_templates + np.count_nonzero(tied, axis=1), out=indptr[1:])
    by_column = scipy.sparse.csc_matrix(
        (data, indices, indptr), shape=(n_templates * (n_sorted + 1), n_other), copy=False
    )
    return by_column.tocsr()  # exact-size too; products with dense weights run ~2x faster


class _Workspace:
    """Scratch arrays reused across findings and chunks by one worker thread.

    Fresh multi-megabyte temporaries cost a page fault per 4 KiB on every call (the allocator
    hands them back to the OS); reusing them removes that cost.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        size = int(np.prod(shape))
        array = self._arrays.get(name)
        if array is None or array.size < size or array.dtype != dtype:
            array = self._arrays[name] = np.empty(size, dtype=dtype)
        return array[:size].reshape(shape)


def _weighted_auc(finding: _Finding, weights: np.ndarray, space: _Workspace) -> np.ndarray:
    """(Rc, T) AUC of one finding under multiplicity ``weights`` (n, Rc), case-major.

    ``cum[t, k]`` is the sorted-class weight of the first k cases in template t's order and
    ``binned = lookup @ looked-up weights``; their dot product over k is, per template,
    sum over looked-up cases of w_i (weight below + weight below or tied) = 2 U when positives
    are looked up, else 2 (W_pos W_neg - U). All values are integer counts: exact in float32
    below 2**24, and the dot product is accumulated in float64.
    """
    r, dtype = weights.shape[1], weights.dtype
    n_sorted = finding.sorted_cases.size
    n_templates = finding.lookup.shape[0] - n_sorted  # T (S + 1) rows minus T S sorted cases
    per_template = n_sorted // n_templates
    sorted_w = space.get("sorted", (n_sorted, r), dtype)
    np.take(weights, finding.sorted_cases, axis=0, out=sorted_w)
    cum = space.get("cum", (n_templates, per_template + 1, r), dtype)
    _cumsum_middle(sorted_w.reshape(n_templates, per_template, r), cum)
    look_w = np.take(weights, finding.looked_up, axis=0)
    binned = (finding.lookup @ look_w).reshape(cum.shape)
    twice_u = np.einsum("tkr,tkr->rt", cum, binned, dtype=np.float64)
    pairs = (look_w.sum(axis=0, dtype=np.float64) * cum[0, -1])[:, None]  # W_pos * W_neg
    if not finding.positives_looked_up:
        twice_u = 2.0 * pairs - twice_u
    with np.errstate(divide="ignore", invalid="ignore"):
        return twice_u / (2.0 * pairs)


def _cumsum_middle(values: np.ndarray, out: np.ndarray) -> None:
    """``out[:, 0] = 0`` and ``out[:, 1:] = cumsum(values, axis=1)`` for values (T, S, r).

    numpy accumulates along a middle axis one strided (t, r) line at a time; adding whole
    contiguous (T, r) slices step by step is several times faster when the slices are large.
    The additions happen in the same order either way, so the sums are the same.
    """
    out[:, 0] = 0
    if values.shape[0] * values.shape[2] < _SLICE_CUMSUM_MIN:
        np.cumsum(values, axis=1, out=out[:, 1:])
        return
    for k in range(values.shape[1]):
        np.add(out[:, k], values[:, k], out=out[:, k + 1])


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity, e.g. under taskset), not all the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def bootstrap_macro_auc(
    probs: np.ndarray, labels: np.ndarray, resamples: np.ndarray, workers: int | None = None
) -> np.ndarray:
    """(R, T): the macro AUC over findings of every template in every replicate.

    ``probs`` (n, T, F), ``labels`` (n, F) with -1 for not labelled, ``resamples`` (R, n) from
    :func:`case_resamples`. A finding whose resample lacks positives or negatives is left out of
    that replicate's macro (as :func:`macro` does); NaN where no finding is left. Replicates run
    in chunks (bounded memory) on ``workers`` threads (default: up to 2, and no more than the CPUs
    the process may use; numpy and scipy's sparse products release the GIL).
    """
    probs = np.asarray(probs)
    labels = check_labels(labels)
    resamples = np.asarray(resamples)
    n, t, _ = probs.shape
    if labels.shape != (n, probs.shape[2]) or resamples.ndim != 2 or resamples.shape[1] != n:
        raise ValueError("expected probs (n, T, F), labels (n, F) and resamples (R, n)")
    # Weights and their cumulative sums are integers up to 2 n: exact in float32 below 2**24
    # cases, which halves memory traffic.
    dtype = np.dtype(np.float32 if n < 2**23 else np.float64)
    findings = _prepare(probs, labels, dtype)
    n_rep = resamples.shape[0]
    step = max(1, _CHUNK_ELEMENTS // max(1, t * n))
    starts = list(range(0, n_rep, step))
    workers = max(1, min(workers or min(2, _usable_cpus()), len(starts)))
    out = np.empty((n_rep, t))

    def run(worker: int) -> None:
        space = _Workspace()
        for r0 in starts[worker::workers]:
            rows = resamples[r0 : r0 + step]
            r = rows.shape[0]
            # Case-major multiplicities: weights[i, j] = times case i is drawn in replicate j.
            flat = (rows * r + np.arange(r)[:, None]).ravel()
            weights = np.bincount(flat, minlength=n * r).reshape(n, r).astype(dtype)
            total = np.zeros((r, t))
            count = np.zeros((r, t))
            for finding in findings:
                values = _weighted_auc(finding, weights, space)
                ok = np.isfinite(values)
                total += np.where(ok, values, 0.0)
                count += ok
            with np.errstate(invalid="ignore"):
                out[r0 : r0 + r] = total / count

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, range(workers)))
    return out


def _interval(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 (numpy's linear quantiles), ignoring NaN replicates."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = nan_quantile(values, [alpha, 1.0 - alpha], axis=0)
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
