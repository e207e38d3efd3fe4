"""Across-template statistics by hand, and against numpy/scipy on random inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cabench.stats import across_templates, flip_rate, prob_spread, rank_stability
from cabench.stats.robustness import nan_quantile


def test_across_templates_by_hand():
    result = across_templates(np.array([0.8, 0.7, 0.9]))
    assert result["n_templates"] == 3
    assert result["mean"] == pytest.approx(0.8)
    assert result["std"] == pytest.approx(0.1)
    assert result["var"] == pytest.approx(0.01)
    assert (result["min"], result["max"]) == (0.7, 0.9)
    assert result["range"] == pytest.approx(0.2)
    assert result["q05"] == pytest.approx(0.71)  # linear: 0.7 + 0.1 * (0.05 * 2)
    assert (result["worst_index"], result["best_index"]) == (1, 2)
    assert result["canonical"] == 0.8
    assert result["drop_mean"] == pytest.approx(0.0, abs=1e-12)
    assert result["drop_worst"] == pytest.approx(0.125)  # 1 - 0.7 / 0.8
    assert result["drop_chance_normalised_worst"] == pytest.approx(1 / 3)  # 0.1 / 0.3
    assert result["drop_chance_normalised_mean"] == pytest.approx(0.0, abs=1e-12)


def test_across_templates_single_template_and_no_chance():
    result = across_templates(np.array([0.6]), chance=None)
    assert result["n_templates"] == 1 and math.isnan(result["std"]) and result["range"] == 0
    assert result["drop_chance_normalised_mean"] is None


def test_across_templates_ignores_nan_templates_and_other_canonical():
    result = across_templates(np.array([np.nan, 0.6, 0.8]), canonical=2)
    assert result["n_templates"] == 2 and result["mean"] == pytest.approx(0.7)
    assert result["worst_index"] == 1 and result["drop_worst"] == pytest.approx(0.25)


@given(hnp.arrays(np.float64, st.integers(2, 30), elements=st.floats(0.01, 1)))
def test_across_templates_agrees_with_numpy(values):
    result = across_templates(values)
    assert result["std"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    assert result["q05"] == pytest.approx(np.quantile(values, 0.05), abs=1e-12)
    assert result["min"] <= result["q05"] <= result["max"]
    assert values[result["worst_index"]] == result["min"]
    shuffled = across_templates(values[::-1])
    assert shuffled["std"] == pytest.approx(result["std"], abs=1e-12)


def test_prob_spread_by_hand_and_unlabelled_excluded():
    probs = np.zeros((2, 2, 2), np.float32)
    probs[:, :, 0] = [0.2, 0.4]  # std (ddof=1) 0.1414 for every case
    probs[0, :, 1] = [0.0, 1.0]  # 0.7071, but case 0 is unlabelled for finding 1
    labels = np.array([[1, -1], [0, 1]])
    assert prob_spread(probs, labels) == pytest.approx(2 * math.sqrt(0.02) / 3)
    assert prob_spread(probs) == pytest.approx((2 * math.sqrt(0.02) + math.sqrt(0.5)) / 4)
    assert math.isnan(prob_spread(probs[:, :1]))


def test_flip_rate_by_hand():
    probs = np.array(
        [
            [[0.9], [0.9], [0.1]],
            [[0.2], [0.8], [0.1]],
        ],
        np.float32,
    )  # 2 cases, 3 templates, 1 finding
    thr = np.full((3, 1), 0.5)
    # template 1 flips case 1 (1/2); template 2 flips case 0 (1/2) -> mean 0.5
    assert flip_rate(probs, thr) == pytest.approx(0.5)
    assert flip_rate(probs, thr, canonical=2) == pytest.approx(0.75)
    assert flip_rate(probs, thr, labels=np.array([[1], [-1]])) == pytest.approx(0.5)
    assert math.isnan(flip_rate(probs[:, :1], thr[:1]))


def scipy_rank_stability(values: np.ndarray) -> float:
    taus = [
        scipy.stats.kendalltau(values[:, a], values[:, b]).statistic
        for a in range(values.shape[1])
        for b in range(a + 1, values.shape[1])
    ]
    taus = [t for t in taus if not math.isnan(t)]
    return float(np.mean(taus)) if taus else math.nan


@given(
    hnp.arrays(
        np.float64, st.tuples(st.integers(2, 6), st.integers(2, 6)), elements=st.integers(0, 3)
    )
)
@settings(deadline=None)
def test_rank_stability_equals_mean_scipy_kendall_tau(values):
    result, expected = rank_stability(values), scipy_rank_stability(values)
    assert result == pytest.approx(expected, abs=1e-12) or (
        math.isnan(result) and math.isnan(expected)
    )


def test_rank_stability_extremes():
    same_order = np.array([[0.9, 0.8, 0.95], [0.7, 0.6, 0.75], [0.5, 0.4, 0.55]])
    assert rank_stability(same_order) == pytest.approx(1.0)
    assert rank_stability(np.array([[0.9, 0.1], [0.1, 0.9]])) == pytest.approx(-1.0)
    assert math.isnan(rank_stability(np.array([[0.9, 0.8, 0.7]])))


@pytest.mark.parametrize("shape", [(9,), (40, 7), (3, 4, 5)])
def test_nan_quantile_equals_numpy_nanquantile(shape):
    rng = np.random.default_rng(len(shape))
    values = rng.random(shape)
    values[rng.random(shape) < 0.2] = np.nan
    if len(shape) > 1:
        values[0] = np.nan  # an all-NaN slice along the last axis
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for axis in range(len(shape)):
            for q in (0.05, [0.025, 0.975]):
                np.testing.assert_array_equal(
                    nan_quantile(values, q, axis=axis), np.nanquantile(values, q, axis=axis)
                )
