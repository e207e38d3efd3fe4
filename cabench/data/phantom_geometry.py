"""The phantom's voxel grid in body-frame millimetres, and fast shape rasterisers.

The body frame is the patient's: ``z`` runs superior -> inferior, ``y`` anterior -> posterior,
``x`` patient right -> left (mm), the same directions as the canonical array axes (D, H, W). A
:class:`Grid` places a volume in that frame: spacing, the body point at the grid centre, and a small
in-plane rotation of the patient. Everything is built from millimetres, so any shape or spacing
renders the same anatomy. Shapes are rasterised only inside their bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

Slices = tuple[slice, slice, slice]


@dataclass(frozen=True)
class Grid:
    """A (D, H, W) voxel grid placed in the body frame."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)  # body (z, y, x) at the grid centre
    angle_deg: float = 0.0  # in-plane rotation of the patient relative to the grid

    @cached_property
    def _rot(self) -> np.ndarray:
        a = np.deg2rad(self.angle_deg)
        return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])

    def _grid_offsets(self, axis: int, sl: slice = slice(None)) -> np.ndarray:
        n = self.shape[axis]
        idx = np.arange(n)[sl]
        return ((idx - (n - 1) / 2.0) * self.spacing[axis]).astype(np.float32)

    def coords(self, sl: Slices | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Body-frame (z, y, x) of the voxels in ``sl``: z is (d,1,1), y and x are (1,h,w)."""
        sl = sl or (slice(None),) * 3
        gz = self._grid_offsets(0, sl[0]) + np.float32(self.centre[0])
        gy = self._grid_offsets(1, sl[1])[:, None]
        gx = self._grid_offsets(2, sl[2])[None, :]
        r = self._rot.astype(np.float32)
        y = r[0, 0] * gy + r[0, 1] * gx + np.float32(self.centre[1])
        x = r[1, 0] * gy + r[1, 1] * gx + np.float32(self.centre[2])
        return gz[:, None, None], y[None], x[None]

    def scanner_yx(self) -> tuple[np.ndarray, np.ndarray]:
        """In-plane (y, x) of the voxels in the scanner's frame (unrotated; the table's)."""
        gy = self._grid_offsets(1)[:, None] + np.float32(self.centre[1])
        gx = self._grid_offsets(2)[None, :] + np.float32(self.centre[2])
        return gy[None], gx[None]

    def to_index(self, points: np.ndarray) -> np.ndarray:
        """Fractional voxel indices (n, 3) of body-frame points (n, 3) given as (z, y, x)."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64)) - np.asarray(self.centre)
        gyx = p[:, 1:] @ self._rot  # inverse rotation: R^T applied to row vectors
        g = np.column_stack([p[:, 0], gyx])
        return g / np.asarray(self.spacing) + (np.asarray(self.shape) - 1) / 2.0

    def to_body(self, index: np.ndarray) -> np.ndarray:
        """Body-frame (z, y, x) of fractional voxel indices (n, 3)."""
        g = (np.atleast_2d(index) - (np.asarray(self.shape) - 1) / 2.0) * np.asarray(self.spacing)
        yx = g[:, 1:] @ self._rot.T
        return np.column_stack([g[:, 0], yx]) + np.asarray(self.centre)

    def box(self, centre: np.ndarray, half: np.ndarray) -> Slices | None:
        """Index slices covering the body-frame box ``centre +- half`` (None when outside)."""
        c = np.asarray(centre, dtype=float)
        h = np.asarray(half, dtype=float)
        corners = np.array([[sz, sy, sx] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)])
        idx = self.to_index(c + corners * h)
        lo = np.maximum(np.floor(idx.min(axis=0)).astype(int) - 1, 0)
        hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 2, self.shape)
        if np.any(hi <= lo):
            return None
        return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))  # type: ignore[return-value]


