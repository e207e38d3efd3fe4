"""Preprocessing (MONAI), the content-addressed volume cache, and the torch Dataset on top."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.transforms import ResizeWithPadOrCrop, Spacing

from cabench.data import open_dataset
from cabench.data.base import Volume
from cabench.data.cache import VolumeCache
from cabench.data.preprocess import (
    PreprocessedDataset,
    Preprocessing,
    bytes_per_case,
    estimate_ram,
    load_preprocessed,
    warm_cache,
)
from cabench.data.resample import _grid, preprocess
from cabench.errors import UserError

SMALL = Preprocessing(spacing=(2.0, 2.0, 2.0), shape=(6, 10, 10))


def age(path, seconds=60):
    """Make a file look older than the hash index's racy window."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - seconds * 10**9))


def test_preprocessing_key_is_stable_and_sensitive():
    a = Preprocessing(spacing=[1, 2, 3], shape=[4, 5, 6])
    b = Preprocessing(spacing=(1.0, 2.0, 3.0), shape=(4, 5, 6))
    assert a.key() == b.key() and len(a.key()) == 16
    others = [
        Preprocessing(spacing=(1, 2, 2), shape=(4, 5, 6)),
        Preprocessing(spacing=(1, 2, 3), shape=(4, 5, 7)),
        Preprocessing(spacing=(1, 2, 3), shape=(4, 5, 6), clip=(-1000, 1000)),
        Preprocessing(spacing=(1, 2, 3), shape=(4, 5, 6), pad_value=-1000),
        Preprocessing(spacing=None, shape=(4, 5, 6)),
    ]
    assert len({a.key(), *(o.key() for o in others)}) == 6
    assert Preprocessing.from_dict(a.to_dict()) == a
    with pytest.raises(UserError, match="no setting 'spacings'"):
        Preprocessing.from_dict({"spacings": [1, 1, 1]})
    with pytest.raises(UserError, match="clip"):
        Preprocessing(clip=(100, -100))


@settings(max_examples=15, deadline=None)
@given(
    shape=st.tuples(*[st.integers(3, 14)] * 3),
    spacing=st.tuples(*[st.sampled_from([0.7, 1.0, 1.5, 3.0])] * 3),
    target=st.tuples(*[st.sampled_from([1.0, 2.0, 2.5])] * 3),
    out=st.tuples(*[st.integers(2, 9)] * 3),
    seed=st.integers(0, 10),
)
def test_preprocess_output_grid_dtypes_and_values(shape, spacing, target, out, seed):
    rng = np.random.default_rng(seed)
    hu = rng.integers(-3000, 5000, size=shape).astype(np.int16)
    bits = rng.choice(np.array([0, 1, 8, 9, 40], np.uint8), size=shape)
    prep = Preprocessing(spacing=target, shape=out, clip=(-1024, 3071), pad_value=-1024)
    got_hu, got_bits = preprocess(Volume(hu, spacing), bits, prep)
    assert got_hu.dtype == np.int16 and got_hu.shape == out
    assert got_bits.dtype == np.uint8 and got_bits.shape == out
    assert got_hu.min() >= -1024 and got_hu.max() <= 3071
    assert set(np.unique(got_bits)) <= {0, 1, 8, 9, 40}  # nearest: no blended bit patterns


def _reference(volume: Volume, bits: np.ndarray, prep: Preprocessing):
    """The naive MONAI chain: resample the whole volume, then centre-crop or pad."""
    image = np.clip(volume.hu.astype(np.float32), *prep.clip)
    hu = Spacing(prep.spacing, mode="bilinear", dtype=torch.float32)(_grid(image, volume.spacing))
    hu = ResizeWithPadOrCrop(prep.shape, value=prep.pad_value)(hu)
    mask = _grid(bits.astype(np.float32), volume.spacing)
    mask = Spacing(prep.spacing, mode="nearest", dtype=torch.float32)(mask)
    mask = ResizeWithPadOrCrop(prep.shape, value=0)(mask)
    return np.rint(np.asarray(hu)[0]).astype(np.int16), np.asarray(mask)[0].astype(np.uint8)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(*[st.integers(3, 18)] * 3),
    spacing=st.tuples(*[st.sampled_from([0.7, 1.3, 2.69])] * 3),
    target=st.tuples(*[st.sampled_from([0.9, 1.7, 2.3])] * 3),  # no exact nearest-neighbour ties
    out=st.tuples(*[st.integers(2, 24)] * 3),
    seed=st.integers(0, 10),
)
def test_equals_monai_spacing_then_resize_with_pad_or_crop(shape, spacing, target, out, seed):
    rng = np.random.default_rng(seed)
    volume = Volume(rng.integers(-1500, 3500, size=shape).astype(np.int16), spacing)
    bits = rng.choice(np.array([0, 1, 8, 40], np.uint8), size=shape)
    prep = Preprocessing(spacing=target, shape=out)
    hu, got_bits = preprocess(volume, bits, prep)
    ref_hu, ref_bits = _reference(volume, bits, prep)
    assert np.abs(hu.astype(np.int32) - ref_hu).max() <= 1  # float rounding at .5 HU
    np.testing.assert_array_equal(got_bits, ref_bits)


