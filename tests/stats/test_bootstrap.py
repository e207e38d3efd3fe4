"""Paired bootstrap: weighted AUCs equal explicit resampling; CIs, pairing and floors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cabench.stats import (
    auc,
    bootstrap_macro_auc,
    case_resamples,
    macro,
    paired_difference,
    sampling_floor,
    summarise,
)
from cabench.stats import bootstrap as bootstrap_module


@st.composite
def cubes(draw):
    n = draw(st.integers(2, 25))
    t, f = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    raw = draw(hnp.arrays(np.int64, (n, t, f), elements=st.integers(0, 4)))
    labels = draw(hnp.arrays(np.int8, (n, f), elements=st.sampled_from([-1, 0, 1, 1, 0])))
    return (raw / 4).astype(np.float32), labels


def explicit(probs: np.ndarray, labels: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    return np.stack([macro(auc(probs[rows], labels[rows])) for rows in resamples])


@given(cubes(), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_weighted_auc_equals_auc_of_explicitly_resampled_cases(cube, seed):
    probs, labels = cube
    resamples = case_resamples(probs.shape[0], 4, seed)
    np.testing.assert_allclose(
        bootstrap_macro_auc(probs, labels, resamples),
        explicit(probs, labels, resamples),
        atol=1e-12,
    )


def test_chunks_and_threads_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(0)
    probs = rng.random((40, 5, 3), dtype=np.float32)
    labels = rng.integers(-1, 2, (40, 3)).astype(np.int8)
    resamples = case_resamples(40, 9, seed=1)
    whole = bootstrap_macro_auc(probs, labels, resamples, workers=1)
    monkeypatch.setattr(bootstrap_module, "_CHUNK_ELEMENTS", 400)  # 2 replicates per chunk
    np.testing.assert_array_equal(bootstrap_macro_auc(probs, labels, resamples, workers=2), whole)
    np.testing.assert_allclose(whole, explicit(probs, labels, resamples), atol=1e-12)


def test_resamples_are_deterministic_per_seed():
    a, b = case_resamples(50, 10, seed=3), case_resamples(50, 10, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, case_resamples(50, 10, seed=4))
    assert a.shape == (10, 50) and a.min() >= 0 and a.max() < 50


def test_stratified_resamples_stay_within_strata():
    strata = np.array(["a"] * 6 + ["b"] * 3 + ["a"])
    resamples = case_resamples(10, 200, seed=0, strata=strata)
    for value in ("a", "b"):
        members = np.flatnonzero(strata == value)
        assert np.isin(resamples[:, members], members).all()
    assert len(np.unique(resamples[:, strata == "b"])) == 3  # every member drawn somewhere


def test_paired_difference_of_a_model_with_itself_is_exactly_zero():
    rng = np.random.default_rng(1)
    reps, point = rng.random((100, 6)), rng.random(6)
    result = paired_difference(reps, reps, point, point)
    for name in ("mean", "std", "worst", "q05"):
        assert result[name] == {"point": 0.0, "low": 0.0, "high": 0.0}


def test_paired_difference_detects_a_shift():
    rng = np.random.default_rng(2)
    reps = rng.normal(0.7, 0.01, (500, 4))
    result = paired_difference(reps + 0.05, reps, np.full(4, 0.75), np.full(4, 0.7))
    assert result["mean"]["low"] == pytest.approx(0.05) and result["mean"]["high"] == pytest.approx(
        0.05
    )
    assert result["worst"]["point"] == pytest.approx(0.05)


def test_summarise_percentile_intervals():
    # Replicate r shifts every template by r / 100: the mean's CI is the shift's quantiles.
    shifts = np.arange(101) / 100
    point = np.array([0.6, 0.7, 0.8])
    reps = point + shifts[:, None]
    result = summarise(reps, point, level=0.9)
    assert result["n_replicates"] == 101 and result["level"] == 0.9
    assert result["mean"]["point"] == pytest.approx(0.7)
    assert result["mean"]["low"] == pytest.approx(0.75) and result["mean"]["high"] == pytest.approx(
        1.65
    )
    assert result["std"]["low"] == pytest.approx(0.1) and result["std"]["high"] == pytest.approx(
        0.1
    )
    assert result["min"]["low"] == pytest.approx(0.65)
    assert result["per_template"]["low"] == pytest.approx([0.65, 0.75, 0.85])
    assert result["per_template"]["point"] == [0.6, 0.7, 0.8]


def test_sampling_floor_is_mean_bootstrap_standard_error():
    reps = np.array([[0.5, 0.6], [0.7, 0.6], [0.6, 0.9]])
    expected = np.mean([np.std(reps[:, 0], ddof=1), np.std(reps[:, 1], ddof=1)])
    assert sampling_floor(reps) == pytest.approx(expected)


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        bootstrap_macro_auc(
            np.zeros((4, 2, 3), np.float32), np.zeros((4, 2)), np.zeros((2, 4), int)
        )
    with pytest.raises(ValueError):
        summarise(np.zeros((5, 3)), np.zeros(2))
    with pytest.raises(ValueError):
        case_resamples(5, 2, 0, strata=np.zeros(4))


def test_slice_cumulative_sums_equal_numpy_and_explicit_resampling(monkeypatch):
    rng = np.random.default_rng(5)
    probs = (rng.integers(0, 6, (30, 8, 3)) / 5).astype(np.float32)  # many ties
    labels = rng.integers(-1, 2, (30, 3)).astype(np.int8)
    resamples = case_resamples(30, 100, seed=2)  # one chunk: 8 templates x 100 replicates
    sliced = bootstrap_macro_auc(probs, labels, resamples, workers=1)
    monkeypatch.setattr(bootstrap_module, "_SLICE_CUMSUM_MIN", 10**9)  # numpy's cumsum
    np.testing.assert_array_equal(bootstrap_macro_auc(probs, labels, resamples, workers=1), sliced)
    np.testing.assert_allclose(sliced, explicit(probs, labels, resamples), atol=1e-12)


def test_lookup_has_one_entry_per_untied_case_and_two_per_tie():
    sorted_scores = np.array([[0.1, 0.5, 0.5, 0.9]], dtype=np.float32)
    other = np.array([[0.05, 0.5, 0.95]], dtype=np.float32)
    lookup = bootstrap_module._lookup(sorted_scores, other, np.dtype(np.float32))
    assert lookup.nnz == 4  # 0.05 and 0.95: one entry of 2; 0.5 ties: 1 at lo and 1 at hi
    dense = lookup.toarray()
    assert dense[0, 0] == 2 and dense[4, 2] == 2
    assert dense[1, 1] == 1 and dense[3, 1] == 1
