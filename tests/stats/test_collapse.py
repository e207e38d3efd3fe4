"""Pair similarities against brute force; summaries of known distributions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabench.stats import cross_group_cosine, distribution_summary, same_group_cosine
from cabench.stats.collapse import _unrank_pairs


def brute_pairs(embeddings: np.ndarray, groups: np.ndarray, same: bool) -> np.ndarray:
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    n = len(groups)
    return np.array(
        [
            unit[i] @ unit[j]
            for i in range(n)
            for j in range(i + 1, n)
            if (groups[i] == groups[j]) == same
        ]
    )


def is_subset(values: np.ndarray, population: np.ndarray) -> bool:
    """Every value is within 1e-12 of a population member (sums in another order round apart)."""
    ordered = np.sort(population)
    at = np.clip(np.searchsorted(ordered, values), 1, ordered.size - 1)
    nearest = np.minimum(np.abs(ordered[at] - values), np.abs(ordered[at - 1] - values))
    return bool((nearest < 1e-12).all())


@given(st.integers(2, 40), st.integers(1, 5), st.integers(0, 1000))
def test_all_pairs_equal_brute_force(n, n_groups, seed):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n, 5))
    groups = rng.integers(0, n_groups, n)
    for same, fn in ((False, cross_group_cosine), (True, same_group_cosine)):
        np.testing.assert_allclose(
            fn(embeddings, groups), brute_pairs(embeddings, groups, same), atol=1e-12
        )


@given(st.integers(2, 3000))
def test_pair_unranking_matches_row_major_order(n):
    total = n * (n - 1) // 2
    flat = np.unique(np.r_[0, total - 1, np.random.default_rng(n).integers(0, total, 200)])
    i, j = _unrank_pairs(flat, n)
    assert (i < j).all() and (j < n).all()
    np.testing.assert_array_equal(i * n - i * (i + 1) // 2 + (j - i - 1), flat)


@pytest.mark.parametrize("whole_gram", [True, False], ids=["whole-gram", "rejection"])
def test_subsampling_is_deterministic_and_draws_real_pairs(whole_gram, monkeypatch):
    from cabench.stats import collapse

    if not whole_gram:
        monkeypatch.setattr(collapse, "_WHOLE_GRAM_ELEMENTS", 0)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(300, 8))
    groups = np.repeat(["lung", "heart", "aorta"], 100)
    full = cross_group_cosine(embeddings, groups)
    sample = cross_group_cosine(embeddings, groups, max_pairs=500, seed=1)
    assert full.size == 30_000 and sample.size == 500
    np.testing.assert_array_equal(
        sample, cross_group_cosine(embeddings, groups, max_pairs=500, seed=1)
    )
    assert not np.array_equal(sample, cross_group_cosine(embeddings, groups, max_pairs=500, seed=2))
    assert np.unique(sample).size == 500 and is_subset(sample, full)
    where = [int(np.flatnonzero(np.abs(full - v) < 1e-12)[0]) for v in sample]
    assert np.all(np.diff(where) > 0)  # in (i, j) order, like the full list
    same = same_group_cosine(embeddings, groups, max_pairs=500)
    assert same.size == 500 and is_subset(same, same_group_cosine(embeddings, groups))


def test_collapsed_embeddings_are_near_one():
    rng = np.random.default_rng(1)
    collapsed = np.ones((30, 16)) + 0.01 * rng.normal(size=(30, 16))
    summary = distribution_summary(cross_group_cosine(collapsed, np.arange(30) % 3))
    assert summary["mean"] > 0.99 and summary["histogram"]["counts"][-1] == summary["n"]


def test_summary_by_hand_and_json_ready():
    summary = distribution_summary(np.array([0.0, 0.5, 1.0, np.nan]), bins=4)
    assert summary["n"] == 3 and summary["mean"] == 0.5 and summary["std"] == 0.5
    assert summary["skewness"] == pytest.approx(0.0, abs=1e-12) and summary["q50"] == 0.5
    assert summary["kurtosis"] == pytest.approx(-1.5)  # excess kurtosis of 3 equally spaced points
    assert summary["histogram"] == {"counts": [0, 0, 1, 2], "edges": [-1.0, -0.5, 0.0, 0.5, 1.0]}
    json.dumps(summary)


def test_summary_of_known_distributions():
    rng = np.random.default_rng(2)
    normal = distribution_summary(rng.normal(0, 0.1, 200_000))
    assert normal["mean"] == pytest.approx(0, abs=2e-3) and normal["std"] == pytest.approx(
        0.1, rel=0.01
    )
    assert normal["skewness"] == pytest.approx(0, abs=0.03) and normal["kurtosis"] == pytest.approx(
        0, abs=0.05
    )
    assert normal["q95"] == pytest.approx(0.1645, abs=3e-3)
    uniform = distribution_summary(rng.uniform(-1, 1, 200_000), bins=10)
    assert uniform["kurtosis"] == pytest.approx(-1.2, abs=0.02)  # Fisher (excess)
    assert uniform["std"] == pytest.approx(1 / math.sqrt(3), rel=0.01)
    assert sum(uniform["histogram"]["counts"]) == 200_000


def test_empty_and_degenerate_inputs():
    empty = distribution_summary(np.array([]))
    assert empty["n"] == 0 and math.isnan(empty["mean"])
    zero = cross_group_cosine(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0, 1]))
    assert zero.size == 1 and math.isnan(zero[0])
    with pytest.raises(ValueError):
        cross_group_cosine(np.zeros((3, 2)), np.zeros(4))


def test_sampled_pairs_are_row_major_and_read_off_the_gram_matrix(monkeypatch):
    from cabench.stats import collapse

    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 5))
    groups = np.arange(60) % 3
    monkeypatch.setattr(collapse, "_GRAM_ELEMENTS", 120)  # blocks of 2 rows
    i, j = collapse._sample_pairs(groups, False, 1200, 300, np.random.default_rng(0))
    assert np.all(np.diff(i * 60 + j) > 0) and np.all(groups[i] != groups[j])
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(
        collapse._pair_dots(unit, i, j), np.einsum("kd,kd->k", unit[i], unit[j]), atol=1e-14
    )
