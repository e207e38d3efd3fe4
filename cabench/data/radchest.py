"""The Rad-ChestCT reader (serves `rad-chestct` and `synth-rad-chestct`; see
shared/formats/Rad-ChestCT.md).

Opening checks the tables (cheap): the label files with their ``abnormality*location`` headers
parsed generically, 0/1 values, duplicates, the optional summary, and that every labelled case has
an npz and every npz a label row. Reading a volume checks the voxels (key ``ct``, 3D, numeric, no
NaN). Volumes are stored in canonical IPL order already; no report text exists.

Calcification: the single Rad-ChestCT ``calcification`` label feeds two CT-RATE findings. With
``calcification="duplicate"`` (default) both findings carry it and are scored separately. With
``"merge"`` only "Arterial wall calcification" is labelled and :meth:`merged_findings` tells the
evaluation to score it with the max of the two findings' predictions (recorded in each case's meta).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cabench import vocab
from cabench.data import masks, tables, voxels
from cabench.data.base import CaseRef, DatasetReader, Volume
from cabench.errors import DataError, UserError
from cabench.registry import did_you_mean

SPLITS = ("train", "valid", "test")
LABEL_FILES = {s: f"img{s}_Abnormality_and_Location_Labels.csv" for s in SPLITS}
SUMMARY_PREFIX = "Summary_"
SUMMARY_COLUMNS = ("MRN_DEID", "NoteAcc_DEID", "Set_Assigned", "Subset_Assigned")
KEY = "NoteAcc_DEID"
DEFAULT_SPACING = 0.8
SKIP_FOLDERS = {"anatomy_masks", "cabench_synth"}
HOW_TO_GET = (
    "download Rad-ChestCT from https://zenodo.org/records/6406114 (npz volumes and the "
    "img*_Abnormality_and_Location_Labels.csv files) into the root (see docs/datasets.md)"
)


def collapse(matrix: np.ndarray, headers: Sequence[str]) -> dict[str, np.ndarray]:
    """abnormality -> per-case max over its ``abnormality*location`` columns (any location list)."""
    groups: dict[str, list[int]] = {}
    for j, header in enumerate(headers):
        groups.setdefault(header.split("*", 1)[0].strip(), []).append(j)
    return {abn: matrix[:, idx].max(axis=1) for abn, idx in groups.items()}


def _parse_spacing(value: object) -> tuple[float, float, float]:
    values = [value] * 3 if isinstance(value, (int, float)) else list(value)  # type: ignore[arg-type]
    if len(values) != 3 or not all(isinstance(v, (int, float)) and v > 0 for v in values):
        raise UserError(f"spacing={value!r}: give one positive number or three (D, H, W) in mm")
    return tuple(float(v) for v in values)  # type: ignore[return-value]


class RadChestReader(DatasetReader):
    """Rad-ChestCT npz volumes with abnormality labels mapped to the CT-RATE findings."""

    name = "rad-chestct"
    description = "Rad-ChestCT chest CT volumes with 84 abnormality labels (external test set)"

    def __init__(
        self,
        root: str | Path,
        *,
        dataset_name: str = "rad-chestct",
        calcification: str = "duplicate",
        spacing: float | Sequence[float] | None = None,
        mask_root: str | Path | None = None,
        mask_labels: str | Path | None = None,
        mask_merge: str | None = None,
        missing_volumes: str = "error",
    ) -> None:
        super().__init__(root)
        if calcification not in ("duplicate", "merge"):
            raise UserError(f"calcification={calcification!r}: choose 'duplicate' or 'merge'")
        if missing_volumes not in ("error", "skip"):
            raise UserError(f"missing_volumes={missing_volumes!r}: choose 'error' or 'skip'")
        if not self.root.is_dir():
            raise DataError(f"{self.root}: folder not found; " + HOW_TO_GET)
        self.name = dataset_name
        self.calcification = calcification
        self.missing_volumes = missing_volumes
        manifest = masks.load_manifest(self.root)
        if spacing is not None:
            self.spacing = _parse_spacing(spacing)
        elif manifest is not None and manifest.get("spacing_mm") is not None:
            self.spacing = _parse_spacing(manifest["spacing_mm"])
        else:
            self.spacing = (DEFAULT_SPACING,) * 3
        self.masks = masks.MaskSource.configure(
            self.root, mask_root, mask_labels, mask_merge, manifest
        )
        self._fingerprint: str | None = None
        self._files, self._label_files, self._summaries = self._index()
        self._findings, self._merged = self._finding_plan()
        self._cases: dict[str, list[CaseRef]] = {}
        self._load()

    @classmethod
    def is_present(cls, root: str | Path) -> bool:
        root = Path(root)
        if not root.is_dir():
            return False
        patterns = [
            "*.npz",
            "*/*.npz",
            *LABEL_FILES.values(),
            *(f"*/{n}" for n in LABEL_FILES.values()),
        ]
        return any(next(root.glob(pattern), None) is not None for pattern in patterns)

    def _index(self) -> tuple[dict[str, Path], dict[str, Path], list[Path]]:
        files: dict[str, Path] = {}
        label_files: dict[str, Path] = {}
        summaries: list[Path] = []
        wanted = {name: split for split, name in LABEL_FILES.items()}
        skip = {self.masks.root.resolve()}
        for directory, subdirs, names in os.walk(self.root):
            subdirs[:] = sorted(
                d
                for d in subdirs
                if d not in SKIP_FOLDERS and (Path(directory) / d).resolve() not in skip
            )
            for name in sorted(names):
                path = Path(directory) / name
                if name.endswith(".npz"):
                    stem = name[: -len(".npz")]
                    if stem in files:
                        raise DataError(f"{path}: {name} also exists at {files[stem]} (keep one)")
                    files[stem] = path
                elif name in wanted:
                    if wanted[name] in label_files:
                        raise DataError(
                            f"{path}: {name} also exists at {label_files[wanted[name]]} (keep one)"
                        )
                    label_files[wanted[name]] = path
                elif name.startswith(SUMMARY_PREFIX) and name.endswith(".csv"):
                    summaries.append(path)
        if not label_files:
            raise DataError(
                f"{self.root}: no label file (expected {LABEL_FILES['test']} or its train/valid "
                "siblings); " + HOW_TO_GET
            )
        if len(summaries) > 1:
            raise DataError(
                f"{summaries[1]}: a second summary CSV beside {summaries[0]} (keep one)"
            )
        return files, label_files, summaries

    def _finding_plan(self) -> tuple[list[tuple[str, tuple[str, ...]]], dict[str, tuple[str, ...]]]:
        """(finding, source abnormalities) in CT-RATE order, and the merged groups."""
        sources: dict[str, list[str]] = {}
        for abnormality, finding in vocab.radchestct_map():
            sources.setdefault(finding, []).append(abnormality)
        plan = [(f, tuple(sources[f])) for f in vocab.finding_names() if f in sources]
        merged: dict[str, tuple[str, ...]] = {}
        if self.calcification == "merge":
            kept: list[tuple[str, tuple[str, ...]]] = []
            for finding, abn in plan:
                twin = next((k for k, a in kept if a == abn), None)
                if twin is None:
                    kept.append((finding, abn))
                else:
                    merged[twin] = (*merged.get(twin, (twin,)), finding)
            plan = kept
        return plan, merged

    def _summary(self) -> dict[str, tuple[str, str, int]]:
        if not self._summaries:
            return {}
        path = self._summaries[0]
        label = tables.display(path, self.root)
        frame = tables.read_csv(path, SUMMARY_COLUMNS, label)
        frame[KEY] = frame[KEY].str.strip()
        tables.check_unique(frame, KEY, label)
        return {
            row[KEY]: (
                row["MRN_DEID"].strip(),
                row["Subset_Assigned"].strip(),
                tables.row_number(i),
            )
            for i, row in frame.iterrows()
        }

    def _load(self) -> None:
        summary = self._summary()
        seen: dict[str, str] = {}
        for split in SPLITS:
            if split in self._label_files:
                self._cases[split] = self._load_split(split, summary, seen)
        for stem, path in self._files.items():
            if stem not in seen:
                raise DataError(
                    f"{path}: volume has no row in any img*_Abnormality_and_Location_Labels.csv "
                    "(add its labels or move the file out of the dataset)"
                )

    def _load_split(self, split: str, summary: dict, seen: dict[str, str]) -> list[CaseRef]:
        path = self._label_files[split]
        label = tables.display(path, self.root)
        frame = tables.read_csv(path, [KEY], label, dtype={KEY: str})
        frame[KEY] = frame[KEY].astype(str).str.strip()
        tables.check_unique(frame, KEY, label)
        headers = [str(c) for c in frame.columns if c != KEY]
        matrix = tables.binary_labels(frame, headers, KEY, label).to_numpy()
        by_abnormality = collapse(matrix, headers)
        labels: dict[str, np.ndarray] = {}
        for finding, abnormalities in self._findings:
            for abnormality in abnormalities:
                if abnormality not in by_abnormality:
                    hint = did_you_mean(abnormality, sorted(by_abnormality))
                    raise DataError(
                        f"{label}: no column for abnormality {abnormality!r} (expected headers "
                        f"like '{abnormality}*<location>'; {hint})"
                    )
            labels[finding] = np.max([by_abnormality[a] for a in abnormalities], axis=0)
        subset = f"img{split}"
        cases = []
        for r, (i, case_id) in enumerate(zip(frame.index, frame[KEY], strict=True)):
            where = f"{label} row {tables.row_number(i)}"
            if case_id in seen:
                raise DataError(f"{where}: {KEY} {case_id!r} is also labelled in {seen[case_id]}")
            seen[case_id] = label
            patient = case_id
            if summary:
                if case_id not in summary:
                    raise DataError(
                        f"{self._summaries[0]}: no row for {KEY} {case_id!r} (listed in {where}); "
                        "add it"
                    )
                patient, assigned, row = summary[case_id]
                if assigned != subset:
                    raise DataError(
                        f"{self._summaries[0]} row {row}: Subset_Assigned {assigned!r} for "
                        f"{case_id!r}, but it is labelled in {label} (expected {subset!r})"
                    )
            if case_id not in self._files:
                if self.missing_volumes == "skip":
                    continue
                raise DataError(
                    f"{where}: {KEY} {case_id!r} has no file {case_id}.npz under {self.root} "
                    "(download it, or open the dataset with missing_volumes='skip')"
                )
            meta: dict[str, object] = {
                "layout": "npz",
                "subset": subset,
                "calcification": self.calcification,
            }
            if self._merged:
                meta["merged_findings"] = {k: list(v) for k, v in self._merged.items()}
            cases.append(
                CaseRef(
                    dataset=self.name,
                    split=split,
                    case_id=case_id,
                    patient_id=patient,
                    volume_path=self._files[case_id],
                    mask_path=self._mask_of(case_id),
                    labels={f: int(v[r]) for f, v in labels.items()},
                    report=None,
                    meta=meta,
                )
            )
        return cases

    def _mask_of(self, case_id: str) -> Path | None:
        return masks.locate(self.masks.root / f"{case_id}.npz") or masks.locate(
            self.masks.root / f"{case_id}.nii.gz"
        )

    def splits(self) -> list[str]:
        return list(self._cases)

    def cases(self, split: str) -> list[CaseRef]:
        if split not in self._cases:
            raise UserError(
                f"{self.name} at {self.root} has no split {split!r}: "
                f"{did_you_mean(split, self.splits())}"
            )
        return list(self._cases[split])

    def labelled_findings(self) -> list[str]:
        return [finding for finding, _ in self._findings]

    def merged_findings(self) -> dict[str, tuple[str, ...]]:
        return dict(self._merged)

    def read_volume(self, case: CaseRef) -> Volume:
        hu = voxels.compact_hu(voxels.load_npz(case.volume_path, "ct"))
        mm = "x".join(f"{s:g}" for s in self.spacing)
        return Volume(hu, self.spacing, f"rad-chestct npz: stored HU, {mm} mm")

    def read_anatomy_bits(self, case: CaseRef, anatomy_set: str) -> np.ndarray | None:
        if case.mask_path is None:
            return None
        shape = voxels.npz_shape(case.volume_path, "ct")

        def load(path: Path) -> np.ndarray:
            if path.name.endswith(".npz"):
                array = voxels.load_npz(path, masks.LABEL_KEY, "mask")
            else:  # a NIfTI mask is taken on the npz's array grid as stored (no reorientation)
                array, _ = voxels.load_nifti(path, "mask")
            if array.shape != shape:
                raise DataError(
                    f"{path}: mask shape {array.shape} differs from the volume's {shape} "
                    "(write the mask on the volume's grid)"
                )
            return np.ascontiguousarray(array)

        return self.masks.bits(case.mask_path, anatomy_set, load)

    def input_files(self, case: CaseRef) -> tuple[list[Path], list[Path]]:
        return [case.volume_path], (
            [] if case.mask_path is None else masks.files_of(case.mask_path)
        )

    def voxel_options(self, case: CaseRef) -> dict[str, object]:
        return {"reader": "rad-chestct", "spacing": list(self.spacing), "masks": self.masks.key()}

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for path in [*(self._label_files[s] for s in self._cases), *self._summaries]:
                digest.update(f"{path.name}\0".encode())
                digest.update(path.read_bytes())
            for case_id in sorted(c.case_id for cases in self._cases.values() for c in cases):
                size = self._files[case_id].stat().st_size
                digest.update(f"{case_id}\0{size}\0".encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint
