"""The Rad-ChestCT reader: npz volumes, generic abnormality*location labels, calcification."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cabench import vocab
from cabench.data import open_dataset
from cabench.data.radchest import RadChestReader, collapse
from cabench.errors import DataError, UserError

TRAIN = "imgtrain_Abnormality_and_Location_Labels.csv"
CALC = ("Arterial wall calcification", "Coronary artery wall calcification")


def test_round_trip_splits_patients_and_spacing(radchest):
    root, written = radchest()
    reader = open_dataset("rad-chestct", root)
    assert reader.splits() == ["train", "valid", "test"]
    assert [c.case_id for c in reader.cases("train")] == ["trn00001", "trn00002"]
    for split in reader.splits():
        for case in reader.cases(split):
            volume = reader.read_volume(case)
            assert volume.hu.dtype == np.int16
            np.testing.assert_array_equal(volume.hu, written[case.case_id])  # stored canonical
            assert volume.spacing == (0.8, 0.8, 0.8)
            assert case.report is None
    assert reader.cases("train")[0].patient_id == "AA0"  # MRN_DEID from the summary


def test_labels_collapse_by_max_and_map_to_ctrate_findings(radchest):
    root, _ = radchest(positives={"trn00001": ["nodule*left_upper", "hernia*lung", "cyst*heart"]})
    reader = open_dataset("rad-chestct", root)
    labels = reader.cases("train")[0].labels
    assert labels["Lung nodule"] == 1 and labels["Hiatal hernia"] == 1
    assert sum(labels.values()) == 2  # cyst is not mapped
    assert "Medical material" not in labels and "Lymphadenopathy" not in labels
    assert all(v == 0 for v in reader.cases("train")[1].labels.values())


def test_calcification_duplicate_feeds_both_findings(radchest):
    root, _ = radchest()
    reader = open_dataset("rad-chestct", root)
    assert set(CALC) <= set(reader.labelled_findings())
    assert [f for f in vocab.finding_names() if f in reader.labelled_findings()] == (
        reader.labelled_findings()
    )
    labels = reader.cases("train")[0].labels
    assert labels[CALC[0]] == labels[CALC[1]] == 1
    assert reader.merged_findings() == {}


def test_calcification_merge_leaves_one_finding_and_says_how_to_score_it(radchest):
    root, _ = radchest()
    reader = open_dataset("rad-chestct", root, calcification="merge")
    assert CALC[0] in reader.labelled_findings() and CALC[1] not in reader.labelled_findings()
    assert reader.merged_findings() == {CALC[0]: CALC}
    case = reader.cases("train")[0]
    assert case.labels[CALC[0]] == 1 and CALC[1] not in case.labels
    assert case.meta["calcification"] == "merge"
    assert case.meta["merged_findings"] == {CALC[0]: list(CALC)}
    with pytest.raises(UserError, match="calcification='both'"):
        open_dataset("rad-chestct", root, calcification="both")


def test_spacing_from_manifest_or_option(radchest):
    root, _ = radchest(manifest=True)
    case = open_dataset("synth-rad-chestct", root).cases("test")[0]
    assert open_dataset("synth-rad-chestct", root).read_volume(case).spacing == (1.5, 0.8, 0.8)
    reader = open_dataset("rad-chestct", root, spacing=0.7)
    assert reader.read_volume(case).spacing == (0.7, 0.7, 0.7)
    with pytest.raises(UserError, match="spacing"):
        open_dataset("rad-chestct", root, spacing=(1, 2))


def test_volumes_are_found_anywhere_but_in_mask_and_sidecar_folders(radchest):
    root, _ = radchest(nested=True, masks="npz")
    for labels in root.glob("img*.csv"):
        labels.rename(root / "volumes" / labels.name)  # everything one level down
    (root / "cabench_synth" / "findings").mkdir(parents=True)
    np.savez_compressed(root / "cabench_synth/findings/trn00001.npz", findings=np.zeros(3))
    reader = open_dataset("rad-chestct", root)
    assert reader.cases("train")[0].volume_path == root / "volumes/train/trn00001.npz"
    assert reader.cases("train")[0].mask_path == root / "anatomy_masks/trn00001.npz"


def test_summary_is_optional(radchest):
    root, _ = radchest(summary=False)
    assert open_dataset("rad-chestct", root).cases("valid")[0].patient_id == "val00003"


@settings(max_examples=40, deadline=None)
@given(arrays(np.int8, st.tuples(st.integers(1, 6), st.integers(1, 9)), elements=st.integers(0, 1)))
def test_collapse_is_the_max_over_each_abnormalitys_locations(matrix):
    names = ["a", "b", "c"]
    headers = [f"{names[j % 3]}*loc{j}" for j in range(matrix.shape[1])]
    got = collapse(matrix, headers)
    for k, name in enumerate(names):
        columns = [j for j in range(matrix.shape[1]) if j % 3 == k]
        if columns:
            np.testing.assert_array_equal(got[name], matrix[:, columns].max(axis=1))
        else:
            assert name not in got


# ---- bad input ----------------------------------------------------------------------------------


def _edit(path, change):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


BAD_INPUTS = {
    "no label file": (
        lambda r: [p.unlink() for p in r.glob("img*_Abnormality_and_Location_Labels.csv")],
        ["no label file (expected imgtest_Abnormality_and_Location_Labels.csv"],
    ),
    "misspelt key column": (
        lambda r: _edit(r / TRAIN, lambda f: f.rename(columns={"NoteAcc_DEID": "NoteAcc_DEDI"})),
        ["missing column 'NoteAcc_DEID'", "found 'NoteAcc_DEDI'"],
    ),
    "missing abnormality": (
        lambda r: _edit(
            r / TRAIN, lambda f: f.drop(columns=[c for c in f if c.startswith("hernia*")])
        ),
        ["no column for abnormality 'hernia'"],
    ),
    "duplicate rows": (
        lambda r: _edit(r / TRAIN, lambda f: pd.concat([f, f.iloc[[1]]])),
        ["NoteAcc_DEID 'trn00002' appears in rows 3 and 4"],
    ),
    "label not 0/1": (
        lambda r: _edit(r / TRAIN, lambda f: f.assign(**{"nodule*lung": ["0.0", "0.5"]})),
        ["row 3 (NoteAcc_DEID 'trn00002'), column 'nodule*lung': label '0.5' is not 0 or 1"],
    ),
    "blank label": (
        lambda r: _edit(r / TRAIN, lambda f: f.assign(**{"cyst*heart": ["", "0.0"]})),
        ["row 2 (NoteAcc_DEID 'trn00001'), column 'cyst*heart': label '' is not 0 or 1"],
    ),
    "row without file": (
        lambda r: (r / "trn00002.npz").unlink(),
        ["row 3: NoteAcc_DEID 'trn00002' has no file trn00002.npz"],
    ),
    "file without row": (
        lambda r: np.savez_compressed(r / "trn09999.npz", ct=np.zeros((2, 2, 2), np.int16)),
        ["trn09999.npz: volume has no row in any img*_Abnormality_and_Location_Labels.csv"],
    ),
    "subset mismatch": (
        lambda r: _edit(r / "Summary_3630.csv", lambda f: f.assign(Subset_Assigned="imgtest")),
        ["Summary_3630.csv row 2: Subset_Assigned 'imgtest' for 'trn00001'"],
    ),
    "truncated npz": (
        lambda r: (r / "val00003.npz").write_bytes((r / "val00003.npz").read_bytes()[:200]),
        ["val00003.npz: corrupt or truncated npz file"],
    ),
    "not an npz": (
        lambda r: (r / "val00003.npz").write_bytes(b"not a zip" * 40),
        ["val00003.npz: corrupt or truncated npz file"],
    ),
    "wrong key": (
        lambda r: np.savez_compressed(r / "val00003.npz", volume=np.zeros((2, 2, 2), np.int16)),
        ["val00003.npz: no array 'ct' in the npz (it holds ['volume'])"],
    ),
    "wrong shape": (
        lambda r: np.savez_compressed(r / "val00003.npz", ct=np.zeros((4, 4), np.int16)),
        ["val00003.npz: volume has shape (4, 4), expected a 3D array"],
    ),
    "wrong dtype": (
        lambda r: np.savez_compressed(r / "val00003.npz", ct=np.zeros((2, 2, 2), bool)),
        ["val00003.npz: volume has dtype bool"],
    ),
    "NaN voxels": (
        lambda r: np.savez_compressed(
            r / "val00003.npz", ct=np.full((2, 2, 2), np.nan, np.float32)
        ),
        ["val00003.npz: volume has 8 NaN or infinite voxels"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(radchest, cli_error, case):
    root, _ = radchest()
    breaker, expected = BAD_INPUTS[case]
    breaker(root)
    before = sorted(root.rglob("*"))
    message = cli_error(["data", "inspect", "--dataset", "rad-chestct", "--root", root, "--json"])
    for part in expected:
        assert part in message
    assert sorted(root.rglob("*")) == before
    with pytest.raises(DataError) as raised:
        reader = RadChestReader(root)
        for split in reader.splits():
            for case_ref in reader.cases(split):
                reader.read_volume(case_ref)
    assert "\n" not in str(raised.value)


def test_empty_root_says_where_it_looked_and_how_to_get_it(tmp_path, cli_error):
    message = cli_error(
        ["data", "inspect", "--dataset", "rad-chestct", "--root", tmp_path / "nope"]
    )
    assert "folder not found" in message and "zenodo.org/records/6406114" in message
    assert "synth" not in message