def test_native_grid_is_kept_exactly_and_padding_uses_the_pad_value():
    hu = np.arange(4 * 6 * 6, dtype=np.int16).reshape(4, 6, 6) - 50
    same, _ = preprocess(Volume(hu, (2.0, 1.0, 1.0)), None, Preprocessing((2, 1, 1), (4, 6, 6)))
    np.testing.assert_array_equal(same, hu)
    padded, _ = preprocess(
        Volume(hu, (2.0, 1.0, 1.0)), None, Preprocessing(None, (6, 6, 6), pad_value=-999)
    )
    np.testing.assert_array_equal(padded[1:5], hu)
    assert (padded[0] == -999).all() and (padded[5] == -999).all()


def test_resampling_halves_the_slice_count_when_spacing_doubles():
    hu = np.full((16, 8, 8), 40, np.int16)
    out, _ = preprocess(Volume(hu, (1.0, 1.0, 1.0)), None, Preprocessing((2, 1, 1), (10, 8, 8)))
    assert (out[1:9] == 40).all() and (out[0] == -1024).all() and (out[9] == -1024).all()


def test_volumes_never_load_or_preprocess_as_float64(ctrate, radchest):
    root, _ = ctrate(layout="v1", intercept=-8192)
    path = next((root / "dataset").rglob("train_1_a_1.nii.gz"))
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 8), np.float64), np.eye(4)), path)
    root_rc, _ = radchest()
    readers = [open_dataset("ct-rate", root), open_dataset("rad-chestct", root_rc)]
    seen = set()
    for reader in readers:
        for split in reader.splits():
            for case in reader.cases(split):
                hu = reader.read_volume(case).hu
                seen.add(hu.dtype)
                assert hu.dtype in (np.int16, np.float32)
                out, _ = load_preprocessed(reader, case, SMALL)
                assert out.dtype == np.int16
    assert np.dtype(np.float32) in seen  # the float64 file came out as float32


def test_cache_hit_returns_the_stored_arrays(ctrate, tmp_path):
    root, _ = ctrate(masks="labelmap", manifest=True)
    reader = open_dataset("synth-ct-rate", root)
    case = reader.cases("train")[0]
    cache = VolumeCache(tmp_path / "cache")
    first = load_preprocessed(reader, case, SMALL, "chest7", cache)
    assert (cache.hits, cache.misses) == (0, 1) and len(cache.entries()) == 1
    second = load_preprocessed(reader, case, SMALL, "chest7", cache)
    assert (cache.hits, cache.misses) == (1, 1)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[1].any()  # mask bits were cached too
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_changed_inputs_never_read_a_stale_entry(ctrate, tmp_path):
    root, _ = ctrate(layout="v1", masks="labelmap", manifest=True)
    reader = open_dataset("synth-ct-rate", root)
    case = reader.cases("train")[0]
    cache = VolumeCache(tmp_path / "cache")
    key = cache.key(reader, case, SMALL.key(), "chest7")
    hu, _ = load_preprocessed(reader, case, SMALL, "chest7", cache)
    assert {
        cache.key(reader, case, Preprocessing((2, 2, 1), (6, 10, 10)).key(), "chest7"),
        cache.key(reader, case, SMALL.key(), "fvlm4"),
    }.isdisjoint({key})
    # a new intercept in the metadata changes v1 voxels: new key, new values
    meta = root / "dataset/metadata/train_metadata.csv"
    frame = pd.read_csv(meta, dtype=str, keep_default_na=False)
    frame.loc[0, "RescaleIntercept"] = "-1000"
    frame.to_csv(meta, index=False)
    reader2 = open_dataset("synth-ct-rate", root)
    case2 = reader2.cases("train")[0]
    assert cache.key(reader2, case2, SMALL.key(), "chest7") != key
    hu2, _ = load_preprocessed(reader2, case2, SMALL, "chest7", cache)
    assert not np.array_equal(hu, hu2)
    # rewritten volume and mask files: new keys
    key2 = cache.key(reader2, case2, SMALL.key(), "chest7")
    volume = case2.volume_path
    image = nib.load(volume)
    nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj) + 1, image.affine), volume)
    key3 = cache.key(reader2, case2, SMALL.key(), "chest7")
    assert key3 != key2
    mask = nib.load(case2.mask_path)
    nib.save(nib.Nifti1Image(np.zeros(mask.shape, np.uint8), mask.affine), case2.mask_path)
    assert cache.key(reader2, case2, SMALL.key(), "chest7") != key3


