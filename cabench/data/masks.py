"""Anatomy masks: from a label map or a folder of per-class files to the anatomy bit field.

Three mask forms are read, for one case, at the path the reader computes in the mask tree:

1. a label map (``.nii.gz`` or ``.npz`` with key ``labels``) whose values are named by the
   synthetic manifest's ``structures`` (merged with the anatomy set's ``merge.synthetic``);
2. the same with a user label table ``mask_labels=PATH`` (JSON ``{"1": "lung_upper_lobe_left"}``),
   merged with ``merge.totalsegmentator``;
3. a folder ``<mask path without .nii.gz>/<class>.nii.gz`` of binary masks, as TotalSegmentator
   writes by default, merged by class name with ``merge.totalsegmentator``.

``mask_merge=KEY`` picks another merge table of the anatomy set (e.g. a user's ``radgenome``).
The bit field has bit ``i`` set where anatomy ``i`` of the set lies (see cabench.data.base).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cabench import vocab
from cabench.errors import DataError, UserError
from cabench.registry import did_you_mean

MANIFEST = "cabench_synth.json"
LABEL_KEY = "labels"
Loader = Callable[[Path], np.ndarray]  # mask file -> array on the volume's canonical grid


def load_manifest(root: Path) -> dict | None:
    """The synthetic generator's manifest ``<root>/cabench_synth.json``, or None for real data."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); regenerate the dataset") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object; regenerate the dataset")
    return data


def parse_label_table(data: object, source: str) -> dict[int, str]:
    """``{value: structure name}`` from JSON-like data with string or integer keys."""
    if not isinstance(data, dict) or not data:
        raise UserError(f'{source}: expected a JSON object {{value: name}}, e.g. {{"1": "lung"}}')
    table = {}
    for key, name in data.items():
        try:
            value = int(key)
        except (TypeError, ValueError):
            raise UserError(
                f"{source}: label {key!r} is not an integer (use {{value: name}})"
            ) from None
        if value < 0 or not isinstance(name, str) or not name:
            raise UserError(f"{source}: label {key!r} -> {name!r} needs a value >= 0 and a name")
        table[value] = name
    return table


def load_label_table(path: str | Path) -> dict[int, str]:
    """A user's label table file (JSON ``{value: name}``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: mask label table not found (pass mask_labels=PATH to a JSON file)"
        )
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); write {{value: name}}") from None
    return parse_label_table(data, str(path))


def anatomies_of(anatomy_set: str) -> vocab.AnatomySet:
    """The anatomy set, checked to fit a uint8 bit field."""
    aset = vocab.anatomy_set(anatomy_set)
    if len(aset.anatomies) > 8:
        raise UserError(f"anatomy set {aset.name!r} has {len(aset.anatomies)} anatomies; at most 8")
    return aset


def merge_table(aset: vocab.AnatomySet, source: str) -> dict[str, tuple[str, ...]]:
    """anatomy -> structure names for one mask source, from the anatomy set's ``merge``."""
    if source not in aset.merge:
        raise UserError(
            f"anatomy set {aset.name!r} has no merge table {source!r} "
            f"({did_you_mean(source, sorted(aset.merge))}; add one under merge:)"
        )
    return aset.merge[source]


def label_lut(table: dict[int, str], aset: vocab.AnatomySet, merge: dict) -> np.ndarray:
    """Lookup table label value -> anatomy bits (a structure may feed several anatomies)."""
    lut = np.zeros(max(table, default=0) + 1, dtype=np.uint8)
    for bit, anatomy in enumerate(aset.anatomies):
        wanted = set(merge.get(anatomy, ()))
        for value, name in table.items():
            if name in wanted:
                lut[value] |= np.uint8(1 << bit)
    return lut


def as_labels(array: np.ndarray, path: Path) -> np.ndarray:
    """An integer label array; float files are accepted only with whole, non-negative values."""
    if array.dtype.kind == "f":
        if not np.array_equal(array, np.round(array)):
            raise DataError(f"{path}: mask has non-integer values (write integer labels)")
        array = array.astype(np.int64)
    if array.size and array.min() < 0:
        raise DataError(f"{path}: mask has negative labels (write labels >= 0)")
    return array


