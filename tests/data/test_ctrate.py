"""The CT-RATE reader on tiny trees in the exact release layout (v2 and v1)."""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nibabel.testing import data_path

from cabench import vocab
from cabench.data import open_dataset, voxels
from cabench.data.ctrate import CTRateReader
from cabench.errors import DataError, UserError

LABELS = "dataset/multi_abnormality_labels/train_predicted_labels.csv"
REPORTS = "dataset/radiology_text_reports/train_reports.csv"
METADATA = "dataset/metadata/train_metadata.csv"


def all_cases(reader):
    return [c for s in reader.splits() for c in reader.cases(s)]


def test_v2_round_trip_keeps_stored_hu_and_header_spacing(ctrate):
    root, written = ctrate()
    reader = open_dataset("ct-rate", root)
    assert reader.splits() == ["train", "valid"]
    assert [c.case_id for c in reader.cases("train")] == ["train_1_a_1", "train_2_b_10"]
    for case in all_cases(reader):
        volume = reader.read_volume(case)
        assert volume.hu.dtype == np.int16
        np.testing.assert_array_equal(volume.hu, written[case.case_id])
        assert volume.spacing == pytest.approx((2.0, 1.0, 0.75))
        assert volume.layout.startswith("ct-rate v2")
        assert case.meta["layout"] == "v2"


@pytest.mark.parametrize("intercept", [-8192, -1024])
def test_v1_rescale_gives_the_same_hu_as_v2(ctrate, intercept):
    root_v2, written = ctrate()
    root_v1, _ = ctrate(layout="v1", intercept=intercept)
    v2, v1 = open_dataset("ct-rate", root_v2), open_dataset("ct-rate", root_v1)
    assert v1.layout("train") == "v1"
    for a, b in zip(all_cases(v2), all_cases(v1), strict=True):
        hu2, hu1 = v2.read_volume(a), v1.read_volume(b)
        np.testing.assert_array_equal(hu1.hu, hu2.hu)
        np.testing.assert_array_equal(hu1.hu, written[a.case_id])
        assert hu1.spacing == pytest.approx(hu2.spacing)
        assert hu1.hu.dtype == np.int16 and "RescaleIntercept" in hu1.layout


def test_marker_voxel_lands_where_canonical_ipl_says(ctrate):
    """The brightest voxel is stored at the superior, anterior, right corner of an LPS array."""
    root, _ = ctrate()
    reader = open_dataset("ct-rate", root)
    case = reader.cases("train")[0]
    stored = np.asanyarray(nib.load(case.volume_path).dataobj)
    assert nib.aff2axcodes(nib.load(case.volume_path).affine) == ("L", "P", "S")
    # L, P, S axes: right = first index of axis 0, anterior = first of 1, superior = last of 2
    assert stored[0, 0, -1] == 1500 == stored.max()
    hu = reader.read_volume(case).hu
    assert hu[0, 0, 0] == 1500 == hu.max()


def test_old_scan_folder_spelling_and_two_digit_reconstruction(ctrate):
    root, written = ctrate(old_spelling=("train_1_a_1",))
    assert (root / "dataset/train_fixed/train_1/train_1a/train_1_a_1.nii.gz").is_file()
    reader = open_dataset("ct-rate", root)
    cases = {c.case_id: c for c in reader.cases("train")}
    assert cases["train_2_b_10"].meta["reconstruction"] == 10
    assert cases["train_2_b_10"].meta["scan"] == "b"
    assert cases["train_2_b_10"].patient_id == "train_2"
    for case_id, case in cases.items():
        np.testing.assert_array_equal(reader.read_volume(case).hu, written[case_id])


def test_reports_labels_and_not_given(ctrate):
    root, _ = ctrate()
    reader = open_dataset("ct-rate", root)
    case = reader.cases("valid")[0]
    assert case.report["ClinicalInformation_EN"] == ""  # "Not given."
    assert case.report["Findings_EN"] == 'Lungs: "clear", case 2.'
    assert list(case.labels) == vocab.finding_names() == reader.labelled_findings()
    frame = pd.read_csv(root / "dataset/multi_abnormality_labels/valid_predicted_labels.csv")
    assert case.labels == {f: int(frame.loc[0, f]) for f in vocab.finding_names()}


def test_layout_option_overrides_the_folder_and_is_recorded(ctrate):
    root, written = ctrate()
    reader = open_dataset("ct-rate", root, layout="v1")
    case = reader.cases("train")[0]
    assert case.meta["layout"] == "v1"
    # the v2 file read as v1 gets the metadata intercept applied: the double-rescale trap
    np.testing.assert_array_equal(reader.read_volume(case).hu, written[case.case_id] - 1024)
    with pytest.raises(UserError, match="layout='v3'"):
        open_dataset("ct-rate", root, layout="v3")


def test_root_may_be_the_dataset_folder_itself(ctrate):
    root, _ = ctrate()
    assert len(all_cases(open_dataset("ct-rate", root / "dataset"))) == 3


def test_missing_volumes_skip_uses_the_files_present(ctrate):
    root, _ = ctrate()
    next((root / "dataset/train_fixed").rglob("train_1_a_1.nii.gz")).unlink()
    reader = open_dataset("ct-rate", root, missing_volumes="skip")
    assert [c.case_id for c in reader.cases("train")] == ["train_2_b_10"]


def test_fingerprint_follows_tables_and_volume_list(ctrate):
    root, _ = ctrate()
    first = open_dataset("ct-rate", root).fingerprint()
    assert first == open_dataset("ct-rate", root).fingerprint() and len(first) == 16
    path = root / REPORTS
    path.write_text(path.read_text().replace("Normal.", "Normal again."))
    assert open_dataset("ct-rate", root).fingerprint() != first


def test_real_nifti_from_nibabel_through_the_volume_path(ctrate):
    """nibabel's own test image (big-endian int16, LAS) read by cabench's NIfTI code."""
    source = Path(data_path) / "anatomical.nii"
    image = nib.load(source)
    ras = np.asanyarray(nib.as_closest_canonical(image).dataobj)
    expected = ras.transpose(2, 1, 0)[::-1, ::-1, ::-1]  # RAS -> IPL by definition
    stored, affine = voxels.load_nifti(source)
    hu, spacing = voxels.canonical_from_affine(stored, affine, source)
    assert hu.dtype == np.int16 and hu.dtype.isnative
    np.testing.assert_array_equal(hu, expected)
    assert spacing == pytest.approx(tuple(image.header.get_zooms()[::-1]))
    # the same file, gzipped into a v2 tree, through the reader
    root, _ = ctrate(names=["valid_1_a_1"])
    target = next((root / "dataset/valid_fixed").rglob("valid_1_a_1.nii.gz"))
    target.write_bytes(gzip.compress(source.read_bytes()))
    reader = open_dataset("ct-rate", root)
    np.testing.assert_array_equal(reader.read_volume(reader.cases("valid")[0]).hu, expected)


def test_header_scaling_is_applied_in_float32_never_float64():
    """A file with scl_slope/scl_inter (nibabel writes them for float data stored as int16)."""
    source = Path(data_path) / "functional.nii"
    values = np.asanyarray(nib.load(source).dataobj)[..., 0]  # real values, float64 from nibabel
    with tempfile.TemporaryDirectory() as folder:
        image = nib.Nifti1Image(values, np.eye(4))
        image.set_data_dtype(np.int16)
        path = Path(folder) / "scaled.nii.gz"
        nib.save(image, path)
        assert nib.load(path).dataobj.slope != 1.0
        array, _ = voxels.load_nifti(path)
    assert array.dtype == np.float32 and array.shape == values.shape
    np.testing.assert_allclose(array, values, rtol=1e-3, atol=np.ptp(values) / 30000)


AXIS_DIRECTIONS = np.array([[0, 0, -1], [0, -1, 0], [-1, 0, 0]], dtype=float)  # I, P, L in RAS


@settings(max_examples=25, deadline=None)
@given(
    order=st.permutations([0, 1, 2]),
    flips=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    spacing=st.tuples(*[st.sampled_from([0.5, 0.75, 1.0, 2.5]) for _ in range(3)]),
)
def test_any_stored_orientation_reads_back_canonical(order, flips, spacing):
    canonical = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    stored = canonical.transpose(order)
    affine = np.eye(4)
    for k, axis in enumerate(order):
        sign = -1.0 if flips[k] else 1.0
        if flips[k]:
            stored = np.flip(stored, k)
        affine[:3, k] = sign * spacing[axis] * AXIS_DIRECTIONS[axis]
    affine[:3, 3] = [-40.0, 12.5, 7.0]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.nii.gz"
        nib.save(nib.Nifti1Image(np.ascontiguousarray(stored), affine), path)
        array, read_affine = voxels.load_nifti(path)
        hu, out_spacing = voxels.canonical_from_affine(array, read_affine, path)
    np.testing.assert_array_equal(hu, canonical)
    assert out_spacing == pytest.approx(spacing)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.1, 5.0, allow_nan=False), min_size=2, max_size=2), st.booleans())
def test_xy_spacing_list_strings_parse_in_both_spellings(values, padded):
    from cabench.data.tables import parse_number_list

    text = "[" + ", ".join(f"{v:.6f}" if padded else repr(v) for v in values) + "]"
    assert parse_number_list(text, 2, "cell") == pytest.approx(values, rel=1e-5)


# ---- bad input: one line, exit 2, through the CLI ----------------------------------------------


