"""Anatomy masks in all three forms, both sites, as uint8 bit fields on the canonical grid."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cabench import vocab
from cabench.data import open_dataset
from cabench.data.masks import label_lut
from cabench.errors import DataError, UserError

# chest7 bits: lung 0, airway 1, pleura 2, heart 3, aorta 4, esophagus 5, mediastinum 6
SYNTH_CHEST7 = {0: {1, 2}, 3: {6}, 4: {8}, 5: {9}}  # fixture labels 1,2 lungs, 6 heart, 8, 9
TS_CHEST7 = {0: {1, 2}, 3: {6}, 4: {8}}  # the TotalSegmentator table has no esophagus entry
SYNTH_FVLM4 = {0: {1, 2}, 1: {6}, 2: {9}, 3: {8}}  # lung, heart, esophagus, aorta


def expected_bits(labels: np.ndarray, groups: dict[int, set[int]]) -> np.ndarray:
    out = np.zeros(labels.shape, np.uint8)
    for bit, values in groups.items():
        out[np.isin(labels, sorted(values))] |= np.uint8(1 << bit)
    return out


@pytest.mark.parametrize("layout", ["v2", "v1"])
def test_ctrate_label_map_named_by_the_synthetic_manifest(ctrate, truth, layout):
    root, _ = ctrate(layout=layout, masks="labelmap", manifest=True)
    reader = open_dataset("synth-ct-rate", root)
    for k, case in enumerate(reader.cases("train") + reader.cases("valid")):
        bits = reader.read_anatomy_bits(case, "chest7")
        assert bits.dtype == np.uint8 and bits.shape == reader.read_volume(case).hu.shape
        np.testing.assert_array_equal(bits, expected_bits(truth(k), SYNTH_CHEST7))
    np.testing.assert_array_equal(
        reader.read_anatomy_bits(reader.cases("train")[0], "fvlm4"),
        expected_bits(truth(0), SYNTH_FVLM4),
    )


def test_ctrate_label_map_with_a_user_label_table(ctrate, truth, ts_labels):
    root, _ = ctrate(masks="ts-labelmap")
    reader = open_dataset("ct-rate", root, mask_labels=ts_labels)
    case = reader.cases("train")[1]
    np.testing.assert_array_equal(
        reader.read_anatomy_bits(case, "chest7"), expected_bits(truth(1), TS_CHEST7)
    )


def test_ctrate_totalsegmentator_class_folders(ctrate, truth):
    root, _ = ctrate(masks="ts-classes")
    reader = open_dataset("ct-rate", root)
    case = reader.cases("valid")[0]
    assert case.mask_path.is_dir() and (case.mask_path / "spleen.nii.gz").is_file()
    np.testing.assert_array_equal(
        reader.read_anatomy_bits(case, "chest7"), expected_bits(truth(2), TS_CHEST7)
    )
    _, mask_files = reader.input_files(case)
    assert [p.name for p in mask_files][:2] == ["aorta.nii.gz", "heart.nii.gz"]


def test_user_anatomy_set_with_its_own_merge_table(ctrate, truth, tmp_path):
    """RadGenome-style region files picked with mask_merge and a user anatomy set."""
    root, _ = ctrate(masks="ts-classes")
    aset = tmp_path / "regions.yaml"
    aset.write_text(
        "name: regions\nanatomies: [heart, lung]\nfindings: {Cardiomegaly: heart}\n"
        "merge:\n  regions:\n    heart: [heart]\n    lung: [lung_upper_lobe_left]\n"
    )
    reader = open_dataset("ct-rate", root, mask_merge="regions")
    bits = reader.read_anatomy_bits(reader.cases("train")[0], str(aset))
    np.testing.assert_array_equal(bits, expected_bits(truth(0), {0: {6}, 1: {1}}))


@pytest.mark.parametrize("form", ["npz", "nifti"])
def test_radchest_masks(radchest, truth, ts_labels, form):
    root, _ = radchest(masks=form, manifest=form == "npz")
    options = {} if form == "npz" else {"mask_labels": ts_labels}
    reader = open_dataset("rad-chestct", root, **options)
    case = reader.cases("valid")[0]
    groups = SYNTH_CHEST7 if form == "npz" else TS_CHEST7
    np.testing.assert_array_equal(
        reader.read_anatomy_bits(case, "chest7"), expected_bits(truth(2), groups)
    )


def test_no_mask_reads_none(ctrate, radchest):
    root, _ = ctrate()
    reader = open_dataset("ct-rate", root)
    assert reader.cases("train")[0].mask_path is None
    assert reader.read_anatomy_bits(reader.cases("train")[0], "chest7") is None
    root, _ = radchest()
    reader = open_dataset("rad-chestct", root)
    assert reader.read_anatomy_bits(reader.cases("test")[0], "chest7") is None


def test_label_map_without_a_table_asks_for_one(ctrate):
    root, _ = ctrate(masks="ts-labelmap")
    reader = open_dataset("ct-rate", root)
    with pytest.raises(UserError, match="pass mask_labels=PATH"):
        reader.read_anatomy_bits(reader.cases("train")[0], "chest7")


def test_mask_on_another_grid_is_a_data_error(ctrate, cli_error, tmp_path):
    root, _ = ctrate(masks="labelmap", manifest=True)
    reader = open_dataset("synth-ct-rate", root)
    case = reader.cases("train")[0]
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4)), case.mask_path)
    with pytest.raises(DataError, match=r"mask shape \(4, 4, 4\) differs from the volume's"):
        reader.read_anatomy_bits(case, "chest7")
    out = tmp_path / "case.png"
    args = ["data", "show", "--dataset", "synth-ct-rate", "--root", root, "--case", case.case_id]
    assert "differs from the volume's" in cli_error([*args, "--out", out])
    assert not out.exists() and not list(tmp_path.glob(".case*"))


def test_unknown_merge_table_and_bad_label_table(ctrate, tmp_path):
    root, _ = ctrate(masks="ts-classes")
    reader = open_dataset("ct-rate", root, mask_merge="totalsegmentater")
    with pytest.raises(UserError, match="did you mean 'totalsegmentator'"):
        reader.read_anatomy_bits(reader.cases("train")[0], "chest7")
    table = tmp_path / "bad.json"
    table.write_text(json.dumps({"one": "lung"}))
    with pytest.raises(UserError, match="label 'one' is not an integer"):
        open_dataset("ct-rate", root, mask_labels=table)


@settings(max_examples=40, deadline=None)
@given(
    labels=arrays(np.uint8, (3, 4, 5), elements=st.integers(0, 12)),
    names=st.dictionaries(
        st.integers(1, 12), st.sampled_from(sorted(vocab.synthetic_structures().values()))
    ),
)
def test_lookup_table_sets_exactly_the_merged_anatomies(labels, names):
    aset = vocab.anatomy_set("chest7")
    merge = aset.merge["synthetic"]
    lut = label_lut(names, aset, merge)
    lut = np.concatenate([lut, np.zeros(13 - lut.size, np.uint8)])
    bits = lut[labels]
    for bit, anatomy in enumerate(aset.anatomies):
        values = [v for v, n in names.items() if n in merge.get(anatomy, ())]
        np.testing.assert_array_equal((bits >> bit) & 1, np.isin(labels, values))
