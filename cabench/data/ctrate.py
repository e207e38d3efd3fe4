"""The CT-RATE reader (serves `ct-rate` and `synth-ct-rate`; layout in shared/formats/CT-RATE.md).

Opening checks the tables (cheap): folders, the three CSVs per split with their exact columns,
VolumeName formats, duplicate rows, 0/1 labels, v1 metadata values, and that every row has a
volume file and every file a row. Reading a volume checks the voxels: a readable NIfTI, a 3D
numeric array, no NaN.

v2 (``*_fixed`` folders) stores int16 HU with the spacing in the header affine: used as stored,
never rescaled again. v1 (``train``/``valid``) stores raw values with an identity affine: HU =
raw * RescaleSlope + RescaleIntercept and the spacing from XYSpacing/ZSpacing of the metadata, with
the array axes taken as L, P, S like v2.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cabench import vocab
from cabench.data import masks, tables, voxels
from cabench.data.base import REPORT_SECTIONS, CaseRef, DatasetReader, Volume
from cabench.errors import DataError, UserError
from cabench.registry import did_you_mean

SPLITS = ("train", "valid")
FOLDERS = {
    "v2": {"train": "train_fixed", "valid": "valid_fixed"},
    "v1": {"train": "train", "valid": "valid"},
}
REPORTS = {"train": "train_reports.csv", "valid": "validation_reports.csv"}
LABELS = {"train": "train_predicted_labels.csv", "valid": "valid_predicted_labels.csv"}
METADATA = {"train": "train_metadata.csv", "valid": "validation_metadata.csv"}
V1_COLUMNS = ("XYSpacing", "ZSpacing", "RescaleSlope", "RescaleIntercept")
V1_AXES = "LPS"  # array axes of v1 files (identity affine), as nibabel reports for v2
SUFFIX = ".nii.gz"
NAME = re.compile(r"^(train|valid)_(\d+)_([a-z]+)_(\d+)$")
HOW_TO_GET = (
    "download CT-RATE from https://huggingface.co/datasets/ibrahimhamamci/CT-RATE and lay it out "
    "as <root>/dataset/... (see docs/datasets.md)"
)


@dataclass
class _Split:
    layout: str
    folder: Path
    cases: list[CaseRef] = field(default_factory=list)
    rescale: dict[str, tuple[float, float, tuple[float, float, float]]] = field(
        default_factory=dict
    )


def data_dir_of(root: Path) -> Path:
    """``<root>/dataset``, or ``root`` itself when it already is that folder."""
    inner = [*FOLDERS["v2"].values(), *FOLDERS["v1"].values(), "radiology_text_reports"]
    if not (root / "dataset").is_dir() and any((root / name).is_dir() for name in inner):
        return root
    return root / "dataset"


def index_volumes(folder: Path) -> dict[str, Path]:
    """VolumeName stem -> file, found anywhere below ``folder`` (either scan-folder spelling)."""
    found: dict[str, Path] = {}
    for directory, subdirs, names in os.walk(folder):
        subdirs.sort()
        for name in sorted(names):
            if not name.endswith(SUFFIX):
                continue
            stem, path = name[: -len(SUFFIX)], Path(directory) / name
            if stem in found:
                raise DataError(
                    f"{path}: {name} also exists at {found[stem]} (keep one copy of each volume)"
                )
            found[stem] = path
    return found


def v1_rescale(metadata, r: int, label: str) -> tuple[float, float, tuple[float, float, float]]:
    """(slope, intercept, spacing along the L, P, S array axes) from a v1 metadata row."""

    def where(column: str) -> str:
        return f"{label} row {tables.row_number(r)}, column {column!r}"

    row = metadata.iloc[r]
    slope = tables.parse_number(row["RescaleSlope"], where("RescaleSlope"))
    intercept = tables.parse_number(row["RescaleIntercept"], where("RescaleIntercept"))
    xy = tables.parse_number_list(row["XYSpacing"], 2, where("XYSpacing"))
    z = tables.parse_number(row["ZSpacing"], where("ZSpacing"))
    if min(*xy, z) <= 0 or slope == 0:
        raise DataError(f"{where('XYSpacing')}: spacings and slope must be positive (fix the row)")
    return slope, intercept, (xy[0], xy[1], z)


class CTRateReader(DatasetReader):
    """CT-RATE v1/v2 volumes, reports, predicted labels, metadata and optional anatomy masks."""

    name = "ct-rate"
    description = "CT-RATE chest CT volumes with reports and 18 findings (v1 or v2 release)"

    def __init__(
        self,
        root: str | Path,
        *,
        dataset_name: str = "ct-rate",
        layout: str = "auto",
        mask_root: str | Path | None = None,
        mask_labels: str | Path | None = None,
        mask_merge: str | None = None,
        missing_volumes: str = "error",
    ) -> None:
        super().__init__(root)
        if layout not in ("auto", "v1", "v2"):
            raise UserError(f"layout={layout!r}: choose 'auto', 'v1' or 'v2'")
        if missing_volumes not in ("error", "skip"):
            raise UserError(f"missing_volumes={missing_volumes!r}: choose 'error' or 'skip'")
        self.name = dataset_name
        self.data_dir = data_dir_of(self.root)
        self.missing_volumes = missing_volumes
        manifest = masks.load_manifest(self.root)
        self.masks = masks.MaskSource.configure(
            self.root, mask_root, mask_labels, mask_merge, manifest
        )
        self._fingerprint: str | None = None
        self._splits: dict[str, _Split] = {}
        for split in SPLITS:
            found = self._find_folder(split, layout)
            if found is not None:
                self._splits[split] = _Split(*found)
        if not self._splits:
            expected = ", ".join(f"{f}/" for v in FOLDERS.values() for f in v.values())
            raise DataError(
                f"{self.data_dir}: no CT-RATE volume folders (expected one of {expected}); "
                + HOW_TO_GET
            )
        for split, info in self._splits.items():
            self._load_split(split, info)

    @classmethod
    def is_present(cls, root: str | Path) -> bool:
        data_dir = data_dir_of(Path(root))
        names = [*FOLDERS["v2"].values(), *FOLDERS["v1"].values()]
        return any((data_dir / name).is_dir() for name in names)

    def _find_folder(self, split: str, layout: str) -> tuple[str, Path] | None:
        order = ("v2", "v1") if layout in ("auto", "v2") else ("v1", "v2")
        for version in order:
            folder = self.data_dir / FOLDERS[version][split]
            if folder.is_dir():
                return (version if layout == "auto" else layout), folder
        return None

    def _csv(self, subfolder: str, name: str, required: list[str]):
        path = tables.require_file(
            self.data_dir / subfolder / name, "CSV", f"put {subfolder}/{name} from CT-RATE there"
        )
        label = tables.display(path, self.root)
        frame = tables.read_csv(path, required, label)
        frame["VolumeName"] = frame["VolumeName"].str.strip().str.removesuffix(SUFFIX)
        tables.check_unique(frame, "VolumeName", label)
        return frame, label

    def _check_names(self, frame, label: str, split: str) -> None:
        for i, name in zip(frame.index, frame["VolumeName"], strict=True):
            match = NAME.match(name)
            if match is None or match.group(1) != split:
                raise DataError(
                    f"{label} row {tables.row_number(i)}: VolumeName {name + SUFFIX!r} is not a "
                    f"{split} volume name like {split}_1_a_1{SUFFIX} (fix the row)"
                )

    def _load_split(self, split: str, info: _Split) -> None:
        findings = vocab.finding_names()
        labels, labels_at = self._csv(
            "multi_abnormality_labels", LABELS[split], ["VolumeName", *findings]
        )
        reports, reports_at = self._csv(
            "radiology_text_reports", REPORTS[split], ["VolumeName", *REPORT_SECTIONS]
        )
        metadata, metadata_at = None, ""
        if info.layout == "v1" or (self.data_dir / "metadata" / METADATA[split]).is_file():
            needed = ["VolumeName", *V1_COLUMNS] if info.layout == "v1" else ["VolumeName"]
            metadata, metadata_at = self._csv("metadata", METADATA[split], needed)
        for frame, label in ((labels, labels_at), (reports, reports_at)):
            self._check_names(frame, label, split)
        values = tables.binary_labels(labels, findings, "VolumeName", labels_at).to_numpy()
        texts = {s: [tables.clean_text(t) for t in reports[s]] for s in REPORT_SECTIONS}
        report_at = {name: r for r, name in enumerate(reports["VolumeName"])}
        label_names = list(labels["VolumeName"])
        known = set(label_names)
        for r, name in enumerate(reports["VolumeName"]):
            if name not in known:
                raise DataError(
                    f"{reports_at} row {tables.row_number(r)}: VolumeName {name + SUFFIX!r} has no "
                    f"row in {labels_at} (add its labels or drop the report row)"
                )
        files = index_volumes(info.folder)
        for stem, path in files.items():
            if stem not in known:
                raise DataError(
                    f"{path}: volume has no row in {labels_at} "
                    "(add its row to the CSVs or move the file out of the dataset)"
                )
        meta_at = {} if metadata is None else {n: r for r, n in enumerate(metadata["VolumeName"])}
        for r, name in enumerate(label_names):
            where = f"{labels_at} row {tables.row_number(r)}"
            if name not in report_at:
                raise DataError(
                    f"{where}: VolumeName {name + SUFFIX!r} has no row in {reports_at} "
                    "(add its report row)"
                )
            if name not in files:
                if self.missing_volumes == "skip":
                    continue
                raise DataError(
                    f"{where}: VolumeName {name + SUFFIX!r} has no file under "
                    f"{tables.display(info.folder, self.root)} (download it, or open the dataset "
                    "with missing_volumes='skip' to use only the volumes present)"
                )
            if info.layout == "v1":
                if name not in meta_at:
                    raise DataError(
                        f"{metadata_at}: no row for VolumeName {name + SUFFIX!r} (v1 volumes need "
                        "RescaleSlope, RescaleIntercept, XYSpacing and ZSpacing)"
                    )
                info.rescale[name] = v1_rescale(metadata, meta_at[name], metadata_at)
            report = {s: texts[s][report_at[name]] for s in REPORT_SECTIONS}
            labels_of = dict(zip(findings, values[r].tolist(), strict=True))
            info.cases.append(self._case(split, name, files[name], labels_of, report))

    def _case(self, split: str, name: str, path: Path, labels: dict, report: dict) -> CaseRef:
        _, patient, scan, recon = NAME.match(name).groups()
        mask = masks.locate(self.masks.root / path.relative_to(self.data_dir))
        return CaseRef(
            dataset=self.name,
            split=split,
            case_id=name,
            patient_id=f"{split}_{patient}",
            volume_path=path,
            mask_path=mask,
            labels=labels,
            report=report,
            meta={"layout": self._splits[split].layout, "scan": scan, "reconstruction": int(recon)},
        )

    def splits(self) -> list[str]:
        return list(self._splits)

    def layout(self, split: str) -> str:
        """How the volumes of ``split`` are converted to HU: "v1" or "v2"."""
        return self._split(split).layout

    def _split(self, split: str) -> _Split:
        if split not in self._splits:
            raise UserError(
                f"{self.name} at {self.root} has no split {split!r}: "
                f"{did_you_mean(split, self.splits())}"
            )
        return self._splits[split]

    def cases(self, split: str) -> list[CaseRef]:
        return list(self._split(split).cases)

    def labelled_findings(self) -> list[str]:
        return vocab.finding_names()

    def read_volume(self, case: CaseRef) -> Volume:
        info = self._split(case.split)
        if info.layout == "v2":
            stored, affine = voxels.load_nifti(case.volume_path)
            hu, spacing = voxels.canonical_from_affine(
                voxels.compact_hu(stored), affine, case.volume_path
            )
            return Volume(hu, spacing, "ct-rate v2: stored HU, header affine")
        raw, _ = voxels.load_nifti(case.volume_path)
        slope, intercept, spacing = info.rescale[case.case_id]
        if raw.dtype.kind in "iu" and slope == 1.0 and float(intercept).is_integer():
            hu = voxels.compact_hu(raw.astype(np.int32) + int(intercept))
        else:
            hu = raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)
        transform = voxels.axcodes_to_canonical(V1_AXES)
        return Volume(
            voxels.reorient(hu, transform),
            voxels.reorient_spacing(spacing, transform),
            "ct-rate v1: raw * RescaleSlope + RescaleIntercept, metadata spacing",
        )

    def read_anatomy_bits(self, case: CaseRef, anatomy_set: str) -> np.ndarray | None:
        if case.mask_path is None:
            return None
        shape, affine = voxels.nifti_header(case.volume_path)
        if self._split(case.split).layout == "v2":
            transform = voxels.orientation_to_canonical(affine)
        else:
            transform = voxels.axcodes_to_canonical(V1_AXES)

        def load(path: Path) -> np.ndarray:
            if path.name.endswith(".npz"):
                array = voxels.load_npz(path, masks.LABEL_KEY, "mask")
            else:
                array, _ = voxels.load_nifti(path, "mask")
            if array.shape != shape[:3]:
                raise DataError(
                    f"{path}: mask shape {array.shape} differs from the volume's {shape[:3]} "
                    "(write the mask on the volume's grid)"
                )
            return voxels.reorient(array, transform)

        return self.masks.bits(case.mask_path, anatomy_set, load)

    def input_files(self, case: CaseRef) -> tuple[list[Path], list[Path]]:
        return [case.volume_path], (
            [] if case.mask_path is None else masks.files_of(case.mask_path)
        )

    def voxel_options(self, case: CaseRef) -> dict[str, object]:
        info = self._split(case.split)
        options: dict[str, object] = {"reader": "ct-rate", "layout": info.layout}
        if info.layout == "v1":
            options["rescale"] = list(info.rescale[case.case_id])
        options["masks"] = self.masks.key()
        return options

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for split in self._splits:
                for subfolder, names in (
                    ("radiology_text_reports", REPORTS),
                    ("multi_abnormality_labels", LABELS),
                    ("metadata", METADATA),
                ):
                    path = self.data_dir / subfolder / names[split]
                    if path.is_file():
                        digest.update(f"{subfolder}/{names[split]}\0".encode())
                        digest.update(path.read_bytes())
                for case in sorted(self._splits[split].cases, key=lambda c: c.case_id):
                    size = case.volume_path.stat().st_size
                    digest.update(f"{case.case_id}\0{size}\0".encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint
