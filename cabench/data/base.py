"""The contract every dataset reader fulfils, real or synthetic.

Volumes come out in one canonical orientation so models never see site-specific axis orders:
``CANONICAL_AXCODES = "IPL"`` in nibabel's convention (the letter names the direction an index
increases toward): axis 0 runs superior -> inferior (slice 0 is the most superior, as in
Rad-ChestCT), axis 1 anterior -> posterior (image rows, anterior at the top), axis 2 patient
right -> left (radiological display: the patient's right on the image's left).

Anatomy masks travel as a bit field: ``bits[d, h, w] & (1 << i)`` is set where anatomy ``i`` of the
anatomy set lies (anatomies may overlap; up to 8 anatomies fit a uint8).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CANONICAL_AXCODES = "IPL"
REPORT_SECTIONS = ("ClinicalInformation_EN", "Technique_EN", "Findings_EN", "Impressions_EN")


@dataclass(frozen=True)
class CaseRef:
    """One volume of a dataset, before any voxel is read."""

    dataset: str
    split: str
    case_id: str  # VolumeName without ".nii.gz" (CT-RATE) or NoteAcc_DEID (Rad-ChestCT)
    patient_id: str
    volume_path: Path
    mask_path: Path | None
    labels: Mapping[str, int]  # CT-RATE finding name -> 0/1, only findings this dataset labels
    report: Mapping[str, str] | None = None  # REPORT_SECTIONS -> text ("" where "Not given.")
    meta: Mapping[str, object] = field(default_factory=dict)


@dataclass
class Volume:
    """Voxels of one case in canonical orientation (see module docstring)."""

    hu: np.ndarray  # (D, H, W) HU as int16 or float32, never float64
    spacing: tuple[float, float, float]  # mm along (D, H, W)
    layout: str = ""  # how intensities were converted, e.g. "ct-rate v2 (stored HU)"


class DatasetReader(ABC):
    """Reads one dataset layout under ``root``; the same class serves real and synthetic data."""

    name: str = ""
    description: str = ""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def is_present(cls, root: str | Path) -> bool:
        """Cheap guess whether ``root`` holds this layout (for `cabench ls datasets`)."""
        root = Path(root)
        return root.is_dir() and any(root.iterdir())

    @abstractmethod
    def splits(self) -> list[str]:
        """Splits present on disk, e.g. ["train", "valid"]."""

    @abstractmethod
    def cases(self, split: str) -> list[CaseRef]:
        """Every case of ``split``, in a stable order."""

    @abstractmethod
    def labelled_findings(self) -> list[str]:
        """CT-RATE finding names this dataset has labels for, in CT-RATE order."""

    @abstractmethod
    def read_volume(self, case: CaseRef) -> Volume:
        """HU voxels in canonical orientation with their spacing."""

    @abstractmethod
    def read_anatomy_bits(self, case: CaseRef, anatomy_set: str) -> np.ndarray | None:
        """uint8 anatomy bit field on the volume's canonical grid, or None without masks."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A content hash of the dataset's label/report tables and volume list (short hex)."""

    def merged_findings(self) -> dict[str, tuple[str, ...]]:
        """Findings whose single label stands for several CT-RATE findings.

        ``{"Arterial wall calcification": ("Arterial wall calcification", "Coronary artery wall
        calcification")}`` tells the evaluation to score that label with the max of the two
        findings' predictions. Empty when every label is one finding.
        """
        return {}

    def input_files(self, case: CaseRef) -> tuple[list[Path], list[Path]]:
        """Files the voxels and the anatomy bits of ``case`` are read from (hashed by caches)."""
        masks = [case.mask_path] if case.mask_path is not None and case.mask_path.is_file() else []
        return [case.volume_path], masks

    def voxel_options(self, case: CaseRef) -> dict[str, object]:
        """JSON-able settings, besides the files, that change this case's voxels or bits."""
        return {}
