"""AUC and binary metrics equal scikit-learn's, ties, unlabelled cases and broadcasting included."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from cabench.stats import auc, binary_metrics, evaluate_cube, macro


@st.composite
def cubes(draw, dtype=np.float32, levels=None):
    """(scores (n, T, F), labels (n, F)) with heavy ties and some unlabelled (-1) cases."""
    n = draw(st.integers(1, 30))
    t = draw(st.integers(1, 3))
    f = draw(st.integers(1, 3))
    levels = levels or draw(st.integers(1, 8))
    raw = draw(hnp.arrays(np.int64, (n, t, f), elements=st.integers(0, levels)))
    scores = (raw / levels).astype(dtype)
    labels = draw(hnp.arrays(np.int8, (n, f), elements=st.sampled_from([-1, 0, 1, 1, 0])))
    return scores, labels


def sklearn_auc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = np.full(scores.shape[1:], np.nan)
    for t in range(scores.shape[1]):
        for f in range(scores.shape[2]):
            keep = labels[:, f] >= 0
            y = labels[keep, f]
            if 0 < y.sum() < y.size:
                out[t, f] = roc_auc_score(y, scores[keep, t, f])
    return out


@given(cubes())
@settings(deadline=None)
def test_auc_equals_sklearn_with_ties_and_unlabelled_cases(cube):
    scores, labels = cube
    np.testing.assert_allclose(auc(scores, labels), sklearn_auc(scores, labels), atol=1e-12)


@given(cubes(dtype=np.float64, levels=5))
@settings(deadline=None)
def test_auc_other_dtypes_and_negative_scores_take_the_ranked_path(cube):
    scores, labels = cube
    expected = sklearn_auc(scores, labels)
    np.testing.assert_allclose(auc(scores - 0.5, labels), expected, atol=1e-12)
    np.testing.assert_allclose(auc((scores * 10).astype(np.int64), labels), expected, atol=1e-12)


def test_auc_continuous_scores_with_many_columns():
    rng = np.random.default_rng(0)
    scores = rng.random((400, 20, 7), dtype=np.float32)
    labels = (rng.random((400, 7)) < 0.3).astype(np.int8)
    scores[:, :, 0] += labels[:, 0, None] * 0.3  # one informative finding
    np.testing.assert_allclose(auc(scores, labels), sklearn_auc(scores, labels), atol=1e-12)


def test_auc_by_hand_with_a_tie():
    # pairs (pos, neg): 0.8>0.1, 0.8>0.4, 0.4=0.4 (half), 0.4>0.1 -> 3.5 / 4
    assert auc(np.array([0.1, 0.4, 0.4, 0.8], np.float32), np.array([0, 0, 1, 1])) == 0.875


def test_auc_nan_without_positives_or_negatives():
    scores = np.random.default_rng(1).random((6, 3), dtype=np.float32)
    labels = np.array([[1, 0, -1], [1, 0, -1], [1, 0, 1], [1, 0, 0], [1, 0, 1], [1, 0, 0]])
    result = auc(scores, labels)
    assert np.isnan(result[:2]).all() and np.isfinite(result[2])


def test_unlabelled_cases_are_excluded_not_counted_as_negative():
    scores = np.array([0.9, 0.1, 0.2, 0.95, 0.05], np.float32)
    labels = np.array([1, 0, 0, -1, -1])
    assert auc(scores, labels) == 1.0
    assert auc(scores[:3], labels[:3]) == auc(scores, labels)


@given(cubes())
def test_labels_broadcast_over_templates(cube):
    scores, labels = cube
    full = np.broadcast_to(labels[:, None, :], scores.shape)
    np.testing.assert_array_equal(auc(scores, labels), auc(scores, full))


def test_one_dimensional_and_four_dimensional_inputs():
    rng = np.random.default_rng(2)
    scores = rng.random((50, 2, 3, 4), dtype=np.float32)
    labels = rng.integers(0, 2, (50, 4))
    result = auc(scores, labels)
    assert result.shape == (2, 3, 4)
    assert result[1, 2, 3] == roc_auc_score(labels[:, 3], scores[:, 1, 2, 3])
    assert auc(scores[:, 0, 0, 0], labels[:, 0]).shape == ()


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="NaN"):
        auc(np.array([0.1, np.nan], np.float32), np.array([0, 1]))
    with pytest.raises(ValueError, match="-1"):
        auc(np.array([0.1, 0.2], np.float32), np.array([0, 2]))
    with pytest.raises(ValueError, match="broadcast"):
        auc(np.zeros((4, 3, 2), np.float32), np.zeros((4, 3), np.int8))
    with pytest.raises(ValueError, match="cases"):
        auc(np.zeros((4, 2), np.float32), np.zeros((5, 2), np.int8))


def sklearn_binary(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "f1": f1_score(y, pred),
            "f1_weighted": f1_score(y, pred, average="weighted"),
            "accuracy": accuracy_score(y, pred),
            "precision": precision_score(y, pred),
            "recall": recall_score(y, pred),
            "specificity": recall_score(y, pred, pos_label=0),
        }


@given(cubes(), st.data())
@settings(max_examples=40, deadline=None)
def test_binary_metrics_equal_sklearn(cube, data):
    scores, labels = cube
    t, f = scores.shape[1:]
    thr = data.draw(hnp.arrays(np.float64, (t, f), elements=st.sampled_from([0.0, 0.25, 0.5, 1])))
    result = binary_metrics(scores, labels, thr)
    for ti in range(t):
        for fi in range(f):
            keep = labels[:, fi] >= 0
            if not keep.any():
                continue
            expected = sklearn_binary(labels[keep, fi], scores[keep, ti, fi] >= thr[ti, fi])
            for name, value in expected.items():
                assert result[name][ti, fi] == pytest.approx(value, abs=1e-12), name


def test_binary_metrics_nan_where_threshold_unknown():
    scores = np.array([[0.2, 0.7], [0.9, 0.1]], np.float32)
    result = binary_metrics(scores, np.array([[1, 0], [0, 1]]), np.array([np.nan, 0.5]))
    assert all(np.isnan(v[0]) and np.isfinite(v[1]) for v in result.values())


def test_evaluate_cube_returns_every_metric_per_template_and_finding():
    rng = np.random.default_rng(3)
    probs = rng.random((60, 4, 3), dtype=np.float32)
    labels = rng.integers(0, 2, (60, 3)).astype(np.int8)
    result = evaluate_cube(probs, labels, "youden")
    assert set(result) == {
        "auc",
        "f1",
        "f1_weighted",
        "accuracy",
        "precision",
        "recall",
        "specificity",
        "threshold",
    }
    assert all(v.shape == (4, 3) for v in result.values())
    np.testing.assert_array_equal(result["auc"], auc(probs, labels))


def test_macro_ignores_nan_findings():
    values = np.array([[0.6, np.nan, 0.8], [np.nan, np.nan, np.nan]])
    result = macro(values)
    assert result[0] == pytest.approx(0.7) and np.isnan(result[1])


@pytest.mark.parametrize("policy", ["youden", "ctclip", "fixed:0.5"])
def test_no_cases_give_nan_not_errors(policy):
    result = evaluate_cube(np.zeros((0, 2, 3), np.float32), np.zeros((0, 3), np.int8), policy)
    assert all(v.shape == (2, 3) for v in result.values())
    assert np.isnan(result["auc"]).all() and np.isnan(result["f1"]).all()
