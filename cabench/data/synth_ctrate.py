"""The ``synth-ct-rate`` site: phantoms written in CT-RATE's exact on-disk layout.

Patients have one to three scans (letters a, b, ...), scans one or two reconstructions (_1 smooth
kernel; _2 sharp kernel with another slice spacing, same anatomy and labels). v2 volumes are int16
HU stored as (X, Y, Z) = (W, H, D) with axes toward patient Left, Posterior, Superior and the
affine diag(-sx, -sy, sz) translated to the RAS position of voxel (0, 0, 0), which is
ImagePositionPatient (LPS) with x and y negated. v1 volumes hold the same array as raw stored
values (HU - RescaleIntercept) / RescaleSlope with an identity affine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cabench.data.phantom import plan_case, render_case
from cabench.data.phantom_labels import sample_patient
from cabench.data.synth_io import save_nifti, save_npz, write_csv
from cabench.data.synth_reports import write_report
from cabench.data.synth_site import CTRATE_SHARP, CTRATE_SMOOTH, apply_site
from cabench.vocab import finding_names

NAME = "synth-ct-rate"
SITE_CODE = 1
DEFAULT_SHAPE = (64, 128, 128)
FOV_MM = (320.0, 345.0, 345.0)
REPORT_COLUMNS = [
    "VolumeName",
    "ClinicalInformation_EN",
    "Technique_EN",
    "Findings_EN",
    "Impressions_EN",
]
METADATA_COLUMNS = (  # noqa: SIM905
    "VolumeName,Manufacturer,SeriesDescription,ManufacturerModelName,PatientSex,PatientAge,"
    "ReconstructionDiameter,DistanceSourceToDetector,DistanceSourceToPatient,"
    "GantryDetectorTilt,TableHeight,RotationDirection,ExposureTime,XRayTubeCurrent,Exposure,"
    "FilterType,GeneratorPower,FocalSpots,ConvolutionKernel,PatientPosition,RevolutionTime,"
    "SingleCollimationWidth,TotalCollimationWidth,TableSpeed,TableFeedPerRotation,"
    "SpiralPitchFactor,DataCollectionCenterPatient,ReconstructionTargetCenterPatient,"
    "ExposureModulationType,CTDIvol,ImagePositionPatient,ImageOrientationPatient,"
    "SliceLocation,SamplesPerPixel,PhotometricInterpretation,Rows,Columns,XYSpacing,"
    "RescaleIntercept,RescaleSlope,RescaleType,NumberofSlices,ZSpacing,StudyDate"
).split(",")
SCANNERS = {
    "SIEMENS": {
        "models": ["SOMATOM Definition Edge", "SOMATOM go.Top"],
        "kernels": ("B30f", "B70f"),
        "sdd": 1085.6,
        "sdp": 595.0,
        "filter": "FLAT",
        "focal": "1.2",
        "rot": 0.5,
        "coll": (0.6, 38.4),
        "pitch": 1.2,
        "orientation": "[1, 0, 0, 0, 1, 0]",
    },
    "PHILIPS": {
        "models": ["Ingenuity CT", "Brilliance 64"],
        "kernels": ("B", "YA"),
        "sdd": 1040.0,
        "sdp": 570.0,
        "filter": "B",
        "focal": "1.1",
        "rot": 0.4,
        "coll": (0.625, 40.0),
        "pitch": 0.985,
        "orientation": "[1.000000, 0.000000, 0.000000, 0.000000, 1.000000, -0.000000]",
    },
}


@dataclass(frozen=True)
class VolumeTask:
    """One volume to render and write; everything a worker process needs."""

    seed: int
    split: str  # "train" or "valid"
    patient: int  # number within the split
    scan: str  # letter
    recon: int
    patient_key: int  # global indices seeding the patient and the scan
    scan_key: int
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    slice_mm: float  # slice spacing of reconstruction 1 (named in the report's technique)
    layout: str

    @property
    def name(self) -> str:
        return f"{self.split}_{self.patient}_{self.scan}_{self.recon}"

    @property
    def relpath(self) -> str:
        """Path relative to <root>/dataset (and to <root>/anatomy_masks)."""
        folder = f"{self.split}_fixed" if self.layout == "v2" else self.split
        patient, scan = f"{self.split}_{self.patient}", f"{self.split}_{self.patient}_{self.scan}"
        return f"{folder}/{patient}/{scan}/{self.name}.nii.gz"


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, SITE_CODE, *keys])


def spacing_for(shape: tuple[int, int, int]) -> tuple[float, float, float]:
    """Anisotropic spacing fitting the site's field of view (in-plane on a 1/1024 mm grid)."""
    sz = round(FOV_MM[0] / shape[0], 3)
    return (sz, *(round(FOV_MM[i] / shape[i] * 1024) / 1024 for i in (1, 2)))


