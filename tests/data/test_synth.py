"""The synthetic site writers: exact CT-RATE and Rad-ChestCT layouts, orientation, determinism,
refusals. Expected headers and names are spelled out here from shared/formats, not imported."""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cabench import vocab
from cabench.data import synth_ctrate
from cabench.data.synth import generate
from cabench.errors import UserError

SHAPE = (16, 32, 32)
FINDINGS = vocab.finding_names()
REPORT_HEADER = "VolumeName,ClinicalInformation_EN,Technique_EN,Findings_EN,Impressions_EN"
LABEL_HEADER = (
    "VolumeName,Medical material,Arterial wall calcification,Cardiomegaly,Pericardial effusion,"
    "Coronary artery wall calcification,Hiatal hernia,Lymphadenopathy,Emphysema,Atelectasis,"
    "Lung nodule,Lung opacity,Pulmonary fibrotic sequela,Pleural effusion,"
    "Mosaic attenuation pattern,Peribronchial thickening,Consolidation,Bronchiectasis,"
    "Interlobular septal thickening"
)
METADATA_HEADER = (
    "VolumeName,Manufacturer,SeriesDescription,ManufacturerModelName,PatientSex,PatientAge,"
    "ReconstructionDiameter,DistanceSourceToDetector,DistanceSourceToPatient,GantryDetectorTilt,"
    "TableHeight,RotationDirection,ExposureTime,XRayTubeCurrent,Exposure,FilterType,"
    "GeneratorPower,FocalSpots,ConvolutionKernel,PatientPosition,RevolutionTime,"
    "SingleCollimationWidth,TotalCollimationWidth,TableSpeed,TableFeedPerRotation,"
    "SpiralPitchFactor,DataCollectionCenterPatient,ReconstructionTargetCenterPatient,"
    "ExposureModulationType,CTDIvol,ImagePositionPatient,ImageOrientationPatient,SliceLocation,"
    "SamplesPerPixel,PhotometricInterpretation,Rows,Columns,XYSpacing,RescaleIntercept,"
    "RescaleSlope,RescaleType,NumberofSlices,ZSpacing,StudyDate"
)
ABNORMALITIES = [
    "air_trapping",
    "airspace_disease",
    "aneurysm",
    "arthritis",
    "aspiration",
    "atelectasis",
    "atherosclerosis",
    "bandlike_or_linear",
    "breast_implant",
    "breast_surgery",
    "bronchial_wall_thickening",
    "bronchiectasis",
    "bronchiolectasis",
    "bronchiolitis",
    "bronchitis",
    "cabg",
    "calcification",
    "cancer",
    "cardiomegaly",
    "catheter_or_port",
    "cavitation",
    "chest_tube",
    "clip",
    "congestion",
    "consolidation",
    "coronary_artery_disease",
    "cyst",
    "debris",
    "deformity",
    "density",
    "dilation_or_ectasia",
    "distention",
    "emphysema",
    "fibrosis",
    "fracture",
    "gi_tube",
    "granuloma",
    "groundglass",
    "hardware",
    "heart_failure",
    "heart_valve_replacement",
    "hemothorax",
    "hernia",
    "honeycombing",
    "infection",
    "infiltrate",
    "inflammation",
    "interstitial_lung_disease",
    "lesion",
    "lucency",
    "lung_resection",
    "lymphadenopathy",
    "mass",
    "mucous_plugging",
    "nodule",
    "nodulegr1cm",
    "opacity",
    "other_path",
    "pacemaker_or_defib",
    "pericardial_effusion",
    "pericardial_thickening",
    "plaque",
    "pleural_effusion",
    "pleural_thickening",
    "pneumonia",
    "pneumonitis",
    "pneumothorax",
    "postsurgical",
    "pulmonary_edema",
    "reticulation",
    "scarring",
    "scattered_calc",
    "scattered_nod",
    "secretion",
    "septal_thickening",
    "soft_tissue",
    "staple",
    "stent",
    "sternotomy",
    "suture",
    "tracheal_tube",
    "transplant",
    "tree_in_bud",
    "tuberculosis",
]
NAME = re.compile(r"^(train|valid)_(\d+)_([a-q])_(\d+)$")


