"""How much a score depends on the prompt template: spread, worst case, drops, flips, ranks.

Conventions (the literature's, see docs): std uses ddof=1; the 5% quantile is numpy's default
"linear" method (Hyndman-Fan type 7); the worst template is the minimum. NaN templates (e.g. a
template whose every finding lacked positives) are ignored and not counted in ``n_templates``.
"""

from __future__ import annotations

import warnings

import numpy as np

SPREAD_STATISTICS = ("mean", "std", "min", "q05")


def spread_statistics(values: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, std (ddof=1), min and 5% quantile over the last axis (templates), ignoring NaN.

    Vectorised over leading axes, so the same definitions serve a point estimate (T,) and
    bootstrap replicates (R, T).
    """
    values = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "mean": np.nanmean(values, axis=-1),
            "std": np.nanstd(values, axis=-1, ddof=1),
            "min": np.nanmin(values, axis=-1),
            "q05": nan_quantile(values, 0.05),
        }


def nan_quantile(values: np.ndarray, q: float | list[float], axis: int = -1) -> np.ndarray:
    """``numpy.nanquantile`` (linear method) over ``axis``, with the same numbers, vectorised.

    numpy computes a NaN-aware quantile one slice at a time in Python; slices without NaN give the
    same result through ``numpy.quantile`` in one call, so only slices holding NaN take the slow
    path. The caller handles warnings (an all-NaN slice gives NaN).
    """
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    if values.ndim < 2:
        return np.nanquantile(values, q, axis=-1)
    has_nan = np.isnan(values).any(axis=-1)
    out = np.quantile(values, q, axis=-1)
    if has_nan.any():
        out[..., has_nan] = np.nanquantile(values[has_nan], q, axis=-1)
    return out


def across_templates(
    per_template: np.ndarray, canonical: int = 0, chance: float | None = 0.5
) -> dict[str, float | int | None]:
    """Robustness summary of one score per template (e.g. macro AUC per template), JSON-ready.

    Keys: n_templates, mean, std (ddof=1; NaN for one template), var, min, max, range (depends on
    the number of templates, so report n_templates with it), q05, worst_index (argmin),
    best_index, canonical (the value of template ``canonical``), and drops relative to it for the
    mean and for the worst template: ``drop_mean``/``drop_worst`` = 1 - x / canonical
    (PromptBench's performance drop rate) and ``drop_chance_normalised_mean``/``_worst`` =
    (canonical - x) / (canonical - chance), meaningful for AUC (chance 0.5); None when ``chance``
    is None.
    """
    values = np.asarray(per_template, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("per_template must be a non-empty 1-D array")
    if not -values.size <= canonical < values.size:
        raise ValueError(f"canonical index {canonical} is outside {values.size} templates")
    stats = {k: float(v) for k, v in spread_statistics(values).items()}
    finite = np.isfinite(values)
    any_finite = bool(finite.any())
    high = float(np.nanmax(values)) if any_finite else float("nan")
    reference = float(values[canonical])
    out: dict[str, float | int | None] = {
        "n_templates": int(finite.sum()),
        "mean": stats["mean"],
        "std": stats["std"],
        "var": stats["std"] ** 2,
        "min": stats["min"],
        "max": high,
        "range": high - stats["min"],
        "q05": stats["q05"],
        "worst_index": int(np.nanargmin(values)) if any_finite else None,
        "best_index": int(np.nanargmax(values)) if any_finite else None,
        "canonical": reference,
    }
    for name, x in (("mean", stats["mean"]), ("worst", stats["min"])):
        out[f"drop_{name}"] = _divide(reference - x, reference)
        out[f"drop_chance_normalised_{name}"] = (
            None if chance is None else _divide(reference - x, reference - chance)
        )
    return out


def _divide(num: float, den: float) -> float:
    return num / den if den != 0 and np.isfinite(den) else float("nan")


def prob_spread(probs: np.ndarray, labels: np.ndarray | None = None) -> float:
    """Mean over (case, finding) of the std (ddof=1) of a case's probability across templates.

    ``probs`` (n, T, F); with ``labels`` (n, F), unlabelled (case, finding) pairs (-1) are left
    out. NaN with fewer than two templates. Computed in float64, a block of cases at a time.
    """
    probs = np.asarray(probs)
    n, t, f = probs.shape
    keep = np.ones((n, f), dtype=bool) if labels is None else np.asarray(labels) >= 0
    if t < 2 or not keep.any():
        return float("nan")
    total = 0.0
    for i0 in range(0, n, 1024):
        block = probs[i0 : i0 + 1024].astype(np.float64)
        spread = block.std(axis=1, ddof=1)
        total += float(spread[keep[i0 : i0 + 1024]].sum())
    return total / int(keep.sum())


def flip_rate(
    probs: np.ndarray,
    thresholds: np.ndarray,
    canonical: int = 0,
    labels: np.ndarray | None = None,
) -> float:
    """Share of predictions that change when the canonical template is swapped for another.

    Prediction: ``probs[c, t, f] >= thresholds[t, f]``. For each template t != canonical, the
    share of (case, finding) pairs whose prediction differs from the canonical template's, over the
    pairs where both thresholds are finite (and, with ``labels``, the case is labelled for f);
    the result is the mean of those shares over the non-canonical templates. NaN for one template.
    """
    probs = np.asarray(probs)
    thr = np.asarray(thresholds, dtype=np.float64)
    n, t, f = probs.shape
    if thr.shape != (t, f):
        raise ValueError(f"thresholds must have shape {(t, f)}, not {thr.shape}")
    if t < 2:
        return float("nan")
    keep = np.ones((n, f), dtype=bool) if labels is None else np.asarray(labels) >= 0
    pred = probs >= thr
    base = pred[:, canonical, :]
    shares = []
    for k in range(t):
        if k == canonical % t:
            continue
        valid = keep & (np.isfinite(thr[k]) & np.isfinite(thr[canonical]))[None, :]
        if valid.any():
            shares.append(np.count_nonzero((pred[:, k, :] != base) & valid) / valid.sum())
    return float(np.mean(shares)) if shares else float("nan")


def rank_stability(per_template_by_model: np.ndarray) -> float:
    """Mean Kendall tau-b of the models' ranking between every pair of templates.

    ``per_template_by_model`` (M, T), e.g. macro AUC of M models under T templates. Each pair of
    templates gives ``scipy.stats.kendalltau`` (tau-b) between the two columns; it is computed for
    all pairs at once from the signs of the model differences (same value, tested against scipy).
    Pairs where a template ties every model are undefined and skipped. NaN when M < 2 or T < 2.
    """
    x = np.asarray(per_template_by_model, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("per_template_by_model must be a 2-D array (models, templates)")
    m, t = x.shape
    if m < 2 or t < 2:
        return float("nan")
    i, j = np.triu_indices(m, 1)
    signs = np.sign(x[i] - x[j])  # (model pairs, templates)
    untied = np.count_nonzero(signs, axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = (signs.T @ signs) / np.sqrt(np.outer(untied, untied))
    upper = tau[np.triu_indices(t, 1)]
    upper = upper[np.isfinite(upper)]
    return float(upper.mean()) if upper.size else float("nan")
