"""bench_pipeline's naive CT-CLIP-style reference against cabench's engine on a few cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import bench_pipeline
from bench.common import empty_home, fresh_checkpoint
from bench.naive_ctclip import naive_aucs, naive_probs, near_tie_bounds


@pytest.mark.parametrize("family", ["fvlp", "clip"])
def test_naive_reference_and_engine_give_the_same_aucs(small_sites, tiny_configs, tmp_path,
                                                       family):  # fmt: skip
    root = small_sites["synth-ct-rate"]
    checkpoint = fresh_checkpoint(str(tiny_configs[family]), root, tmp_path / "ck", seed=0)
    result = bench_pipeline.compare(
        root, checkpoint, ["ctclip", "fvlm"], n_cases=16, naive_cases=12, naive_templates=2,
        model=family,
    )  # fmt: skip
    assert result["n_templates"] == 3 and result["n_findings"] == 18
    assert result["n_auc"] >= 10  # findings with both classes among 12 cases, x 2 templates
    assert result["nan_agree"]
    assert result["metric_diff"] <= 1e-9  # scikit-learn on the engine's own probabilities
    assert result["auc_beyond_ties"] <= 1e-9 and result["auc_diff"] <= max(
        result["tie_bound"], 1e-9
    )
    assert result["prob_diff"] <= 1e-5
    assert result["scale"] == pytest.approx(16 / 12 * 3 / 2)


def test_fresh_checkpoints_are_deterministic(small_sites, tiny_configs, tmp_path):
    from cabench.models.checkpoint import read_card

    root = small_sites["synth-ct-rate"]
    a = fresh_checkpoint(str(tiny_configs["fvlp"]), root, tmp_path / "a", seed=3)
    b = fresh_checkpoint(str(tiny_configs["fvlp"]), root, tmp_path / "b", seed=3)
    assert read_card(a)["weights_sha256"] == read_card(b)["weights_sha256"]


def test_naive_reference_reencodes_the_volume_for_every_finding(
    small_sites, tiny_configs, tmp_path, monkeypatch
):
    from cabench.eval.prompts_plan import build_plan
    from cabench.models.vlm import VisionLanguageModel
    from cabench.vocab import finding_names

    root = small_sites["synth-ct-rate"]
    checkpoint = fresh_checkpoint(str(tiny_configs["clip"]), root, tmp_path / "ck", seed=0)
    cases, findings, labels = bench_pipeline.dataset_input(root)
    plan = build_plan(["ctclip"], None, finding_names(), "chest7")
    calls = {"image": 0, "text": 0}
    image, text = VisionLanguageModel.encode_image, VisionLanguageModel.encode_text

    def count_image(self, *args):
        calls["image"] += 1
        return image(self, *args)

    def count_text(self, *args):
        calls["text"] += 1
        return text(self, *args)

    monkeypatch.setattr(VisionLanguageModel, "encode_image", count_image)
    monkeypatch.setattr(VisionLanguageModel, "encode_text", count_text)
    with empty_home():
        probs = naive_probs(checkpoint, root, cases[:4], plan.positive, plan.negative, findings)
    assert probs.shape == (4, 2, 18) and not np.isnan(probs).any()
    assert calls == {"image": 4 * 2 * 18, "text": 4 * 2 * 18}
    assert naive_aucs(probs, labels[:4]).shape == (2, 18)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(4, 40), st.floats(1e-4, 0.05))
def test_near_tie_bound_covers_any_perturbation_within_eps(seed, n, eps):
    rng = np.random.default_rng(seed)
    labels = np.zeros((n, 2), dtype=np.int8)
    labels[: n // 2] = 1
    labels[-1, 1] = -1  # an unlabelled case is left out, as in naive_aucs
    probs = rng.choice(np.linspace(0.4, 0.6, 9), size=(n, 3, 2))  # many ties and near-ties
    moved = np.clip(probs + rng.uniform(-eps, eps, probs.shape), 0, 1)
    bounds = near_tie_bounds(probs, labels, eps)
    change = np.abs(naive_aucs(moved, labels) - naive_aucs(probs, labels))
    assert (change <= bounds + 1e-12).all()
    assert (near_tie_bounds(probs, labels, 0.0) <= bounds).all()  # grows with eps
