"""How far a macro AUC is from chance: a permutation test over cases.

Under the null hypothesis the scores carry no information about the labels, so any pairing of
cases' scores with cases' labels is as likely as the observed one. Permuting whole cases keeps
each finding's prevalence, the correlation between findings' labels and the correlation between
findings' scores (an anatomy-level model scores the findings of one anatomy from one embedding),
which a per-finding null would ignore. On a small validation split the null is wide -- with 122
cases and 3 to 57 positives per finding, one finding's AUC spreads by about +-0.07 by chance --
so "above chance" is a number to compute, not to eyeball.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cabench.stats.metrics import auc

NULL_QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class ChanceTest:
    observed: float  # macro AUC of the scores as paired with the labels
    p_value: float  # one-sided: P(null >= observed), counting the observed pairing
    null_quantiles: dict[float, float]  # macro AUC quantiles under the null
    null_std: float  # its standard deviation
    permutations: int

    @property
    def z(self) -> float:
        """How many null standard deviations the observed macro AUC lies above the null's
        median."""
        return (self.observed - self.null_quantiles[0.5]) / self.null_std


def macro_auc_chance_test(
    scores: np.ndarray, labels: np.ndarray, permutations: int = 999, seed: int = 0
) -> ChanceTest:
    """Permutation test of the macro AUC of ``scores`` (cases, findings) against ``labels``
    (cases, findings; 1, 0 or -1 for unlabelled), by `scipy.stats.permutation_test`."""
    from scipy.stats import permutation_test

    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape}: want (cases, findings)")

    def macro_auc(order: np.ndarray, axis: int = -1) -> np.ndarray:
        # permuting the scores' cases is the same pairing test as permuting the labels', and lets
        # one `auc` call score every permutation: scores (cases, permutations, findings)
        orders = np.atleast_2d(order)
        with np.errstate(invalid="ignore"):
            per_finding = auc(scores[orders.T], labels)
        macro = np.nanmean(per_finding, axis=-1)
        return macro if np.ndim(order) > 1 else macro[0]

    result = permutation_test(
        (np.arange(len(scores)),),
        macro_auc,
        permutation_type="pairings",
        n_resamples=permutations,
        alternative="greater",
        vectorized=True,
        batch=max(1, min(permutations, 2**22 // max(1, scores.size))),
        random_state=seed,
    )
    null = result.null_distribution
    return ChanceTest(
        observed=float(result.statistic),
        p_value=float(result.pvalue),
        null_quantiles={q: float(np.quantile(null, q)) for q in NULL_QUANTILES},
        null_std=float(np.std(null)),
        permutations=len(null),
    )


__all__ = ["ChanceTest", "NULL_QUANTILES", "macro_auc_chance_test"]