def locate(label_map: Path) -> Path | None:
    """The mask of one case: the label-map file if present, else the per-class folder, else None."""
    if label_map.is_file():
        return label_map
    name = label_map.name
    for suffix in (".nii.gz", ".npz", ".nii"):
        if name.endswith(suffix):
            folder = label_map.with_name(name[: -len(suffix)])
            if folder.is_dir():
                return folder
    return None


def files_of(mask: Path) -> list[Path]:
    """The files a mask is read from (for content hashing)."""
    return sorted(mask.glob("*.nii.gz")) if mask.is_dir() else [mask]


@dataclass(frozen=True)
class MaskSource:
    """Where a dataset's masks live and how their labels are named."""

    root: Path
    table: dict[int, str] | None  # names of label-map values
    table_origin: str  # where the table came from, for messages
    table_merge: str  # merge key for label maps
    class_merge: str  # merge key for per-class folders

    @classmethod
    def configure(
        cls,
        dataset_root: Path,
        mask_root: str | Path | None = None,
        mask_labels: str | Path | None = None,
        mask_merge: str | None = None,
        manifest: dict | None = None,
    ) -> MaskSource:
        root = Path(mask_root) if mask_root is not None else dataset_root / "anatomy_masks"
        if mask_root is not None and not root.is_dir():
            raise UserError(f"{root}: mask folder not found (check mask_root)")
        if mask_labels is not None:
            table, origin, merge = (
                load_label_table(mask_labels),
                str(mask_labels),
                "totalsegmentator",
            )
        elif manifest is not None and manifest.get("structures"):
            origin = f"{dataset_root / MANIFEST} structures"
            table, merge = parse_label_table(manifest["structures"], origin), "synthetic"
        else:
            table, origin, merge = None, "", "totalsegmentator"
        return cls(root, table, origin, mask_merge or merge, mask_merge or "totalsegmentator")

    def key(self) -> dict[str, object]:
        """What about the masks, besides their files, changes the bits (for cache keys)."""
        table = {str(k): v for k, v in sorted((self.table or {}).items())}
        return {"table": table, "table_merge": self.table_merge, "class_merge": self.class_merge}

    def bits(self, mask: Path, anatomy_set: str, load: Loader) -> np.ndarray:
        """uint8 anatomy bits of one case's mask (file or per-class folder)."""
        aset = anatomies_of(anatomy_set)
        if mask.is_dir():
            return self._bits_from_classes(mask, aset, load)
        if self.table is None:
            raise UserError(
                f"{mask}: a label map needs a label table: pass mask_labels=PATH to a JSON file "
                '{"1": "lung_upper_lobe_left", ...} (TotalSegmentator writes it with --ml)'
            )
        labels = as_labels(load(mask), mask)
        lut = label_lut(self.table, aset, merge_table(aset, self.table_merge))
        if labels.size and int(labels.max()) >= lut.size:
            lut = np.concatenate([lut, np.zeros(int(labels.max()) + 1 - lut.size, np.uint8)])
        return lut[labels]

    def _bits_from_classes(self, folder: Path, aset: vocab.AnatomySet, load: Loader) -> np.ndarray:
        merge = merge_table(aset, self.class_merge)
        available = {p.name.removesuffix(".nii.gz"): p for p in folder.glob("*.nii.gz")}
        wanted = sorted({s for structures in merge.values() for s in structures} & set(available))
        if not wanted:
            named = sorted({s for structures in merge.values() for s in structures})
            raise DataError(
                f"{folder}: none of the class files {named} "
                f"that merge.{self.class_merge} of anatomy set {aset.name!r} names "
                "(pass mask_merge=KEY for another merge table)"
            )
        bits = None
        for name in wanted:
            inside = as_labels(load(available[name]), available[name]) > 0
            if bits is None:
                bits = np.zeros(inside.shape, dtype=np.uint8)
            elif inside.shape != bits.shape:
                raise DataError(
                    f"{available[name]}: shape {inside.shape} differs from the other class "
                    f"files' {bits.shape} (rewrite the masks on the volume's grid)"
                )
            for bit, anatomy in enumerate(aset.anatomies):
                if name in merge.get(anatomy, ()):
                    bits[inside] |= np.uint8(1 << bit)
        return bits