def read_csv(path: Path) -> tuple[str, list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n")
        handle.seek(0)
        return header, list(csv.DictReader(handle))


def sidecar(root: Path, case_id: str) -> np.ndarray:
    with np.load(root / "cabench_synth" / "findings" / f"{case_id}.npz") as z:
        return z["findings"]


def to_canonical(image: nib.Nifti1Image) -> np.ndarray:
    """Any NIfTI -> (I, P, L) array by nibabel's own orientation tools."""
    start = nib.orientations.io_orientation(image.affine)
    target = nib.orientations.axcodes2ornt(("I", "P", "L"))
    transform = nib.orientations.ornt_transform(start, target)
    return nib.orientations.apply_orientation(np.asanyarray(image.dataobj), transform)


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    base = tmp_path_factory.mktemp("sites")
    args = {"cases": 12, "shape": SHAPE, "seed": 3, "valid_fraction": 0.3}
    return {
        "v2": generate("synth-ct-rate", base / "v2", **args, workers=1),
        "v1": generate("synth-ct-rate", base / "v1", **args, layout="v1", workers=1),
        "rc": generate("synth-rad-chestct", base / "rc", **args, workers=1),
    }


def test_ctrate_tables_have_the_exact_headers_and_one_row_per_volume(sites):
    data = sites["v2"] / "dataset"
    names = []
    for split, reports, labels, meta in (
        ("train", "train_reports", "train_predicted_labels", "train_metadata"),
        ("valid", "validation_reports", "valid_predicted_labels", "validation_metadata"),
    ):
        h1, rep = read_csv(data / "radiology_text_reports" / f"{reports}.csv")
        h2, lab = read_csv(data / "multi_abnormality_labels" / f"{labels}.csv")
        h3, met = read_csv(data / "metadata" / f"{meta}.csv")
        assert (h1, h2, h3) == (REPORT_HEADER, LABEL_HEADER, METADATA_HEADER)
        volumes = [r["VolumeName"] for r in rep]
        assert volumes == [r["VolumeName"] for r in lab] == [r["VolumeName"] for r in met]
        assert volumes and all(v.startswith(f"{split}_") and v.endswith(".nii.gz") for v in volumes)
        for row in lab:
            assert {row[f] for f in FINDINGS} <= {"0", "1"}
        names += volumes
    assert len(names) == len(set(names)) == 12
    train = {n.split("_")[1] for n in names if n.startswith("train")}
    valid = {n.split("_")[1] for n in names if n.startswith("valid")}
    assert train and valid  # patients are split by patient, numbered per split


def test_ctrate_files_sit_where_the_release_puts_them(sites):
    root = sites["v2"]
    volumes = sorted(p for p in (root / "dataset").rglob("*.nii.gz"))
    assert len(volumes) == 12
    for path in volumes:
        case = path.name.removesuffix(".nii.gz")
        split, patient, scan, _ = NAME.match(case).groups()
        rel = path.relative_to(root / "dataset")
        assert rel.parts == (
            f"{split}_fixed",
            f"{split}_{patient}",
            f"{split}_{patient}_{scan}",
            path.name,
        )
        assert (root / "anatomy_masks" / rel).is_file()
        assert (root / "cabench_synth" / "findings" / f"{case}.npz").is_file()
    v1 = sorted(
        p.relative_to(sites["v1"] / "dataset") for p in (sites["v1"] / "dataset").rglob("*.gz")
    )
    assert [
        str(p).replace("_fixed", "", 1) for p in (v.relative_to(root / "dataset") for v in volumes)
    ] == [str(p) for p in v1]


def test_ctrate_nifti_orientation_and_affine_match_the_metadata(sites):
    root = sites["v2"]
    rows = {}
    for name in ("train_metadata", "validation_metadata"):
        rows |= {
            r["VolumeName"]: r for r in read_csv(root / "dataset" / "metadata" / f"{name}.csv")[1]
        }
    for path in (root / "dataset").rglob("*.nii.gz"):
        meta = rows[path.name]
        image = nib.load(path)
        assert nib.aff2axcodes(image.affine) == ("L", "P", "S")
        assert image.get_data_dtype() == np.int16
        sy, sx = ast.literal_eval(meta["XYSpacing"])
        x0, y0, z0 = ast.literal_eval(meta["ImagePositionPatient"])
        sz = float(meta["ZSpacing"])
        expected = np.array([[-sx, 0, 0, -x0], [0, -sy, 0, -y0], [0, 0, sz, z0], [0, 0, 0, 1]])
        np.testing.assert_allclose(image.affine, expected, atol=1e-3)
        assert image.shape == (int(meta["Columns"]), int(meta["Rows"]), int(meta["NumberofSlices"]))
        assert float(meta["ReconstructionDiameter"]) == pytest.approx(sx * int(meta["Columns"]))
        assert float(meta["SliceLocation"]) == pytest.approx(z0)
        assert re.fullmatch(r"\d{3}Y", meta["PatientAge"]) and meta["PatientSex"] in "MF"
        assert int(meta["RescaleIntercept"]) in (-1024, -8192) and meta["RescaleSlope"] == "1"
        mask = nib.load(root / "anatomy_masks" / path.relative_to(root / "dataset"))
        assert mask.get_data_dtype() == np.uint8 and mask.shape == image.shape
        np.testing.assert_array_equal(mask.affine, image.affine)


def test_ctrate_volumes_masks_and_sidecars_agree_in_canonical_orientation(sites):
    root = sites["v2"]
    chest7 = vocab.anatomy_set("chest7")
    _, labels = read_csv(
        root / "dataset" / "multi_abnormality_labels" / "train_predicted_labels.csv"
    )
    heart, spine = vocab.structure_label("heart"), vocab.structure_label("bone")
    for row in labels:
        case = row["VolumeName"].removesuffix(".nii.gz")
        rel = next((root / "dataset").rglob(row["VolumeName"])).relative_to(root / "dataset")
        hu = to_canonical(nib.load(root / "dataset" / rel))
        structures = to_canonical(nib.load(root / "anatomy_masks" / rel))
        bits = sidecar(root, case)
        assert bits.shape == hu.shape == structures.shape
        for i, finding in enumerate(FINDINGS):
            plane = (bits & np.uint32(1 << i)) != 0
            assert plane.any() == (row[finding] == "1"), (case, finding)
            if plane.any():
                allowed = [
                    vocab.structure_label(s)
                    for s in chest7.merge["synthetic"][chest7.anatomy_of(finding)]
                ]
                assert np.isin(structures[plane], allowed).all(), (case, finding)
        # anatomy where the canonical orientation says: heart anterior-left, lungs from the top
        h_heart, w_heart = np.argwhere(structures == heart)[:, 1:].mean(0)
        h_bone = np.argwhere(structures == spine)[:, 1].mean()
        assert w_heart > hu.shape[2] / 2 and h_heart < h_bone
        lung_rows = np.argwhere(np.isin(structures, [1, 2]))[:, 0]
        assert lung_rows.min() < hu.shape[0] / 4
        assert hu[structures == vocab.structure_label("lung_right")].mean() < -600


def test_ctrate_v1_stores_raw_values_that_rescale_to_v2(sites):
    rows = {}
    for name in ("train_metadata", "validation_metadata"):
        path = sites["v1"] / "dataset" / "metadata" / f"{name}.csv"
        rows |= {r["VolumeName"]: r for r in read_csv(path)[1]}
    intercepts = set()
    for path in (sites["v1"] / "dataset").rglob("*.nii.gz"):
        assert path.parts[-4] in ("train", "valid")
        meta = rows[path.name]
        raw = nib.load(path)
        np.testing.assert_array_equal(raw.affine, np.eye(4))
        rel = path.relative_to(sites["v1"] / "dataset")
        v2 = nib.load(
            sites["v2"] / "dataset" / str(rel).replace(rel.parts[0], rel.parts[0] + "_fixed", 1)
        )
        slope, intercept = float(meta["RescaleSlope"]), float(meta["RescaleIntercept"])
        hu = np.asarray(raw.dataobj).astype(np.float64) * slope + intercept
        np.testing.assert_array_equal(hu, np.asarray(v2.dataobj))
        intercepts.add(intercept)
    assert intercepts  # both -1024 and -8192 occur on larger runs; each rescales correctly


def test_ctrate_reconstructions_share_labels_and_report(tmp_path):
    root = generate("synth-ct-rate", tmp_path / "r", cases=30, shape=SHAPE, seed=1, workers=1)
    _, reports = read_csv(root / "dataset" / "radiology_text_reports" / "train_reports.csv")
    _, meta = read_csv(root / "dataset" / "metadata" / "train_metadata.csv")
    by_scan: dict[str, list[dict]] = {}
    for report, m in zip(reports, meta, strict=True):
        by_scan.setdefault(report["VolumeName"].rsplit("_", 1)[0], []).append(report | m)
    pairs = [v for v in by_scan.values() if len(v) == 2]
    assert pairs and any(len({r["VolumeName"].split("_")[2] for r in v}) for v in by_scan.values())
    for first, second in pairs:
        assert first["Findings_EN"] == second["Findings_EN"]
        assert (
            first["ZSpacing"] != second["ZSpacing"]
            and first["ConvolutionKernel"] != second["ConvolutionKernel"]
        )
        assert int(first["NumberofSlices"]) * float(first["ZSpacing"]) == pytest.approx(
            int(second["NumberofSlices"]) * float(second["ZSpacing"]), rel=0.15
        )


def test_sentences_sidecar_matches_the_reports(sites):
    root = sites["v2"]
    _, sentences = read_csv(root / "cabench_synth" / "sentences.csv")
    assert list(sentences[0]) == ["case_id", "anatomy", "sentence"]
    _, reports = read_csv(root / "dataset" / "radiology_text_reports" / "validation_reports.csv")
    for report in reports:
        case = report["VolumeName"].removesuffix(".nii.gz")
        mine = [s for s in sentences if s["case_id"] == case]
        assert " ".join(s["sentence"] for s in mine) == report["Findings_EN"]
        assert {s["anatomy"] for s in mine} <= set(vocab.anatomy_set("chest7").anatomies)


def test_radchest_layout_npz_and_label_tables(sites):
    root = sites["rc"]
    manifest = json.loads((root / "cabench_synth.json").read_text())
    assert manifest["name"] == "synth-rad-chestct" and len(set(manifest["spacing_mm"])) == 1
    header, summary = read_csv(root / "Summary_3630.csv")
    assert header == "MRN_DEID,NoteAcc_DEID,Set_Assigned,Subset_Assigned"
    ids = [r["NoteAcc_DEID"] for r in summary]
    assert len(ids) == len(set(ids)) == 12
    prefix = {"imgtrain": "trn", "imgvalid": "val", "imgtest": "tst"}
    assert {r["Subset_Assigned"] for r in summary} == set(prefix)
    mapped = {}
    for abnormality, finding in vocab.radchestct_map():
        mapped.setdefault(abnormality, []).append(finding)
    seen = []
    for subset in prefix:
        header, rows = read_csv(root / f"{subset}_Abnormality_and_Location_Labels.csv")
        columns = header.split(",")
        assert columns[0] == "NoteAcc_DEID" and len(columns) == 1 + 84 * 52
        assert sorted({c.split("*")[0] for c in columns[1:]}) == sorted(ABNORMALITIES)
        assert {"left_upper", "right_lower", "lung", "airways", "heart", "aorta"} <= {
            c.split("*")[1] for c in columns[1:]
        }
        for row in rows:
            case = row["NoteAcc_DEID"]
            assert re.fullmatch(prefix[subset] + r"\d{5}", case)
            seen.append(case)
            assert set(list(row.values())[1:]) <= {"0.0", "1.0"}
            with np.load(root / f"{case}.npz") as z:
                assert list(z.keys()) == ["ct"]
                ct = z["ct"]
            assert ct.dtype == np.int16 and ct.shape == tuple(manifest["shape"])
            assert ct.min() >= -1000 and ct.max() <= 1000
            with np.load(root / "anatomy_masks" / f"{case}.npz") as z:
                assert z["labels"].dtype == np.uint8 and z["labels"].shape == ct.shape
            bits = sidecar(root, case)
            for abnormality, findings in mapped.items():
                label = max(float(row[c]) for c in columns[1:] if c.startswith(abnormality + "*"))
                drawn = any(
                    ((bits & np.uint32(1 << FINDINGS.index(f))) != 0).any() for f in findings
                )
                assert label == float(drawn), (case, abnormality)
    assert sorted(seen) == sorted(ids)


def test_the_two_sites_differ_like_real_sites(sites):
    ct_manifest = json.loads((sites["v2"] / "cabench_synth.json").read_text())
    rc_manifest = json.loads((sites["rc"] / "cabench_synth.json").read_text())
    assert len(set(ct_manifest["spacing_mm"])) == 2 and ct_manifest["layout"] == "v2"
    assert rc_manifest["spacing_mm"] != ct_manifest["spacing_mm"]

    def lung_noise(root, volume, masks):
        ct, labels = volume, masks
        lung = ct[labels == vocab.structure_label("lung_left")]
        return np.median(lung)

    case = sorted((sites["rc"]).glob("*.npz"))[0]
    with np.load(case) as z, np.load(sites["rc"] / "anatomy_masks" / case.name) as m:
        rc_lung = lung_noise(sites["rc"], z["ct"], m["labels"])
    path = next((sites["v2"] / "dataset").rglob("*_1.nii.gz"))
    hu = to_canonical(nib.load(path))
    labels = to_canonical(
        nib.load(sites["v2"] / "anatomy_masks" / path.relative_to(sites["v2"] / "dataset"))
    )
    assert rc_lung > lung_noise(sites["v2"], hu, labels) + 5  # calibration offset of the site


def test_reruns_are_byte_identical_and_free(tmp_path, sites):
    args = {"cases": 12, "shape": SHAPE, "seed": 3, "valid_fraction": 0.3}
    again = generate("synth-ct-rate", tmp_path / "again", **args, workers=2)  # parallel this time
    assert all_files(again) == all_files(sites["v2"])
    stamp = (again / "cabench_synth.json").stat().st_mtime_ns
    assert generate("synth-ct-rate", again, **args) == again
    assert (again / "cabench_synth.json").stat().st_mtime_ns == stamp
    rc = generate("synth-rad-chestct", tmp_path / "rc", **args, workers=2)
    assert all_files(rc) == all_files(sites["rc"])


def test_refuses_a_non_empty_root_and_leaves_nothing_behind(tmp_path, sites):
    with pytest.raises(UserError, match="not empty"):
        generate("synth-ct-rate", sites["v2"], cases=5, shape=SHAPE, seed=3)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        generate("synth-rad-chestct", other, cases=4, shape=SHAPE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert generate("synth-rad-chestct", empty, cases=4, shape=SHAPE) == empty
    assert (empty / "cabench_synth.json").is_file()


def test_an_interrupted_run_leaves_no_partial_output(tmp_path, monkeypatch):
    calls = []

    def broken(task, root):
        calls.append(task)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(task, root)

    real = synth_ctrate.render
    monkeypatch.setattr(synth_ctrate, "render", broken)
    with pytest.raises(RuntimeError):
        generate("synth-ct-rate", tmp_path / "out", cases=5, shape=SHAPE, workers=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "synth-ct-rat"}, "did you mean 'synth-ct-rate'"),
        ({"cases": 0}, "--cases"),
        ({"shape": (8, 32, 32)}, "--shape"),
        ({"layout": "v3"}, "--layout"),
        ({"name": "synth-rad-chestct", "layout": "v1"}, "--layout"),
        ({"valid_fraction": 1.5}, "--valid-fraction"),
    ],
)
def test_bad_arguments_are_user_errors(tmp_path, kwargs, message):
    args = {"name": "synth-ct-rate", "root": tmp_path / "x", "cases": 4, "shape": SHAPE} | kwargs
    with pytest.raises(UserError, match=re.escape(message)):
        generate(args.pop("name"), args.pop("root"), **args)
    assert not (tmp_path / "x").exists()


