"""The permutation test of a macro AUC against chance."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from cabench.stats.chance import macro_auc_chance_test


def _data(seed: int, cases: int = 60, findings: int = 5, signal: float = 0.0):
    rng = np.random.default_rng(seed)
    labels = (rng.random((cases, findings)) < 0.3).astype(np.int64)
    labels[:2], labels[2:4] = 1, 0  # both classes in every column
    scores = signal * labels + rng.normal(size=labels.shape)
    return scores, labels


def test_observed_statistic_is_sklearns_macro_auc_with_unlabelled_cases_left_out():
    scores, labels = _data(0, signal=0.8)
    labels[10:15, 1] = -1
    expected = np.mean(
        [roc_auc_score(labels[labels[:, f] >= 0, f], scores[labels[:, f] >= 0, f])
         for f in range(labels.shape[1])]
    )  # fmt: skip
    assert macro_auc_chance_test(scores, labels, permutations=99).observed == pytest.approx(
        expected, abs=1e-12
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), signal=st.floats(0.0, 3.0))
def test_p_value_and_null_are_well_formed(seed, signal):
    scores, labels = _data(seed, signal=signal)
    result = macro_auc_chance_test(scores, labels, permutations=199, seed=seed)
    assert 1 / 200 <= result.p_value <= 1 and result.permutations == 199
    q = result.null_quantiles
    assert 0.4 < q[0.5] < 0.6 and q[0.5] <= q[0.95] <= q[0.99]


def _null(scores, labels, seed):
    """The same permutations, scored one at a time by scikit-learn with the *labels* moved (by
    the inverse permutation): checks the vectorised layout and that moving scores is the same
    pairing as moving labels."""
    from scipy.stats import permutation_test

    def macro(order):
        inverse = np.argsort(order)
        return np.mean([roc_auc_score(labels[inverse, f], scores[:, f])
                        for f in range(labels.shape[1])])  # fmt: skip

    def statistic(order, axis=-1):
        orders = np.atleast_2d(order)
        values = [macro(o) for o in orders]
        return np.array(values) if np.ndim(order) > 1 else values[0]

    return permutation_test((np.arange(len(scores)),), statistic, permutation_type="pairings",
                            n_resamples=199, vectorized=True, random_state=seed,
                            alternative="greater").null_distribution  # fmt: skip


def test_vectorised_null_equals_one_permutation_at_a_time():
    scores, labels = _data(3, signal=0.5)
    result = macro_auc_chance_test(scores, labels, permutations=199, seed=7)
    null = _null(scores, labels, 7)
    assert np.quantile(null, 0.95) == pytest.approx(result.null_quantiles[0.95], abs=1e-12)
    assert np.std(null) == pytest.approx(result.null_std, abs=1e-12)
    assert result.p_value == pytest.approx((1 + np.sum(null >= result.observed)) / 200)


def test_separation_is_significant_and_reversal_is_not():
    scores, labels = _data(1, signal=3.0)
    assert macro_auc_chance_test(scores, labels, permutations=199).p_value == 1 / 200
    assert macro_auc_chance_test(-scores, labels, permutations=199).p_value == 1.0


def test_p_values_are_calibrated_when_scores_carry_nothing():
    p = np.array([macro_auc_chance_test(*_data(s), permutations=99, seed=s).p_value
                  for s in range(200)])  # fmt: skip
    assert 0.01 <= np.mean(p <= 0.05) <= 0.10  # nominal 0.05; 200 draws: sd 0.015
    assert 0.4 < p.mean() < 0.6


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="cases, findings"):
        macro_auc_chance_test(np.zeros((4, 2)), np.zeros((4, 3)))
