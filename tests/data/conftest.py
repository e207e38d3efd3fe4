"""Fixtures that write tiny datasets in the exact real layouts (CT-RATE, Rad-ChestCT).

Volumes are given in canonical IPL order (axis 0 superior->inferior, 1 anterior->posterior,
2 right->left); the CT-RATE writer stores them the way the release does (array axes L, P, S with
an affine built here by hand, independently of the reader's code).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cabench import vocab

REPORT_COLUMNS = [
    "VolumeName",
    "ClinicalInformation_EN",
    "Technique_EN",
    "Findings_EN",
    "Impressions_EN",
]
METADATA_COLUMNS = [
    "VolumeName",
    "Manufacturer",
    "SeriesDescription",
    "ManufacturerModelName",
    "PatientSex",
    "PatientAge",
    "ReconstructionDiameter",
    "DistanceSourceToDetector",
    "DistanceSourceToPatient",
    "GantryDetectorTilt",
    "TableHeight",
    "RotationDirection",
    "ExposureTime",
    "XRayTubeCurrent",
    "Exposure",
    "FilterType",
    "GeneratorPower",
    "FocalSpots",
    "ConvolutionKernel",
    "PatientPosition",
    "RevolutionTime",
    "SingleCollimationWidth",
    "TotalCollimationWidth",
    "TableSpeed",
    "TableFeedPerRotation",
    "SpiralPitchFactor",
    "DataCollectionCenterPatient",
    "ReconstructionTargetCenterPatient",
    "ExposureModulationType",
    "CTDIvol",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "SliceLocation",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "Rows",
    "Columns",
    "XYSpacing",
    "RescaleIntercept",
    "RescaleSlope",
    "RescaleType",
    "NumberofSlices",
    "ZSpacing",
    "StudyDate",
]
SHAPE = (8, 16, 16)
SPACING = (2.0, 1.0, 0.75)  # canonical D, H, W in mm
STRUCTURES = {1: "lung_left", 2: "lung_right", 6: "heart", 8: "aorta", 9: "esophagus"}
TS_NAMES = {1: "lung_upper_lobe_left", 2: "lung_lower_lobe_right", 6: "heart", 8: "aorta"}
LOCATIONS = ["lung", "heart", "left_upper"]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def ipl_to_lps(array: np.ndarray) -> np.ndarray:
    """Canonical (I, P, L) array -> CT-RATE storage axes (L, P, S)."""
    return np.ascontiguousarray(array.transpose(2, 1, 0)[:, :, ::-1])


def lps_affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """Affine of an (L, P, S) array in nibabel's RAS+ world; spacing is canonical (D, H, W)."""
    d, h, w = spacing
    affine = np.diag([-w, -h, d, 1.0])
    assert nib.aff2axcodes(affine) == ("L", "P", "S")
    return affine


def phantom(seed: int, shape=SHAPE) -> np.ndarray:
    """A small int16 HU volume in canonical order with body-like values."""
    rng = np.random.default_rng(seed)
    hu = rng.integers(-1000, 400, size=shape).astype(np.int16)
    hu[0, 0, 0] = 1500  # a bright marker at the superior, anterior, right corner
    return hu


def label_map(seed: int, shape=SHAPE) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    return rng.choice([0, 1, 2, 6, 8, 9], size=shape).astype(np.uint8)


def ctrate_name(split: str, patient: int, scan: str = "a", recon: int = 1) -> str:
    return f"{split}_{patient}_{scan}_{recon}"


def default_labels(name: str) -> dict[str, int]:
    seed = sum(map(ord, name))
    return {f: (seed + i) % 3 == 0 for i, f in enumerate(vocab.finding_names())}


