"""Reading voxel files (NIfTI, npz) safely into compact arrays in the canonical orientation.

Every failure of a file is one DataError naming it: a corrupt or truncated file, a wrong shape,
a non-numeric dtype, NaN or infinite voxels. Arrays never come out as float64: integer data keeps
a compact integer dtype, anything else becomes float32.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.orientations import apply_orientation, axcodes2ornt, io_orientation, ornt_transform

from cabench.data.base import CANONICAL_AXCODES
from cabench.errors import DataError

CANONICAL_ORNT = axcodes2ornt(tuple(CANONICAL_AXCODES))
_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, ImageFileError, zipfile.BadZipFile)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_array(array: np.ndarray, path: Path, what: str = "volume") -> np.ndarray:
    """A native-endian 3D numeric array; float64 becomes float32, NaN or inf is an error."""
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or min(array.shape) < 1:
        raise DataError(
            f"{path}: {what} has shape {tuple(array.shape)}, expected a 3D array "
            "(rewrite the file as one 3D volume)"
        )
    if array.dtype.kind not in "iuf" or array.dtype.itemsize > 8:
        raise DataError(
            f"{path}: {what} has dtype {array.dtype}, expected integer or float voxels "
            "(rewrite it as int16 HU)"
        )
    if array.dtype.kind == "f":
        array = array.astype(np.float32, copy=False)
        if not np.isfinite(array).all():
            bad = int(np.count_nonzero(~np.isfinite(array)))
            raise DataError(
                f"{path}: {what} has {bad} NaN or infinite voxels (re-export the volume; "
                "fill missing voxels with -1024 HU)"
            )
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def load_nifti(path: Path, what: str = "volume") -> tuple[np.ndarray, np.ndarray]:
    """Voxels (file's own scaling applied, compact dtype) and the 4x4 affine of a NIfTI file."""
    try:
        image = nib.load(str(path))
        proxy = image.dataobj
        slope = float(getattr(proxy, "slope", 1.0))
        inter = float(getattr(proxy, "inter", 0.0))
        if slope == 1.0 and inter == 0.0:
            array = np.asanyarray(proxy)
        else:  # the file's own scl_slope/scl_inter, applied in float32 (nibabel would use float64)
            array = np.asarray(proxy.get_unscaled()).astype(np.float32)
            array = array * np.float32(slope) + np.float32(inter)
        affine = np.asarray(image.affine, dtype=np.float64)
    except _READ_ERRORS as exc:
        raise DataError(
            f"{path}: corrupt or truncated NIfTI file ({_first_line(exc)}); re-download it"
        ) from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: {what} is not a plain voxel array (rewrite it as NIfTI-1)")
    return check_array(array, path, what), affine


def nifti_header(path: Path) -> tuple[tuple[int, ...], np.ndarray]:
    """Shape and affine from a NIfTI header only (no voxels read)."""
    try:
        image = nib.load(str(path))
        return tuple(int(s) for s in image.shape), np.asarray(image.affine, dtype=np.float64)
    except _READ_ERRORS as exc:
        raise DataError(
            f"{path}: corrupt or truncated NIfTI file ({_first_line(exc)}); re-download it"
        ) from None


def load_npz(path: Path, key: str, what: str = "volume") -> np.ndarray:
    """Array ``key`` of an npz file, without ever unpickling."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                raise DataError(
                    f"{path}: no array {key!r} in the npz (it holds {archive.files}); "
                    f"save the {what} under the key {key!r}"
                )
            array = archive[key]
    except DataError:
        raise
    except _READ_ERRORS as exc:
        raise DataError(
            f"{path}: corrupt or truncated npz file ({_first_line(exc)}); re-download it"
        ) from None
    return check_array(array, path, what)


def npz_shape(path: Path, key: str) -> tuple[int, ...]:
    """Shape of array ``key`` in an npz, read from the .npy header only."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
            major, _minor = np.lib.format.read_magic(member)
            if major == 1:
                shape, _, _ = np.lib.format.read_array_header_1_0(member)
            else:
                shape, _, _ = np.lib.format.read_array_header_2_0(member)
            return tuple(int(s) for s in shape)
    except KeyError:
        raise DataError(f"{path}: no array {key!r} in the npz (save it under {key!r})") from None
    except _READ_ERRORS as exc:
        raise DataError(
            f"{path}: corrupt or truncated npz file ({_first_line(exc)}); re-download it"
        ) from None


def orientation_to_canonical(affine: np.ndarray) -> np.ndarray:
    """nibabel orientation transform from an affine's nearest axes to canonical IPL."""
    return ornt_transform(io_orientation(affine), CANONICAL_ORNT)


def axcodes_to_canonical(axcodes: str) -> np.ndarray:
    """Orientation transform for an array whose axes are known by name (e.g. "LPS")."""
    return ornt_transform(axcodes2ornt(tuple(axcodes)), CANONICAL_ORNT)


def reorient(array: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """``array`` permuted and flipped by a nibabel orientation transform, C-contiguous."""
    return np.ascontiguousarray(apply_orientation(array, transform))


def reorient_spacing(spacing: tuple[float, ...], transform: np.ndarray) -> tuple[float, ...]:
    """Per-axis spacing carried along with :func:`reorient`."""
    out = [0.0, 0.0, 0.0]
    for source_axis, (target_axis, _flip) in enumerate(transform):
        out[int(target_axis)] = float(spacing[source_axis])
    return tuple(out)


def canonical_from_affine(
    array: np.ndarray, affine: np.ndarray, path: Path
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Voxels and spacing (mm, canonical axis order) of an array whose header affine is trusted."""
    sizes = nib.affines.voxel_sizes(affine)
    if not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
        raise DataError(f"{path}: the header affine has no usable voxel size (fix the header)")
    transform = orientation_to_canonical(affine)
    return reorient(array, transform), reorient_spacing(tuple(sizes), transform)


def compact_hu(values: np.ndarray) -> np.ndarray:
    """int16 where integer values fit, else float32 (never float64)."""
    if values.dtype.kind in "iu":
        if values.size == 0 or (values.min() >= -32768 and values.max() <= 32767):
            return values.astype(np.int16, copy=False)
        return values.astype(np.float32)
    return values.astype(np.float32, copy=False)