def plan_tasks(
    cases: int, shape: tuple[int, int, int], seed: int, layout: str, valid_fraction: float
) -> list[VolumeTask]:
    """Patients, scans and reconstructions adding up to ``cases`` volumes, split by patient."""
    rng = rng_for(seed, 0)
    spacing = spacing_for(shape)
    volumes: list[tuple[int, int, str, int, tuple, tuple]] = []  # patient, scan key, letter, ...
    patient = scan_key = 0
    while len(volumes) < cases:
        for s in range(int(rng.choice([1, 2, 3], p=[0.82, 0.15, 0.03]))):
            recons = 2 if rng.random() < 0.35 else 1
            for r in range(1, recons + 1):
                if r == 1:
                    volumes.append((patient, scan_key, "abc"[s], r, shape, spacing))
                    continue
                sz = round(spacing[0] * float(rng.choice([0.8, 1.25])), 3)
                d = max(8, int(round(shape[0] * spacing[0] / sz)))
                volumes.append(
                    (patient, scan_key, "abc"[s], r, (d, *shape[1:]), (sz, *spacing[1:]))
                )
            scan_key += 1
        patient += 1
    volumes = volumes[:cases]
    n_patients = volumes[-1][0] + 1
    n_valid = int(round(valid_fraction * n_patients))
    if 0 < valid_fraction < 1 and n_patients >= 2:
        n_valid = min(max(n_valid, 1), n_patients - 1)
    valid = set(rng.permutation(n_patients)[:n_valid].tolist())
    numbers: dict[int, tuple[str, int]] = {}
    counters = {"train": 0, "valid": 0}
    tasks = []
    for p, key, letter, recon, vshape, vspacing in volumes:
        if p not in numbers:
            split = "valid" if p in valid else "train"
            counters[split] += 1
            numbers[p] = (split, counters[split])
        split, number = numbers[p]
        tasks.append(
            VolumeTask(
                seed, split, number, letter, recon, p, key, vshape, vspacing, spacing[0], layout
            )
        )
    return tasks


def render(task: VolumeTask, root: Path) -> dict:
    """Render, write the volume, mask and findings sidecar; return the table rows."""
    patient = sample_patient(rng_for(task.seed, 1, task.patient_key))
    plan = plan_case(rng_for(task.seed, 2, task.scan_key), patient=patient)
    rng = rng_for(task.seed, 3, task.scan_key, task.recon)
    case = render_case(plan, task.shape, task.spacing, rng)
    meta_rng = rng_for(task.seed, 4, task.scan_key, task.recon)
    meta = metadata_row(task, meta_rng, patient.sex, patient.age)
    hu = apply_site(case.hu, CTRATE_SMOOTH if task.recon == 1 else CTRATE_SHARP, rng)
    affine = affine_from_metadata(meta)
    stored = to_nifti_order(hu)
    if task.layout == "v1":
        stored = (stored.astype(np.int32) - int(meta["RescaleIntercept"])).astype(np.int16)
        affine = np.eye(4)
    save_nifti(root / "dataset" / task.relpath, stored, affine)
    save_nifti(root / "anatomy_masks" / task.relpath, to_nifti_order(case.structures), affine)
    save_npz(root / "cabench_synth" / "findings" / f"{task.name}.npz", 1, findings=case.findings)
    report = write_report(
        rng_for(task.seed, 5, task.scan_key),
        case.labels,
        case.details,
        age=patient.age,
        sex=patient.sex,
        slice_mm=task.slice_mm,
    )
    return {
        "split": task.split,
        "name": task.name,
        "labels": case.labels,
        "report": report.sections(),
        "sentences": [(s.anatomy, s.text) for s in report.sentences],
        "meta": meta,
    }


def to_nifti_order(canonical: np.ndarray) -> np.ndarray:
    """Canonical (D, H, W) with slice 0 superior -> (X, Y, Z) toward Left, Posterior, Superior."""
    return np.ascontiguousarray(canonical[::-1].transpose(2, 1, 0))


def affine_from_metadata(meta: dict) -> np.ndarray:
    """RAS affine of a v2 volume from its metadata row (spacing and ImagePositionPatient)."""
    sy, sx = _floats(meta["XYSpacing"])
    x0, y0, z0 = _floats(meta["ImagePositionPatient"])
    sz = float(meta["ZSpacing"])
    return np.array([[-sx, 0, 0, -x0], [0, -sy, 0, -y0], [0, 0, sz, z0], [0, 0, 0, 1.0]])


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.strip("[]").split(",")]