def write_ctrate(
    root: Path,
    names: list[str] | None = None,
    *,
    layout: str = "v2",
    intercept: float = -1024,
    old_spelling: tuple[str, ...] = (),
    masks: str | None = None,
    manifest: bool = False,
) -> dict[str, np.ndarray]:
    """A CT-RATE tree under ``root``; returns case id -> canonical HU written."""
    names = names or [
        ctrate_name("train", 1),
        ctrate_name("train", 2, "b", 10),
        ctrate_name("valid", 1),
    ]
    data = root / "dataset"
    volumes = {}
    folder = {"v2": "{}_fixed", "v1": "{}"}[layout]
    rows: dict[str, dict[str, list]] = {"train": {}, "valid": {}}
    for k, name in enumerate(names):
        split, patient, scan, _ = name.split("_")
        hu = phantom(k)
        volumes[name] = hu
        scan_dir = (
            f"{split}_{patient}{scan}" if name in old_spelling else f"{split}_{patient}_{scan}"
        )
        rel = Path(folder.format(split)) / f"{split}_{patient}" / scan_dir / f"{name}.nii.gz"
        path = data / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if layout == "v2":
            image = nib.Nifti1Image(ipl_to_lps(hu), lps_affine(SPACING))
        else:
            raw = (ipl_to_lps(hu).astype(np.int32) - int(intercept)).astype(np.int16)
            image = nib.Nifti1Image(raw, np.eye(4))
        image.header.set_data_dtype(np.int16)
        nib.save(image, path)
        if masks is not None:
            write_ctrate_mask(root / "anatomy_masks" / rel, label_map(k), masks, layout)
        file_name = f"{name}.nii.gz"
        labels = default_labels(name)
        rows[split].setdefault("labels", []).append([file_name, *[int(labels[f]) for f in labels]])
        report = [
            "Not given.",
            "Non-contrast chest CT, 1 mm.",
            f'Lungs: "clear", case {k}.',
            "Normal.",
        ]
        rows[split].setdefault("reports", []).append([file_name, *report])
        meta = dict.fromkeys(METADATA_COLUMNS, "")
        meta.update(
            VolumeName=file_name,
            XYSpacing=f"[{SPACING[2]}, {SPACING[1]}]",
            ZSpacing=SPACING[0],
            RescaleIntercept=intercept,
            RescaleSlope=1,
            Rows=SHAPE[1],
            Columns=SHAPE[2],
            NumberofSlices=SHAPE[0],
            PatientAge="036Y",
            ImageOrientationPatient="[1, 0, 0, 0, 1, 0]",
        )
        rows[split].setdefault("metadata", []).append([meta[c] for c in METADATA_COLUMNS])
    names_of = {
        "train": ("train_reports.csv", "train_predicted_labels.csv", "train_metadata.csv"),
        "valid": (
            "validation_reports.csv",
            "valid_predicted_labels.csv",
            "validation_metadata.csv",
        ),
    }
    for split, parts in rows.items():
        if not parts:
            continue
        reports, labels, metadata = names_of[split]
        write_csv(data / "radiology_text_reports" / reports, REPORT_COLUMNS, parts["reports"])
        write_csv(
            data / "multi_abnormality_labels" / labels,
            ["VolumeName", *vocab.finding_names()],
            parts["labels"],
        )
        write_csv(data / "metadata" / metadata, METADATA_COLUMNS, parts["metadata"])
    if manifest:
        write_manifest(root, layout)
    return volumes


