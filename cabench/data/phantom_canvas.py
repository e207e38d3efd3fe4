"""The canvas findings are drawn on: HU, structure labels and the finding bit field of one grid.

Every finding draws through :meth:`Canvas.claim`, which keeps only the voxels inside the finding's
chest7 anatomy (its structures per ``merge.synthetic``) and, where nothing is left on a coarse grid,
the one anatomy voxel nearest the finding's centre. So a positive finding always marks something,
and only inside its anatomy. :meth:`Canvas.finalize` re-checks that against the final labels.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from cabench.data.phantom_anatomy import SIDES, Anatomy, S
from cabench.data.phantom_geometry import Grid, balls, ellipsoid, label_mask, nearest_voxel
from cabench.data.phantom_paint import Painted
from cabench.vocab import anatomy_set, finding_names, structure_label

# HU written on a fallback voxel when a finding lost all its voxels to later drawing.
FALLBACK_HU = {
    "Medical material": 2800.0,
    "Arterial wall calcification": 900.0,
    "Coronary artery wall calcification": 900.0,
    "Emphysema": -975.0,
    "Mosaic attenuation pattern": -935.0,
    "Lung opacity": -420.0,
    "Interlobular septal thickening": -150.0,
    "Pleural effusion": 12.0,
    "Pericardial effusion": 12.0,
}


@cache
def anatomy_labels(finding: str) -> tuple[int, ...]:
    """Structure labels making up the chest7 anatomy of ``finding``."""
    chest7 = anatomy_set("chest7")
    structures = chest7.merge["synthetic"][chest7.anatomy_of(finding)]
    return tuple(structure_label(s) for s in structures)


def finding_bit(finding: str) -> int:
    return 1 << finding_names().index(finding)


class Canvas:
    """One grid's arrays while findings are drawn."""

    def __init__(self, grid: Grid, anatomy: Anatomy, painted: Painted) -> None:
        self.grid = grid
        self.a = anatomy
        self.hu = painted.hu
        self.labels = painted.labels
        self.tex = painted.texture
        self.painted = painted
        self.bits = np.zeros(grid.shape, dtype=np.uint32)
        self.centres: dict[str, np.ndarray] = {}
        self._coords = grid.coords()

    # ---- masks -------------------------------------------------------------------------------
    def has(self, *names: str) -> np.ndarray:
        return self.has_labels(tuple(S[n] for n in names))

    def lungs(self, side: int | None = None) -> np.ndarray:
        if side is None:
            return self.has("lung_left", "lung_right")
        return self.labels == S["lung_left" if side > 0 else "lung_right"]

    def parenchyma(self, side: int | None = None) -> np.ndarray:
        """Aerated lung not yet claimed by another finding (texture findings draw here)."""
        return self.lungs(side) & (self.hu < -700) & (self.bits == 0)

    def coords(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._coords

    def ellipsoid(self, centre, semi, rot=None) -> np.ndarray:
        return ellipsoid(self.grid, np.asarray(centre), np.asarray(semi), rot)

    def blob(self, centre, semi, wobble: float) -> np.ndarray:
        """An ellipsoid whose border is roughened by the texture (irregular patches)."""
        out = np.zeros(self.grid.shape, dtype=bool)
        semi = np.asarray(semi, dtype=float)
        sl = self.grid.box(centre, np.full(3, semi.max() * (1 + wobble)))
        if sl is None:
            return out
        z, y, x = self.grid.coords(sl)
        f = ((z - centre[0]) / semi[0]) ** 2 + ((y - centre[1]) / semi[1]) ** 2
        f = f + ((x - centre[2]) / semi[2]) ** 2
        out[sl] = f <= 1 + wobble * self.tex[sl]
        return out

    def balls(self, centres, radii) -> np.ndarray:
        return balls(self.grid, centres, radii)

    def body_points(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voxel indices (n, 3) of ``mask`` and their body-frame (z, y, x) millimetres."""
        idx = np.argwhere(mask)
        return idx, self.grid.to_body(idx)

    # ---- drawing -----------------------------------------------------------------------------
    def claim(self, finding: str, mask: np.ndarray, centre) -> np.ndarray:
        """Mark ``mask`` (restricted to the finding's anatomy) as ``finding``; returns the marked
        voxels, never empty while the anatomy is on the grid."""
        self.centres.setdefault(finding, np.asarray(centre, dtype=float))
        allowed = self.has_labels(anatomy_labels(finding))
        mask = mask & allowed
        if not mask.any():
            mask = self._fallback(allowed, self.centres[finding])
        self.bits[mask] |= np.uint32(finding_bit(finding))
        return mask

    def has_labels(self, labels: tuple[int, ...]) -> np.ndarray:
        return label_mask(self.labels, labels)

    def _fallback(self, allowed: np.ndarray, centre: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.grid.shape, dtype=bool)
        voxel = nearest_voxel(allowed, self.grid.to_index(centre)[0], self.grid.spacing)
        if voxel is not None:
            mask[voxel] = True
        return mask

    def finalize(self, positives: list[str]) -> None:
        """Drop marks that later drawing moved out of the anatomy; re-mark an emptied finding."""
        for finding in positives:
            bit = np.uint32(finding_bit(finding))
            plane = (self.bits & bit) != 0
            allowed = self.has_labels(anatomy_labels(finding))
            outside = plane & ~allowed
            if outside.any():
                self.bits[outside] &= ~bit
            if not (plane & allowed).any():
                centre = self.centres.get(finding, np.zeros(3))
                mask = self._fallback(allowed, centre)
                self.bits[mask] |= bit
                if finding in FALLBACK_HU:
                    self.hu[mask] = FALLBACK_HU[finding]


# ---- shared by the planners ----------------------------------------------------------------
Plan = tuple[dict, dict]  # (report details, drawing geometry)


def pick(rng: np.random.Generator, options: dict[str, float]) -> str:
    """One key of ``options`` drawn with the given (relative) weights."""
    keys = list(options)
    p = np.asarray([options[k] for k in keys], dtype=float)
    return str(keys[int(rng.choice(len(keys), p=p / p.sum()))])


def pick_sides(rng: np.random.Generator, p_bilateral: float) -> tuple[list[int], str]:
    """Body sides (-1 right, 1 left) of a finding and how a report names them."""
    if rng.random() < p_bilateral:
        return [-1, 1], "bilateral"
    side = -1 if rng.random() < 0.55 else 1
    return [side], SIDES[side]


def lobe_at(a: Anatomy, side: int, point: np.ndarray) -> str:
    """The lobe of the lung of ``side`` holding a body-frame point."""
    return str(a.lobe(side, np.asarray(point[0]), np.asarray(point[1])))


def lobes_at(a: Anatomy, found: list[tuple[int, np.ndarray]]) -> list[str]:
    return sorted({lobe_at(a, side, p) for side, p in found})