def rotation(yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> np.ndarray:
    """3x3 rotation acting on (z, y, x) vectors: yaw about z, then pitch about y."""
    a, b = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
    yaw = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    pitch = np.array([[np.cos(b), 0, -np.sin(b)], [0, 1, 0], [np.sin(b), 0, np.cos(b)]])
    return pitch @ yaw


def ellipsoid(
    grid: Grid,
    centre: np.ndarray,
    semi: np.ndarray,
    rot: np.ndarray | None = None,
    level: float = 1.0,
) -> np.ndarray:
    """Boolean mask of an ellipsoid (semi-axes along its own (z, y, x), rotated by ``rot``)."""
    out = np.zeros(grid.shape, dtype=bool)
    semi = np.asarray(semi, dtype=float) * np.sqrt(level)
    sl = grid.box(centre, np.full(3, semi.max()))
    if sl is None:
        return out
    z, y, x = grid.coords(sl)
    dz, dy, dx = z - centre[0], y - centre[1], x - centre[2]
    if rot is not None:  # local = rot^T @ (p - c)
        r = rot.astype(np.float32)
        dz, dy, dx = (
            r[0, 0] * dz + r[1, 0] * dy + r[2, 0] * dx,
            r[0, 1] * dz + r[1, 1] * dy + r[2, 1] * dx,
            r[0, 2] * dz + r[1, 2] * dy + r[2, 2] * dx,
        )
    f = (dz / semi[0]) ** 2 + (dy / semi[1]) ** 2 + (dx / semi[2]) ** 2
    out[sl] = f <= 1.0
    return out


def resample_polyline(points: np.ndarray, step: float) -> np.ndarray:
    """Points along a polyline (n, 3) spaced at most ``step`` mm apart, ends included."""
    points = np.asarray(points, dtype=float)
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.ceil(cum[-1] / max(step, 1e-6))) + 1, 2)
    t = np.linspace(0.0, cum[-1], n)
    return np.column_stack([np.interp(t, cum, points[:, k]) for k in range(3)])


def balls(grid: Grid, centres: np.ndarray, radii: np.ndarray | float) -> np.ndarray:
    """Voxels within ``radius`` mm of any centre, plus each centre's own voxel (so thin tubes and
    small blobs never vanish on a coarse grid). Returns a boolean mask."""
    shape = np.asarray(grid.shape)
    centres = np.atleast_2d(np.asarray(centres, dtype=float))
    radii = np.round(np.broadcast_to(np.asarray(radii, dtype=float), (len(centres),)), 2)
    spacing = np.asarray(grid.spacing)
    pad = int(np.ceil(radii.max() / spacing.min())) + 1 if len(centres) else 0
    out = np.zeros(tuple(shape + 2 * pad), dtype=bool)
    idx = grid.to_index(centres) if len(centres) else np.zeros((0, 3))
    base_all = np.rint(idx).astype(np.int64)
    near = ((base_all >= -pad) & (base_all < shape + pad)).all(1)
    for r in np.unique(radii[near]):
        sel = near & (radii == r)
        base = base_all[sel]
        frac = (base - idx[sel]) * spacing  # centre -> voxel offset of the base voxel, in mm
        offs, offs_mm, zero = _offsets(float(r), grid.spacing)
        d2 = (frac[:, None, 0] + offs_mm[None, :, 0]) ** 2
        d2 += (frac[:, None, 1] + offs_mm[None, :, 1]) ** 2
        d2 += (frac[:, None, 2] + offs_mm[None, :, 2]) ** 2
        keep = d2 <= r * r
        keep[:, zero] = True
        i, j = np.nonzero(keep)
        c = base[i] + offs[j] + pad
        c = c[((c >= 0) & (c < shape + 2 * pad)).all(1)]
        out[c[:, 0], c[:, 1], c[:, 2]] = True
    return out[pad : pad + shape[0], pad : pad + shape[1], pad : pad + shape[2]]