def test_file_hashes_are_remembered_until_the_file_changes(ctrate, tmp_path):
    root, _ = ctrate()
    reader = open_dataset("ct-rate", root)
    case = reader.cases("valid")[0]
    age(case.volume_path)
    VolumeCache(tmp_path / "c").key(reader, case, SMALL.key(), "chest7")
    again = VolumeCache(tmp_path / "c")
    again.key(reader, case, SMALL.key(), "chest7")
    assert again.hasher.computed == 0
    case.volume_path.write_bytes(case.volume_path.read_bytes())  # touched: new mtime
    again.key(reader, case, SMALL.key(), "chest7")
    assert again.hasher.computed == 1


def test_unreadable_cache_entry_is_a_miss_and_is_rewritten(ctrate, tmp_path):
    root, _ = ctrate()
    reader = open_dataset("ct-rate", root)
    case = reader.cases("train")[1]
    cache = VolumeCache(tmp_path / "c")
    good = load_preprocessed(reader, case, SMALL, "chest7", cache)[0]
    cache.entries()[0].write_bytes(b"garbage")
    again = load_preprocessed(reader, case, SMALL, "chest7", cache)[0]
    np.testing.assert_array_equal(good, again)
    assert cache.misses == 2 and cache.load(cache.key(reader, case, SMALL.key(), "chest7"))


def test_dataset_items_and_dataloader(radchest, tmp_path):
    root, _ = radchest(masks="npz", manifest=True)
    reader = open_dataset("synth-rad-chestct", root)
    cases = reader.cases("train")
    dataset = PreprocessedDataset(reader, cases, SMALL, "chest7", VolumeCache(tmp_path / "c"))
    item = dataset[0]
    assert item["case_id"] == "trn00001" and item["index"] == 0 and item["has_mask"]
    assert item["hu"].dtype == np.int16 and item["bits"].dtype == np.uint8
    assert item["labels"].dtype == np.int8 and item["labels"].shape == (18,)
    assert item["labels"][0] == -1  # Medical material is not labelled by Rad-ChestCT
    assert item["labels"][1] == 1  # Arterial wall calcification from calcification*heart
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=2)))
    assert batch["hu"].shape == (2, 6, 10, 10) and batch["hu"].dtype == torch.int16
    assert batch["case_id"] == ["trn00001", "trn00002"]


def test_warm_cache_with_two_worker_processes_racing_on_the_same_keys(ctrate, tmp_path):
    root, _ = ctrate(masks="labelmap", manifest=True)
    reader = open_dataset("synth-ct-rate", root)
    cases = reader.cases("train") + reader.cases("valid")
    serial = VolumeCache(tmp_path / "serial")
    stats = warm_cache(reader, cases, SMALL, "chest7", serial)
    assert stats["cases"] == 3 and stats["hits"] == 0
    assert warm_cache(reader, cases, SMALL, "chest7", serial)["hits"] == 3
    shared = VolumeCache(tmp_path / "shared")
    stats = warm_cache(reader, cases * 3, SMALL, "chest7", shared, workers=2)
    assert stats["cases"] == 9 and len(shared.entries()) == 3
    assert not list((tmp_path / "shared").rglob("*.tmp"))
    for a, b in zip(serial.entries(), shared.entries(), strict=True):
        assert a.name == b.name
        assert a.read_bytes() == b.read_bytes()


def test_ram_estimate():
    prep = Preprocessing(spacing=None, shape=(64, 128, 128))
    assert bytes_per_case(prep) == 64 * 128 * 128 * 3
    assert estimate_ram(prep, 200) == 200 * 3 * 64 * 128 * 128
