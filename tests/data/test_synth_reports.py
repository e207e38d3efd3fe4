"""Synthetic reports: every positive is stated in its anatomy, sentences are single-anatomy and
round-trip through CSV."""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cabench import vocab
from cabench.data.phantom import plan_case
from cabench.data.synth_io import write_csv
from cabench.data.synth_reports import write_report

FINDINGS = vocab.finding_names()
CHEST7 = vocab.anatomy_set("chest7")
# words a reader would accept as naming the finding (independent of the writer's phrasings)
TERMS = {
    "Medical material": r"catheter|pacemaker",
    "Arterial wall calcification": r"calcif|plaque",
    "Cardiomegaly": r"cardiomegaly|heart is enlarged|heart size is increased",
    "Pericardial effusion": r"pericardial effusion",
    "Coronary artery wall calcification": r"coronary",
    "Hiatal hernia": r"hiatal hernia",
    "Lymphadenopathy": r"lymph",
    "Emphysema": r"emphysem",
    "Atelectasis": r"atelecta",
    "Lung nodule": r"nodule",
    "Lung opacity": r"ground-glass",
    "Pulmonary fibrotic sequela": r"fibrotic",
    "Pleural effusion": r"pleural effusion",
    "Mosaic attenuation pattern": r"mosaic",
    "Peribronchial thickening": r"peribronchial|bronchial wall thickening",
    "Consolidation": r"consolidation",
    "Bronchiectasis": r"bronchiecta",
    "Interlobular septal thickening": r"septa",
}


def report_for(seed: int, chosen: set[str]):
    rng = np.random.default_rng(seed)
    plan = plan_case(rng, labels={f: int(f in chosen) for f in FINDINGS})
    details = {f: plan.findings[f][0] for f in chosen}
    return write_report(rng, plan.labels, details, age=61, sex="F", slice_mm=5.0), plan.labels


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), chosen=st.sets(st.sampled_from(FINDINGS)))
def test_every_positive_is_stated_in_its_own_anatomy(seed, chosen):
    report, labels = report_for(seed, chosen)
    for finding in FINDINGS:
        stated = [s for s in report.sentences if s.finding == finding and s.positive]
        if finding in chosen:
            assert stated, finding
            assert all(s.anatomy == CHEST7.anatomy_of(finding) for s in stated)
            assert all(re.search(TERMS[finding], s.text, re.I) for s in stated), stated
        else:
            assert not stated, finding
    assert report.findings == " ".join(s.text for s in report.sentences)
    for s in report.sentences:
        assert s.anatomy in CHEST7.anatomies
        assert s.text[0].isupper() and s.text.endswith(".") and "\n" not in s.text
        assert s.text.count(". ") == 0, s.text  # one sentence each, as the splitter sees it
    if chosen:
        assert all(re.search(TERMS[f], report.impressions, re.I) for f in chosen), (
            report.impressions
        )


def test_a_normal_report_speaks_of_every_anatomy():
    report, _ = report_for(3, set())
    assert {s.anatomy for s in report.sentences} == set(CHEST7.anatomies)
    assert not any(s.positive for s in report.sentences)
    assert report.impressions in {
        "No acute findings.",
        "Normal chest CT.",
        "No significant pathology was detected in the thorax.",
    }


def test_phrasings_and_order_vary():
    texts: dict[str, set[str]] = {f: set() for f in FINDINGS}
    orders = set()
    for seed in range(60):
        report, _ = report_for(seed, set(FINDINGS))
        for s in report.sentences:
            if s.positive:
                texts[s.finding].add(re.sub(r"\d+", "N", s.text))
        anatomies = [s.anatomy for s in report.sentences]
        orders.add(tuple(dict.fromkeys(anatomies)))
    for finding, variants in texts.items():
        assert len(variants) >= 2, finding
    assert len(orders) >= 4


def test_other_sections_are_filled_or_not_given():
    sections = [report_for(seed, {"Lung nodule"})[0].sections() for seed in range(40)]
    assert all(s["Findings_EN"] and s["Impressions_EN"] for s in sections)
    clinical = [s["ClinicalInformation_EN"] for s in sections]
    technique = [s["Technique_EN"] for s in sections]
    assert "Not given." in clinical and any(c != "Not given." for c in clinical)
    assert any(t != "Not given." for t in technique)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
        min_size=1,
        max_size=5,
    )
)
def test_csv_quoting_round_trips(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("csv") / "sentences.csv"
    rows = [("valid_1_a_1", "lung", t) for t in texts]
    write_csv(path, ["case_id", "anatomy", "sentence"], rows)
    with path.open(newline="", encoding="utf-8") as handle:
        back = list(csv.reader(handle))
    assert back[0] == ["case_id", "anatomy", "sentence"]
    assert [tuple(r) for r in back[1:]] == rows
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    assert frame["sentence"].tolist() == texts


def test_report_with_commas_and_quotes_round_trips(tmp_path):
    report, _ = report_for(0, set(FINDINGS))
    sections = report.sections() | {"ClinicalInformation_EN": 'He said "cough, fever".'}
    path = tmp_path / "reports.csv"
    write_csv(path, ["VolumeName", *sections], [["train_1_a_1.nii.gz", *sections.values()]])
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    assert frame.iloc[0].to_dict() == {"VolumeName": "train_1_a_1.nii.gz", **sections}
