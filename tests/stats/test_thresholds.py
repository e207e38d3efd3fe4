"""Threshold policies: parsing, Youden against brute force, CT-CLIP's grid rule reproduced."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cabench.errors import UserError
from cabench.stats import ThresholdPolicy, parse_threshold_policy, thresholds


@st.composite
def columns(draw, values):
    """(scores (n, T, F) float32, labels (n, F)) drawing scores from ``values``."""
    n = draw(st.integers(1, 25))
    t, f = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    scores = draw(hnp.arrays(np.float32, (n, t, f), elements=st.sampled_from(values)))
    labels = draw(hnp.arrays(np.int8, (n, f), elements=st.sampled_from([-1, 0, 1, 1, 0])))
    return scores, labels


def brute_youden(scores: np.ndarray, labels: np.ndarray) -> float:
    """Highest observed labelled score among those maximising TPR - FPR (predict >=)."""
    y = labels >= 0
    s, y = scores[y], labels[y]
    p, n = int(y.sum()), int((y == 0).sum())
    if p == 0 or n == 0:
        return math.nan
    best = max(
        (
            Fraction(int(((s >= c) & (y == 1)).sum()), p)
            - Fraction(int(((s >= c) & (y == 0)).sum()), n),
            c,
        )
        for c in np.unique(s)
    )
    return float(best[1])


def ctclip_reference(probabilities: np.ndarray, true_labels: np.ndarray) -> float:
    """CT-CLIP's find_threshold (scripts/run_zero_shot evaluation), restated."""
    best_threshold, best_roc = 0.0, 10000.0
    for threshold in np.linspace(0, 1, 100):
        predictions = probabilities > threshold
        tp = int((predictions & (true_labels == 1)).sum())
        fp = int((predictions & (true_labels == 0)).sum())
        fn = int((~predictions & (true_labels == 1)).sum())
        tn = int((~predictions & (true_labels == 0)).sum())
        current = math.sqrt((1 - tp / (tp + fn)) ** 2 + (fp / (fp + tn)) ** 2)
        if current <= best_roc:
            best_roc, best_threshold = current, threshold
    return best_threshold


@given(columns([0.0, 0.1, 0.25, 0.5, 0.7, 1.0]))
@settings(deadline=None)
def test_youden_matches_brute_force(data):
    scores, labels = data
    result = thresholds(scores, labels, "youden")
    for (t, f), value in np.ndenumerate(result):
        expected = brute_youden(scores[:, t, f], labels[:, f])
        assert value == expected or (math.isnan(value) and math.isnan(expected))


GRID_LIKE = [0.0, 1.0, *(np.float32(k / 99) for k in (1, 5, 30, 49, 50, 98)), 0.3, 0.77]


@given(columns(GRID_LIKE))
@settings(deadline=None)
def test_ctclip_makes_exactly_ctclip_predictions(data):
    scores, labels = data
    result = thresholds(scores, labels, "ctclip")
    for (t, f), value in np.ndenumerate(result):
        keep = labels[:, f] >= 0
        s, y = scores[keep, t, f], labels[keep, f]
        if not (0 < y.sum() < y.size):
            assert math.isnan(value)
            continue
        grid_point = ctclip_reference(s, y)
        np.testing.assert_array_equal(s >= value, s > grid_point)
        assert grid_point < value <= np.nextafter(np.float32(grid_point), np.float32(2))


def test_fixed_threshold_everywhere():
    result = thresholds(np.zeros((3, 2, 4), np.float32), np.zeros((3, 4)), "fixed:0.3")
    assert result.shape == (2, 4) and (result == 0.3).all()


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("youden", "youden"),
        (" CTCLIP ", "ctclip"),
        ("fixed:0.5", "fixed:0.5"),
        ("fixed:1", "fixed:1.0"),
    ],
)
def test_parse_gives_canonical_forms(text, canonical):
    assert str(parse_threshold_policy(text)) == canonical


@given(st.floats(0, 1))
def test_canonical_form_round_trips(value):
    policy = ThresholdPolicy("fixed", value)
    assert parse_threshold_policy(str(policy)) == policy


@pytest.mark.parametrize(
    "text", ["yoden", "fixed:", "fixed:abc", "fixed:1.5", "fixed:-0.1", "fixed:nan", ""]
)
def test_bad_policy_is_one_line_user_error(text):
    with pytest.raises(UserError) as info:
        parse_threshold_policy(text)
    message = str(info.value)
    assert "--threshold" in message and repr(text) in message and "fixed:T" in message
    assert "\n" not in message