@lru_cache(maxsize=256)
def _offsets(radius: float, spacing: tuple[float, float, float]) -> tuple:
    """Voxel offsets (k, 3) that may lie within ``radius`` mm, in voxels and in mm, and the
    index of the zero offset."""
    ext = np.ceil(radius / np.asarray(spacing)).astype(int) + 1
    axes = [np.arange(-e, e + 1) for e in ext]
    offs = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    offs_mm = offs * np.asarray(spacing)
    return offs, offs_mm, int(np.flatnonzero((offs == 0).all(1))[0])


def tube(grid: Grid, path: np.ndarray, radius: float) -> np.ndarray:
    """A tube of ``radius`` mm around a polyline given in body-frame millimetres."""
    return balls(grid, resample_polyline(path, tube_step(grid, radius)), radius)


def tube_step(grid: Grid, radius: float) -> float:
    """Centreline sampling step: dense enough for a smooth wall and for one voxel per step."""
    finest = min(grid.spacing)
    return 0.7 * min(finest, max(radius, 0.5 * finest))


def dilate(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Six-neighbour binary dilation by array shifts (several times faster than ndimage here)."""
    out = mask.copy()
    for _ in range(iterations):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        grown[:, :, 1:] |= out[:, :, :-1]
        grown[:, :, :-1] |= out[:, :, 1:]
        out = grown
    return out


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], cells: float) -> np.ndarray:
    """Smooth random field: unit Gaussian noise on a coarse lattice of about ``cells`` voxels per
    cell, interpolated linearly to ``shape`` (in-plane by two small matrix products per coarse
    slice, then between coarse slices)."""
    coarse = [max(2, int(np.ceil(n / cells)) + 1) for n in shape]
    lattice = rng.standard_normal(coarse).astype(np.float32)
    mats = []
    for n, c in zip(shape, coarse, strict=True):
        pos = np.linspace(0, c - 1, n)
        lo = np.minimum(np.floor(pos).astype(int), c - 2)
        w = (pos - lo).astype(np.float32)
        mats.append((lo, w))
    (lz, wz), (ly, wy), (lx, wx) = mats

    def interp(n: int, c: int, lo: np.ndarray, w: np.ndarray) -> np.ndarray:
        m = np.zeros((n, c), dtype=np.float32)
        m[np.arange(n), lo] = 1 - w
        m[np.arange(n), lo + 1] = w
        return m

    my = interp(shape[1], coarse[1], ly, wy)
    mx = interp(shape[2], coarse[2], lx, wx)
    plane = np.matmul(my, lattice @ mx.T)  # (coarse z, H, W)
    return plane[lz] * (1 - wz)[:, None, None] + plane[lz + 1] * wz[:, None, None]


def label_mask(labels: np.ndarray, values) -> np.ndarray:
    """``np.isin(labels, values)`` for a uint8 label map, by table lookup (several times faster)."""
    table = np.zeros(256, dtype=bool)
    table[list(values)] = True
    return np.take(table, labels)


def nearest_voxel(mask: np.ndarray, index: np.ndarray, spacing: tuple[float, ...]) -> tuple:
    """The voxel of ``mask`` closest (in mm) to the fractional ``index``; None if mask is empty."""
    where = np.argwhere(mask)
    if len(where) == 0:
        return None
    d2 = (((where - np.asarray(index)) * np.asarray(spacing)) ** 2).sum(1)
    return tuple(int(v) for v in where[int(np.argmin(d2))])


def lattice_noise(seed: int, points: np.ndarray, cell: float, extent: float = 260.0) -> np.ndarray:
    """Smooth noise at body-frame points (n, 3), defined in millimetres (a Gaussian lattice of
    ``cell`` mm, trilinear), so every grid of a scan sees the same pattern."""
    from scipy.ndimage import map_coordinates

    n = int(np.ceil(2 * extent / cell)) + 2
    lattice = np.random.default_rng(seed).standard_normal((n, n, n), dtype=np.float32)
    coords = (np.asarray(points, dtype=np.float64).T + extent) / cell
    return map_coordinates(lattice, coords, order=1, mode="nearest")
