"""Representation-collapse diagnostics: cosine similarities between embedding groups.

FVLP text embeddings of different anatomies drift into one tight cluster (all cross-anatomy
cosines near 1); CA-GCL's global loss is meant to turn that distribution bell-shaped. These
functions produce the similarity samples and their summary; they take plain arrays (embeddings
(N, d) and one group label per row), nothing model-specific.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.stats

_ROW_BLOCK = 1024
_GRAM_ELEMENTS = 1 << 20  # Gram-matrix entries per block when reading sampled pairs
_WHOLE_GRAM_ELEMENTS = 1 << 23  # below this, sample pairs from the whole Gram matrix at once


def cross_group_cosine(
    embeddings: np.ndarray, groups: np.ndarray, max_pairs: int = 200_000, seed: int = 0
) -> np.ndarray:
    """Cosine similarities of the pairs i < j whose groups differ (e.g. different anatomies).

    All such pairs in row-major (i, j) order when there are at most ``max_pairs``; otherwise a
    uniform sample of ``max_pairs`` of them without replacement, fixed by ``seed`` and returned in
    (i, j) order. A zero-norm embedding gives NaN similarities.
    """
    return _pair_cosines(embeddings, groups, False, max_pairs, seed)


def same_group_cosine(
    embeddings: np.ndarray, groups: np.ndarray, max_pairs: int = 200_000, seed: int = 0
) -> np.ndarray:
    """Cosine similarities of the pairs i < j in the same group; sampling as
    :func:`cross_group_cosine`."""
    return _pair_cosines(embeddings, groups, True, max_pairs, seed)


def _pair_cosines(
    embeddings: np.ndarray, groups: np.ndarray, same: bool, max_pairs: int, seed: int
) -> np.ndarray:
    unit = _unit_rows(embeddings)
    groups = np.asarray(groups)
    n = unit.shape[0]
    if groups.shape != (n,):
        raise ValueError(f"groups must have one value per embedding ({n}), not {groups.shape}")
    if max_pairs < 1:
        raise ValueError("max_pairs must be at least 1")
    _, codes, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    codes = codes.ravel()
    n_same = int((sizes * (sizes - 1) // 2).sum())
    n_target = n_same if same else n * (n - 1) // 2 - n_same
    if n_target <= max_pairs:
        return _all_pairs(unit, codes, same)
    rng = np.random.default_rng(seed)
    if n * n <= _WHOLE_GRAM_ELEMENTS:
        return _sample_from_gram(unit, codes, same, n_target, max_pairs, rng)
    i, j = _sample_pairs(codes, same, n_target, max_pairs, rng)
    return _pair_dots(unit, i, j)


def _sample_from_gram(
    unit: np.ndarray, codes: np.ndarray, same: bool, n_target: int, k: int,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """``k`` of the wanted pairs, uniformly without replacement, in (i, j) order, read off the
    whole Gram matrix (for n up to a few thousand: one product, no rejection sampling)."""
    n = unit.shape[0]
    wanted = (codes[:, None] == codes[None, :]) == same
    wanted &= np.arange(n)[None, :] > np.arange(n)[:, None]
    flat = np.flatnonzero(wanted)  # row-major (i, j) order
    chosen = np.sort(rng.choice(n_target, size=k, replace=False))
    return (unit @ unit.T).ravel()[flat[chosen]]


def _pair_dots(unit: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``unit[i] . unit[j]`` for pairs sorted by i, read off blocks of the Gram matrix.

    One matrix product per block of rows instead of gathering two (pairs, d) arrays: BLAS does
    the arithmetic, and scratch memory stays at about ``_GRAM_ELEMENTS`` floats.
    """
    n = unit.shape[0]
    out = np.empty(i.size)
    rows = max(1, _GRAM_ELEMENTS // max(n, 1))
    bounds = np.searchsorted(i, np.arange(0, n + rows, rows))
    for b, i0 in enumerate(range(0, n, rows)):
        sl = slice(bounds[b], bounds[b + 1])
        if sl.start == sl.stop:
            continue
        gram = unit[i0 : i0 + rows] @ unit.T
        out[sl] = gram[i[sl] - i0, j[sl]]
    return out


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (N, d), not {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norms > 0, x / norms, np.nan)


def _all_pairs(unit: np.ndarray, codes: np.ndarray, same: bool) -> np.ndarray:
    n = unit.shape[0]
    parts = []
    for i0 in range(0, n, _ROW_BLOCK):
        rows = np.arange(i0, min(i0 + _ROW_BLOCK, n))
        sims = unit[rows] @ unit.T
        wanted = (np.arange(n)[None, :] > rows[:, None]) & (
            (codes[rows][:, None] == codes[None, :]) == same
        )
        parts.append(sims[wanted])
    return np.concatenate(parts) if parts else np.empty(0)


def _sample_pairs(
    codes: np.ndarray, same: bool, n_target: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` distinct pairs (i < j) drawn uniformly among the wanted ones, sorted (i, j)."""
    n = codes.size
    n_all = n * (n - 1) // 2
    draw = min(n_all, int(1.2 * k * n_all / n_target) + 1000)
    while True:
        flat = rng.choice(n_all, size=draw, replace=False)
        i, j = _unrank_pairs(flat, n)
        keep = (codes[i] == codes[j]) == same
        if keep.sum() >= k or draw == n_all:
            break
        draw = min(n_all, 2 * draw)
    # choice() returns a random order, so the first k kept pairs are a uniform sample.
    chosen = np.flatnonzero(keep)[:k]
    # Flat indices count pairs in row-major (i, j) order: sorting them sorts the pairs.
    order = np.argsort(flat[chosen])
    return i[chosen][order], j[chosen][order]


def _unrank_pairs(flat: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair (i, j), i < j, of each index into the row-major list of all pairs of n items."""
    flat = flat.astype(np.int64)
    # Count pairs from the end: index m of the reversed list is pair (a, b), a > b, of n items.
    m = (n * (n - 1) // 2 - 1) - flat
    a = ((1 + np.sqrt(1 + 8 * m.astype(np.float64))) // 2).astype(np.int64)
    a -= a * (a - 1) // 2 > m  # fix float rounding by at most one either way
    a += (a + 1) * a // 2 <= m
    b = m - a * (a - 1) // 2
    return n - 1 - a, n - 1 - b


def distribution_summary(
    values: np.ndarray, bins: int = 40, range: tuple[float, float] = (-1.0, 1.0)
) -> dict:
    """Summary of a similarity sample, JSON-ready (floats and plain lists).

    n (finite values used), mean, std (ddof=1), skewness (``scipy.stats.skew``, biased moment
    estimator), kurtosis (``scipy.stats.kurtosis``: Fisher's definition, i.e. excess kurtosis, 0
    for a normal distribution; biased estimator), q05/q50/q95 (numpy's linear quantiles), and a
    histogram over ``range`` (values outside it, e.g. cosines of 1 + 1e-16, are clipped into the
    end bins).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    counts, edges = np.histogram(np.clip(x, *range), bins=bins, range=range)
    out: dict = {"n": int(x.size)}
    nan = float("nan")
    if x.size:
        q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
        with warnings.catch_warnings():  # constant samples: scipy warns and returns NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            more = x.size > 1
            out.update(
                mean=float(x.mean()),
                std=float(x.std(ddof=1)) if more else nan,
                skewness=float(scipy.stats.skew(x)) if more else nan,
                kurtosis=float(scipy.stats.kurtosis(x, fisher=True)) if more else nan,
                q05=float(q05),
                q50=float(q50),
                q95=float(q95),
            )
    else:
        out.update(mean=nan, std=nan, skewness=nan, kurtosis=nan, q05=nan, q50=nan, q95=nan)
    out["histogram"] = {"counts": counts.tolist(), "edges": edges.tolist()}
    return out