def test_label_table_prevalence_is_roughly_ct_rate(tmp_path):
    args = {"cases": 200, "shape": SHAPE, "seed": 0, "valid_fraction": 0.5, "workers": 1}
    root = generate("synth-ct-rate", tmp_path / "p", **args)
    rows = []
    for name in ("train_predicted_labels", "valid_predicted_labels"):
        rows += read_csv(root / "dataset" / "multi_abnormality_labels" / f"{name}.csv")[1]
    assert len(rows) == 200
    # volumes of one scan share labels: count scans, as the prevalence is per scan
    scans = {r["VolumeName"].rsplit("_", 1)[0]: r for r in rows}
    table = np.array([[int(r[f]) for f in FINDINGS] for r in scans.values()])
    n = len(table)
    valid_n = {
        "Lung nodule": 1361,
        "Interlobular septal thickening": 249,
        "Emphysema": 600,
        "Cardiomegaly": 325,
        "Arterial wall calcification": 867,
    }
    for finding, positives in valid_n.items():
        p = positives / 3039
        observed = table[:, FINDINGS.index(finding)].mean()
        assert abs(observed - p) < 3.5 * np.sqrt(p * (1 - p) / n), (finding, observed, p)
    assert 0.08 < (table.sum(1) == 0).mean() < 0.35