def _edit_csv(path: Path, change) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def _volume(root: Path, name: str = "train_1_a_1") -> Path:
    return next((root / "dataset").rglob(f"{name}.nii.gz"))


def _save(path: Path, array: np.ndarray) -> None:
    nib.save(nib.Nifti1Image(array, np.diag([-0.75, -1.0, 2.0, 1.0])), path)


BAD_INPUTS = {
    "missing csv": (
        lambda r: (r / "dataset/multi_abnormality_labels/valid_predicted_labels.csv").unlink(),
        ["valid_predicted_labels.csv", "CSV not found"],
    ),
    "misspelt column": (
        lambda r: _edit_csv(
            r / LABELS, lambda f: f.rename(columns={"Cardiomegaly": "Cardiomegally"})
        ),
        ["missing column 'Cardiomegaly'", "found 'Cardiomegally'"],
    ),
    "missing column": (
        lambda r: _edit_csv(r / REPORTS, lambda f: f.drop(columns=["Findings_EN"])),
        ["train_reports.csv: missing column 'Findings_EN'"],
    ),
    "volume without file": (
        lambda r: _volume(r).unlink(),
        ["row 2: VolumeName 'train_1_a_1.nii.gz' has no file", "missing_volumes='skip'"],
    ),
    "file without row": (
        lambda r: shutil.copy(_volume(r), _volume(r).with_name("train_1_a_2.nii.gz")),
        ["train_1_a_2.nii.gz: volume has no row in"],
    ),
    "duplicate rows": (
        lambda r: _edit_csv(r / LABELS, lambda f: pd.concat([f, f.iloc[[0]]])),
        ["VolumeName 'train_1_a_1' appears in rows 2 and 4"],
    ),
    "label not 0/1": (
        lambda r: _edit_csv(r / LABELS, lambda f: f.assign(Emphysema=["1", "2"])),
        ["row 3 (VolumeName 'train_2_b_10'), column 'Emphysema': label '2' is not 0 or 1"],
    ),
    "bad volume name": (
        lambda r: _edit_csv(
            r / REPORTS, lambda f: f.assign(VolumeName=["train_1_a_1.nii.gz", "valid_7"])
        ),
        ["train_reports.csv row 3: VolumeName 'valid_7.nii.gz' is not a train volume name"],
    ),
    "truncated nii.gz": (
        lambda r: _volume(r).write_bytes(_volume(r).read_bytes()[:300]),
        ["train_1_a_1.nii.gz: corrupt or truncated NIfTI file", "re-download it"],
    ),
    "wrong shape": (
        lambda r: _save(_volume(r), np.zeros((16, 16), np.int16)),
        ["has shape (16, 16), expected a 3D array"],
    ),
    "wrong dtype": (
        lambda r: _save(_volume(r), np.zeros((16, 16, 8), np.complex64)),
        ["has dtype complex64, expected integer or float voxels"],
    ),
    "NaN voxels": (
        lambda r: _save(
            _volume(r), np.where(np.eye(16)[:, :, None] > 0, np.nan, 0).astype(np.float32)
        ),
        ["has 16 NaN or infinite voxels"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(ctrate, cli_error, case):
    root, _ = ctrate()
    breaker, expected = BAD_INPUTS[case]
    breaker(root)
    before = sorted(p for p in root.rglob("*"))
    message = cli_error(["data", "inspect", "--dataset", "ct-rate", "--root", root, "--json"])
    for part in expected:
        assert part in message
    assert sorted(p for p in root.rglob("*")) == before  # nothing written, nothing half-written
    with pytest.raises(DataError) as raised:
        reader = CTRateReader(root)
        for case_ref in all_cases(reader):
            reader.read_volume(case_ref)
    assert "\n" not in str(raised.value)


def test_v1_metadata_cells_are_checked_by_row_and_column(ctrate, cli_error):
    root, _ = ctrate(layout="v1")
    _edit_csv(root / METADATA, lambda f: f.assign(XYSpacing=["[0.75, 1.0]", "0.75; 1.0"]))
    message = cli_error(["data", "inspect", "--dataset", "ct-rate", "--root", root])
    assert (
        "train_metadata.csv row 3, column 'XYSpacing': '0.75; 1.0' is not a list of 2 numbers"
        in message
    )


def test_empty_root_says_where_it_looked_and_how_to_get_it(tmp_path, cli_error):
    (tmp_path / "empty").mkdir()
    message = cli_error(["data", "inspect", "--dataset", "ct-rate", "--root", tmp_path / "empty"])
    assert str(tmp_path / "empty") in message and "no data there" in message
    assert (
        "dataset/train_fixed/" in message
        and "huggingface.co/datasets/ibrahimhamamci/CT-RATE" in message
    )
    assert "synth" not in message  # never offers synthetic data in place of the real set
