"""Metrics at benchmark size: 3,000 cases x 100 templates x 18 findings.

1. Vectorised rank-based AUC against a scikit-learn loop (one ``roc_auc_score`` call per template
   and finding, as the published evaluations do): speed ratio, and the largest difference on the
   continuous cube and on a heavily tied copy.
2. 1,000 paired-bootstrap replicates of every across-template statistic (resampling, per-template
   macro AUC per replicate, CIs of mean/std/min/q05 and per template, sampling floor).
"""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from cabench.stats import (
    auc,
    bootstrap_macro_auc,
    case_resamples,
    macro,
    sampling_floor,
    summarise,
)

N_CASES, N_TEMPLATES, N_FINDINGS, N_REPLICATES = 3000, 100, 18, 1000


def make_cube(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A zero-shot-like cube: float32 probabilities, prevalence 3-40% per finding, signal varying by
    template and finding."""
    rng = np.random.default_rng(seed)
    prevalence = rng.uniform(0.03, 0.4, N_FINDINGS)
    labels = (rng.random((N_CASES, N_FINDINGS)) < prevalence).astype(np.int8)
    signal = rng.uniform(0.2, 1.5, (N_TEMPLATES, N_FINDINGS))
    offset = rng.normal(0.0, 1.0, (N_TEMPLATES, N_FINDINGS))
    logits = labels[:, None, :] * signal + offset + rng.normal(size=(N_CASES, N_TEMPLATES, 1))
    logits += rng.normal(size=logits.shape)
    probs = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    return probs, labels


def sklearn_loop(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = np.empty(probs.shape[1:])
    for t in range(probs.shape[1]):
        for f in range(probs.shape[2]):
            out[t, f] = roc_auc_score(labels[:, f], probs[:, t, f])
    return out


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run() -> list[tuple[str, str, str, bool]]:
    probs, labels = make_cube()
    print(f"cube {probs.shape} {probs.dtype}, labels {labels.shape}, {os.cpu_count()} CPUs")

    t_ref, reference = best_of(lambda: sklearn_loop(probs, labels), 1)
    t_vec, fast = best_of(lambda: auc(probs, labels), 7)
    tied = np.round(probs[:, :10] * 20) / 20  # 21 distinct values: heavy ties
    diff = max(
        float(np.abs(fast - reference).max()),
        float(np.abs(auc(tied, labels) - sklearn_loop(tied, labels)).max()),
    )
    ratio = t_ref / t_vec
    print(f"auc: scikit-learn loop {t_ref:.2f} s, vectorised {t_vec * 1e3:.1f} ms (best of 7)")
    print(f"auc: speed-up {ratio:.0f}x, max |difference| {diff:.1e} (continuous + tied cube)")

    def all_statistics() -> dict:
        resamples = case_resamples(N_CASES, N_REPLICATES, seed=0)
        replicates = bootstrap_macro_auc(probs, labels, resamples)
        summary = summarise(replicates, macro(auc(probs, labels)))
        summary["sampling_floor"] = sampling_floor(replicates)
        return {"summary": summary, "replicates": replicates, "resamples": resamples}

    cpu_start = time.process_time()
    t_boot, result = best_of(all_statistics, 1)
    cpu_boot = time.process_time() - cpu_start
    resamples, replicates = result["resamples"], result["replicates"]
    check = max(
        float(np.abs(replicates[r] - macro(auc(probs[resamples[r]], labels[resamples[r]]))).max())
        for r in range(3)
    )
    summary = result["summary"]
    print(
        f"bootstrap: {N_REPLICATES} replicates in {t_boot:.1f} s wall, {cpu_boot:.1f} s CPU "
        f"({t_boot / N_REPLICATES * 1e3:.1f} ms each, default workers); replicate vs explicit "
        f"resample max |difference| {check:.1e}"
    )
    print(
        f"bootstrap: mean macro AUC {summary['mean']['point']:.4f} "
        f"[{summary['mean']['low']:.4f}, {summary['mean']['high']:.4f}], std across templates "
        f"{summary['std']['point']:.4f}, sampling floor {summary['sampling_floor']:.4f}"
    )
    return [
        ("auc speed-up vs scikit-learn loop", f"{ratio:.0f}x", ">= 100x", ratio >= 100),
        ("auc max |difference| vs scikit-learn", f"{diff:.1e}", "<= 1e-9", diff <= 1e-9),
        (
            "bootstrap 1,000 replicates, all statistics",
            f"{t_boot:.1f} s",
            "< 60 s",
            t_boot < 60 and check <= 1e-9,
        ),
    ]
