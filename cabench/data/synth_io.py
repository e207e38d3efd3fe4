"""Byte-reproducible writers for the synthetic sites: npz, NIfTI and CSV.

``np.savez_compressed`` stamps each zip member with the current time, so two runs differ; the npz
here is the same format (a zip of ``.npy`` members, deflated) with a fixed timestamp. nibabel's
gzip writer already fixes the gzip mtime to 0 and omits the file name; a test guards that.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_npz(path: Path, compresslevel: int = 6, **arrays: np.ndarray) -> None:
    """Write arrays like ``np.savez_compressed`` (readable by ``np.load``), reproducibly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
            archive.writestr(info, buffer.getvalue(), compresslevel=compresslevel)


def save_nifti(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    """Write a .nii.gz with the affine as both qform and sform (scanner coordinates, mm)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    image.to_filename(str(path))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A CSV with standard quoting (reports hold commas and quotes) and ``\\n`` line ends.

    With ``\\n`` as line end the csv module does not quote a lone ``\\r``; rows holding one
    are written fully quoted so they read back unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        quoted = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        for row in rows:
            carriage = any(isinstance(v, str) and "\r" in v for v in row)
            (quoted if carriage else writer).writerow(row)