def write_ctrate_mask(path: Path, labels: np.ndarray, form: str, layout: str) -> None:
    """A mask in one of the three forms: labelmap (synthetic names), ts-labelmap, ts-classes."""
    affine = lps_affine(SPACING) if layout == "v2" else np.eye(4)
    stored = ipl_to_lps(labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    if form in ("labelmap", "ts-labelmap"):
        nib.save(nib.Nifti1Image(stored, affine), path)
        return
    folder = path.with_name(path.name.removesuffix(".nii.gz"))
    folder.mkdir(parents=True, exist_ok=True)
    for value, name in TS_NAMES.items():
        nib.save(
            nib.Nifti1Image((stored == value).astype(np.uint8), affine), folder / f"{name}.nii.gz"
        )
    nib.save(nib.Nifti1Image((stored == 9).astype(np.uint8), affine), folder / "spleen.nii.gz")


def write_manifest(root: Path, layout: str, spacing=SPACING) -> None:
    manifest = {
        "generator": "tests",
        "generator_version": "0",
        "name": "synth",
        "seed": 0,
        "cases": 3,
        "shape": list(SHAPE),
        "spacing_mm": list(spacing),
        "layout": layout,
        "valid_fraction": 0.25,
        "structures": {str(k): v for k, v in STRUCTURES.items()},
        "finding_order": vocab.finding_names(),
    }
    (root / "cabench_synth.json").write_text(json.dumps(manifest))


def radchest_headers() -> list[str]:
    abnormalities = sorted({a for a, _ in vocab.radchestct_map()} | {"cyst"})
    return [f"{a}*{loc}" for a in abnormalities for loc in LOCATIONS]


def write_radchest(
    root: Path,
    ids: list[str] | None = None,
    *,
    positives: dict[str, list[str]] | None = None,
    masks: str | None = None,
    manifest: bool = False,
    summary: bool = True,
    nested: bool = False,
) -> dict[str, np.ndarray]:
    """A Rad-ChestCT tree; ``positives`` maps case id -> headers set to 1.0."""
    ids = ids or ["trn00001", "trn00002", "val00003", "tst00004"]
    positives = positives or {"trn00001": ["calcification*heart", "nodule*left_upper"]}
    headers = radchest_headers()
    rows: dict[str, list] = {}
    volumes = {}
    for k, case_id in enumerate(ids):
        split = {"trn": "train", "val": "valid", "tst": "test"}[case_id[:3]]
        hu = phantom(k)
        volumes[case_id] = hu
        folder = root / ("volumes" / Path(split) if nested else Path("."))
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / f"{case_id}.npz", ct=hu)
        values = ["1.0" if h in positives.get(case_id, []) else "0.0" for h in headers]
        rows.setdefault(split, []).append([case_id, *values])
        if masks == "npz":
            (root / "anatomy_masks").mkdir(exist_ok=True)
            np.savez_compressed(root / "anatomy_masks" / f"{case_id}.npz", labels=label_map(k))
        elif masks == "nifti":
            (root / "anatomy_masks").mkdir(exist_ok=True)
            nib.save(
                nib.Nifti1Image(label_map(k), np.eye(4)),
                root / "anatomy_masks" / f"{case_id}.nii.gz",
            )
    for split, split_rows in rows.items():
        write_csv(
            root / f"img{split}_Abnormality_and_Location_Labels.csv",
            ["NoteAcc_DEID", *headers],
            split_rows,
        )
    if summary:
        subset = {"trn": "imgtrain", "val": "imgvalid", "tst": "imgtest"}
        write_csv(
            root / "Summary_3630.csv",
            ["MRN_DEID", "NoteAcc_DEID", "Set_Assigned", "Subset_Assigned"],
            [[f"AA{k // 2}", c, subset[c[:3]][3:], subset[c[:3]]] for k, c in enumerate(ids)],
        )
    if manifest:
        write_manifest(root, "rad-chestct", spacing=(1.5, 0.8, 0.8))
    return volumes


@pytest.fixture
def ctrate(tmp_path) -> Callable[..., tuple[Path, dict[str, np.ndarray]]]:
    """Factory: ``ctrate(**options) -> (root, {case_id: canonical HU})`` in a fresh folder."""
    counter = iter(range(1000))

    def build(*args, **kwargs):
        root = tmp_path / f"ctrate{next(counter)}"
        return root, write_ctrate(root, *args, **kwargs)

    return build


@pytest.fixture
def radchest(tmp_path) -> Callable[..., tuple[Path, dict[str, np.ndarray]]]:
    """Factory: ``radchest(**options) -> (root, {case_id: canonical HU})`` in a fresh folder."""
    counter = iter(range(1000))

    def build(*args, **kwargs):
        root = tmp_path / f"radchest{next(counter)}"
        return root, write_radchest(root, *args, **kwargs)

    return build


@pytest.fixture
def truth() -> Callable[[int], np.ndarray]:
    """The canonical label map the writers above store for case number k."""
    return label_map


@pytest.fixture
def ts_labels(tmp_path) -> Path:
    """A user label table in TotalSegmentator class names."""
    path = tmp_path / "ts_labels.json"
    path.write_text(json.dumps({str(k): v for k, v in TS_NAMES.items()}))
    return path


@pytest.fixture
def cli_error(capsys, monkeypatch) -> Callable[[list[str]], str]:
    """Run `cabench ARGS`, assert a clean exit-2 error on exactly one line, return that line.

    The error console is told not to wrap (rich would break long lines at the console width).
    """
    from cabench import ui
    from cabench.cli import main

    monkeypatch.setattr(ui.console, "soft_wrap", True)

    def run(args: list[str]) -> str:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert code == 2, (code, out, err)
        assert "Traceback" not in out + err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        return lines[0]

    return run
