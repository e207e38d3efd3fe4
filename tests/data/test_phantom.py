"""The procedural phantom: determinism, findings inside their anatomy, HU of each tissue."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cabench import vocab
from cabench.data.phantom import make_case, plan_case
from cabench.data.phantom_labels import (
    sample_labels,
    sample_patient,
    target_prevalence,
)

SMALL = (24, 48, 48)
FINDINGS = vocab.finding_names()
PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def structure_ids(finding: str) -> list[int]:
    """Labels of the chest7 anatomy of ``finding``, straight from the vocabulary files."""
    chest7 = vocab.anatomy_set("chest7")
    names = chest7.merge["synthetic"][chest7.anatomy_of(finding)]
    return [vocab.structure_label(n) for n in names]


def plane(case, finding: str) -> np.ndarray:
    return (case.findings & np.uint32(1 << FINDINGS.index(finding))) != 0


def tissue(case, name: str) -> np.ndarray:
    return case.hu[case.structures == vocab.structure_label(name)]


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), chosen=st.sets(st.sampled_from(FINDINGS)))
def test_positive_findings_lie_inside_their_anatomy_and_negatives_draw_nothing(seed, chosen):
    case = make_case(seed, SMALL, labels={f: int(f in chosen) for f in FINDINGS})
    assert case.findings.dtype == np.uint32 and case.structures.dtype == np.uint8
    assert case.hu.dtype == np.float32 and case.hu.shape == SMALL
    assert case.findings.max() < (1 << len(FINDINGS))
    for finding in FINDINGS:
        marked = plane(case, finding)
        if finding in chosen:
            assert marked.any(), finding
            assert np.isin(case.structures[marked], structure_ids(finding)).all(), finding
        else:
            assert not marked.any(), finding
    assert set(case.details) == chosen


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_case(seed):
    a, b = make_case(seed, SMALL), make_case(seed, SMALL)
    np.testing.assert_array_equal(a.hu, b.hu)
    np.testing.assert_array_equal(a.structures, b.structures)
    np.testing.assert_array_equal(a.findings, b.findings)
    assert a.labels == b.labels and a.details == b.details and (a.age, a.sex) == (b.age, b.sex)


def test_different_seeds_vary_the_anatomy():
    volumes = [make_case(seed, SMALL, labels={}).structures for seed in range(3)]
    assert not np.array_equal(volumes[0], volumes[1])
    lung = [np.isin(v, [1, 2]).sum() for v in volumes]
    assert len(set(lung)) == 3


def test_tissue_hu_of_a_normal_chest():
    case = make_case(7, (48, 96, 96), labels={})
    assert not case.findings.any()
    assert case.hu[0, 0, 0] == -1000  # air outside the body
    assert -900 < np.median(tissue(case, "lung_left")) < -780
    assert -900 < np.median(tissue(case, "lung_right")) < -780
    wall = tissue(case, "body_wall")
    assert -130 < np.percentile(wall, 5) < -70 and 30 < np.percentile(wall, 95) < 70  # fat, muscle
    bone = tissue(case, "bone")
    assert bone.min() >= 300 and bone.max() <= 1000 and 300 < np.median(bone) < 800
    for soft in ("heart", "aorta", "esophagus"):
        assert 20 < np.median(tissue(case, soft)) < 60, soft
    assert tissue(case, "trachea").min() == -1000  # air lumen
    assert -130 < np.median(tissue(case, "mediastinum")) < 60
    assert -120 < np.median(tissue(case, "pleural_space")) < 20


def test_finding_hu_where_drawn():
    case = make_case(11, SMALL, labels=dict.fromkeys(FINDINGS, 1))
    assert case.hu[plane(case, "Medical material")].min() > 2000  # metal
    for calcium in ("Arterial wall calcification", "Coronary artery wall calcification"):
        assert case.hu[plane(case, calcium)].min() > 400, calcium
    assert case.hu[plane(case, "Emphysema")].max() < -950
    opacity = case.hu[plane(case, "Lung opacity")]
    assert -600 < np.median(opacity) < -250
    for dense in ("Consolidation", "Atelectasis", "Pleural effusion", "Pericardial effusion"):
        assert -20 < np.median(case.hu[plane(case, dense)]) < 60, dense


@pytest.mark.parametrize("seed", [0, 1])
def test_every_finding_is_large_enough_to_see_at_half_resolution(seed):
    """At the default shape each finding spans at least two voxels in-plane, so the tiny model's
    2x downsampling still shows it."""
    case = make_case(seed, (64, 128, 128), labels=dict.fromkeys(FINDINGS, 1))
    for finding in FINDINGS:
        where = np.argwhere(plane(case, finding))
        extent = where.max(0) - where.min(0) + 1
        assert len(where) >= 6 and max(extent[1], extent[2]) >= 2, (finding, len(where), extent)


def test_cardiomegaly_enlarges_the_heart_and_effusion_relabels_lung():
    normal = make_case(3, SMALL, labels={})
    sick = make_case(3, SMALL, labels={"Cardiomegaly": 1, "Pleural effusion": 1})
    heart = vocab.structure_label("heart")
    assert (sick.structures == heart).sum() > 1.3 * (normal.structures == heart).sum()
    lungs = [vocab.structure_label(n) for n in ("lung_left", "lung_right")]
    assert np.isin(sick.structures, lungs).sum() < np.isin(normal.structures, lungs).sum()


def test_any_grid_renders_the_same_anatomy():
    rng = np.random.default_rng(5)
    plan = plan_case(rng, labels={"Lung nodule": 1})
    from cabench.data.phantom import render_case

    coarse = render_case(plan, (20, 40, 56), (16.0, 8.6, 6.2), np.random.default_rng(0))
    fine = render_case(plan, (40, 80, 112), (8.0, 4.3, 3.1), np.random.default_rng(0))
    assert plane(coarse, "Lung nodule").any() and plane(fine, "Lung nodule").any()
    assert coarse.details == fine.details
    voxel = [np.prod(c.spacing) for c in (coarse, fine)]
    lung_ml = [
        np.isin(c.structures, [1, 2]).sum() * v / 1000
        for c, v in zip((coarse, fine), voxel, strict=True)
    ]
    assert lung_ml[0] == pytest.approx(lung_ml[1], rel=0.08)


def test_lung_findings_carry_lobe_locations():
    case = make_case(2, SMALL, labels=dict.fromkeys(FINDINGS, 1))
    lobes = {
        "right upper lobe",
        "right middle lobe",
        "right lower lobe",
        "left upper lobe",
        "lingula",
        "left lower lobe",
    }
    chest7 = vocab.anatomy_set("chest7")
    for finding in FINDINGS:
        if chest7.anatomy_of(finding) in ("lung", "pleura", "airway"):
            assert case.locations[finding] and set(case.locations[finding]) <= lobes, finding
        else:
            assert finding not in case.locations


def test_label_sampler_matches_ct_rate_prevalence_and_co_occurrence():
    rng = np.random.default_rng(0)
    rows = [sample_labels(rng, sample_patient(rng)) for _ in range(4000)]
    table = np.array([[r[f] for f in FINDINGS] for r in rows])
    for j, (finding, target) in enumerate(target_prevalence().items()):
        assert abs(table[:, j].mean() - target) < 0.03, finding
    normal = (table.sum(1) == 0).mean()
    assert 0.15 < normal < 0.27
    corr = np.corrcoef(table.T)
    awc, cawc = (
        FINDINGS.index("Arterial wall calcification"),
        FINDINGS.index("Coronary artery wall calcification"),
    )
    effusion, atelectasis = FINDINGS.index("Pleural effusion"), FINDINGS.index("Atelectasis")
    assert corr[awc, cawc] > 0.2 and corr[effusion, atelectasis] > 0.05
