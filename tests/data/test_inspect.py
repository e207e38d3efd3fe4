"""`cabench data inspect`: counts, per-volume HU statistics, and the v1/v2 trap flagged."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabench import vocab
from cabench.cli import main
from cabench.data.inspect import hu_flags, inspect_dataset, print_summary


def test_summary_counts_positives_layout_and_masks(ctrate):
    root, _ = ctrate(masks="labelmap", manifest=True)
    summary = inspect_dataset("synth-ct-rate", root)
    assert summary["totals"] == {"volumes": 3, "patients": 3, "masks": 3}
    train = summary["splits"]["train"]
    assert (train["volumes"], train["patients"], train["layout"], train["masks"]) == (2, 2, "v2", 2)
    labels = pd.read_csv(root / "dataset/multi_abnormality_labels/train_predicted_labels.csv")
    assert train["positives"] == {f: int(labels[f].sum()) for f in vocab.finding_names()}
    assert len(summary["fingerprint"]) == 16 and "volumes" not in summary


def test_per_volume_statistics_match_the_voxels(ctrate):
    root, written = ctrate()
    summary = inspect_dataset("ct-rate", root, split="valid", per_volume=True)
    (volume,) = summary["volumes"]
    hu = written["valid_1_a_1"]
    assert volume["id"] == "valid_1_a_1" and volume["shape"] == [8, 16, 16]
    assert volume["spacing"] == [2.0, 1.0, 0.75] and volume["dtype"] == "int16"
    assert volume["hu_min"] == hu.min() and volume["hu_max"] == hu.max()
    assert volume["hu_mean"] == pytest.approx(hu.mean(), abs=0.01)
    assert not volume["implausible"] and summary["implausible"] == 0


def test_v2_files_in_v1_folders_are_flagged_as_rescaled_twice(ctrate):
    """The commonest trap: v2 HU with intercept -8192 applied once more."""
    root, _ = ctrate(intercept=-8192)
    data = root / "dataset"
    for split in ("train", "valid"):
        (data / f"{split}_fixed").rename(data / split)
    summary = inspect_dataset("ct-rate", root, per_volume=True)
    assert summary["splits"]["train"]["layout"] == "v1"
    assert summary["implausible"] == 3
    assert all(any("rescaled twice" in f for f in v["flags"]) for v in summary["volumes"])


@given(st.floats(-1100, 4000), st.floats(-1000, 500))
def test_plausible_ranges_are_not_flagged(low, mean):
    assert hu_flags(low, mean, 4000.0) == []


@given(st.floats(-40000, -1100.5))
def test_minimum_below_air_is_flagged(low):
    assert len(hu_flags(low, -500.0, 1000.0)) == 1


def test_cli_tables_and_json(radchest, capsys):
    root, _ = radchest(masks="npz", manifest=True)
    assert main(["data", "inspect", "--dataset", "synth-rad-chestct", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "4 volumes, 3 patients, 4 with anatomy masks" in out
    assert "Arterial wall calcification" in out and "Medical material" not in out
    args = ["data", "inspect", "--dataset", "synth-rad-chestct", "--root", str(root), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [v["id"] for v in summary["volumes"]] == ["trn00001", "trn00002", "val00003", "tst00004"]
    assert summary["volumes"][0]["spacing"] == [1.5, 0.8, 0.8]
    print_summary(summary)
    assert "4 volumes read, 0 with implausible HU" in capsys.readouterr().out


def test_merged_calcification_is_reported(radchest, capsys):
    root, _ = radchest()
    summary = inspect_dataset("rad-chestct", root, calcification="merge")
    assert summary["merged_findings"] == {
        "Arterial wall calcification": [
            "Arterial wall calcification",
            "Coronary artery wall calcification",
        ]
    }
    print_summary(summary)
    assert "scored as the max of" in capsys.readouterr().out


def test_unknown_split_is_a_usage_error(ctrate, cli_error):
    root, _ = ctrate()
    message = cli_error(
        ["data", "inspect", "--dataset", "ct-rate", "--root", root, "--split", "val"]
    )
    assert "has no split 'val'" in message and "did you mean 'valid'" in message