def metadata_row(task: VolumeTask, rng: np.random.Generator, sex: str, age: int) -> dict:
    """All 44 metadata columns, consistent with the written voxels."""
    scan_rng = rng_for(task.seed, 6, task.scan_key)  # shared by the scan's reconstructions
    maker = "SIEMENS" if scan_rng.random() < 0.55 else "PHILIPS"
    s = SCANNERS[maker]
    model = s["models"][int(scan_rng.integers(len(s["models"])))]
    centre = [scan_rng.normal(0, 8), scan_rng.normal(170, 25), scan_rng.normal(-160, 60)]
    day = int(scan_rng.integers(0, 1200))
    date = np.datetime64("2018-01-01") + np.timedelta64(day, "D")
    d, h, w = task.shape
    sz, sy, sx = task.spacing
    ipp = [
        round(centre[0] - (w - 1) / 2 * sx, 4),
        round(centre[1] - (h - 1) / 2 * sy, 4),
        round(centre[2] - (d - 1) / 2 * sz, 4),
    ]
    kernel = s["kernels"][task.recon - 1 if task.recon <= 2 else 1]
    current = int(rng.integers(80, 320))
    exposure_time = int(rng.integers(400, 1000))
    table_speed = round(s["coll"][1] * s["pitch"] / s["rot"], 1)
    center_list = str([round(v, 2) for v in centre]) if maker == "SIEMENS" else ""
    row = {
        "VolumeName": f"{task.name}.nii.gz",
        "Manufacturer": maker,
        "SeriesDescription": f"Thorax {sz:g} {kernel}",
        "ManufacturerModelName": model,
        "PatientSex": sex,
        "PatientAge": f"{age:03d}Y",
        "ReconstructionDiameter": repr(round(sx * w, 4)),
        "DistanceSourceToDetector": s["sdd"],
        "DistanceSourceToPatient": s["sdp"],
        "GantryDetectorTilt": 0,
        "TableHeight": round(float(scan_rng.uniform(120, 180)), 1),
        "RotationDirection": "CW",
        "ExposureTime": exposure_time,
        "XRayTubeCurrent": current,
        "Exposure": int(current * exposure_time / 1000),
        "FilterType": s["filter"],
        "GeneratorPower": current * 120,
        "FocalSpots": s["focal"],
        "ConvolutionKernel": kernel,
        "PatientPosition": "HFS",
        "RevolutionTime": s["rot"],
        "SingleCollimationWidth": s["coll"][0],
        "TotalCollimationWidth": s["coll"][1],
        "TableSpeed": table_speed,
        "TableFeedPerRotation": round(table_speed * s["rot"], 1),
        "SpiralPitchFactor": s["pitch"],
        "DataCollectionCenterPatient": center_list,
        "ReconstructionTargetCenterPatient": center_list,
        "ExposureModulationType": "XYZ_EC" if maker == "SIEMENS" else "",
        "CTDIvol": round(float(rng.uniform(3, 12)), 2),
        "ImagePositionPatient": str(ipp),
        "ImageOrientationPatient": s["orientation"],
        "SliceLocation": ipp[2],
        "SamplesPerPixel": 1,
        "PhotometricInterpretation": "MONOCHROME2",
        "Rows": h,
        "Columns": w,
        "XYSpacing": str([sy, sx]),
        "RescaleIntercept": -8192 if rng.random() < 0.28 else -1024,
        "RescaleSlope": 1,
        "RescaleType": "HU" if rng.random() < 0.5 else "",
        "NumberofSlices": d,
        "ZSpacing": sz,
        "StudyDate": str(date).replace("-", ""),
    }
    assert list(row) == METADATA_COLUMNS
    return row


def write_tables(root: Path, results: list[dict], layout: str) -> None:
    """Reports, labels and metadata CSVs of both splits (headers even for an empty split)."""
    dataset = root / "dataset"
    findings = finding_names()
    for split, reports, labels, meta in (
        ("train", "train_reports", "train_predicted_labels", "train_metadata"),
        ("valid", "validation_reports", "valid_predicted_labels", "validation_metadata"),
    ):
        rows = sorted((r for r in results if r["split"] == split), key=_volume_order)
        write_csv(
            dataset / "radiology_text_reports" / f"{reports}.csv",
            REPORT_COLUMNS,
            [[f"{r['name']}.nii.gz", *r["report"].values()] for r in rows],
        )
        write_csv(
            dataset / "multi_abnormality_labels" / f"{labels}.csv",
            ["VolumeName", *findings],
            [[f"{r['name']}.nii.gz", *(r["labels"][f] for f in findings)] for r in rows],
        )
        write_csv(
            dataset / "metadata" / f"{meta}.csv",
            METADATA_COLUMNS,
            [list(r["meta"].values()) for r in rows],
        )
        (dataset / (f"{split}_fixed" if layout == "v2" else split)).mkdir(exist_ok=True)


def _volume_order(row: dict) -> tuple:
    split, patient, scan, recon = row["name"].split("_")
    return (split, int(patient), scan, int(recon))
