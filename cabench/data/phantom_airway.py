"""Findings of the pleura and the airways (planners and drawers as in phantom_central).

Pleural effusion fills the dependent (posterior, basal) pleural cavity and relabels the lung it
displaces as ``pleural_space``; dilated or thickened bronchi relabel lung voxels as ``bronchi``,
because they belong to the airway anatomy.
"""

from __future__ import annotations

import numpy as np

from cabench.data.phantom_anatomy import Anatomy, S, Segment, tree_mask
from cabench.data.phantom_canvas import Canvas, Plan, lobe_at, pick, pick_sides


# ---- pleura -------------------------------------------------------------------------------------
def plan_pleural_effusion(rng: np.random.Generator, a: Anatomy) -> Plan:
    sides, side_name = pick_sides(rng, 0.35)
    size = pick(rng, {"small": 0.5, "moderate": 0.35, "large": 0.15})
    depth = {"small": 16.0, "moderate": 28.0, "large": 44.0}[size] * rng.uniform(0.9, 1.1)
    return {"side": side_name, "size": size}, {"sides": sides, "depth": depth}


def effusion_region(cv: Canvas, side: int, depth: float, extra: float = 0.0) -> np.ndarray:
    """Dependent (posterior, basal) part of one pleural cavity, ``depth`` (+ extra) mm deep."""
    p = cv.a.p
    z, y, x = cv.coords()
    y_back = p.y_c + p.ay_c * np.sqrt(np.clip(1 - (x / p.ax_c) ** 2, 0, 1))
    top = p.dome[side] - 2.2 * depth
    profile = np.clip((z - top) / (p.dome[side] + 40 - top), 0, 1) ** 0.5
    return ((y_back - y) < (depth + extra) * profile) & (side * x > 0)


def draw_pleural_effusion(cv: Canvas, g: dict) -> None:
    for side in g["sides"]:
        name = "lung_left" if side > 0 else "lung_right"
        region = effusion_region(cv, side, g["depth"]) & cv.has(name, "pleural_space")
        cv.labels[region] = S["pleural_space"]
        centre = cv.a.hila[side] + [60, 60, side * 20]
        m = cv.claim("Pleural effusion", region, centre)
        cv.hu[m] = 12 + 4 * cv.tex[m]


# ---- airways ------------------------------------------------------------------------------------
def _airway_segments(rng, a: Anatomy, sides: list[int], max_gen: int, prefer_lower: bool):
    """Intrapulmonary airway segments to alter; a new one from the hilum if the tree has none."""
    segs = [s for s in a.p.airways if s.side in sides and 1 <= s.generation <= max_gen]
    if prefer_lower:
        segs = [s for s in segs if "lower" in s.lobe] or segs
    if not segs:
        side = sides[0]
        end = a.random_lung_point(rng, side, 10)
        start = a.hila[side] + (end - a.hila[side]) * 0.3
        segs = [Segment(start, end, 2.5, 1, side, lobe_at(a, side, end))]
    return segs


def plan_bronchiectasis(rng: np.random.Generator, a: Anatomy) -> Plan:
    sides, side_name = pick_sides(rng, 0.4)
    kind = pick(rng, {"cylindrical": 0.7, "varicose": 0.2, "cystic": 0.1})
    segs = _airway_segments(rng, a, sides, 3, prefer_lower=rng.random() < 0.7)
    factor = {"cylindrical": 2.2, "varicose": 2.6, "cystic": 3.2}[kind]
    details = {"side": side_name, "kind": kind, "lobes": sorted({s.lobe for s in segs})}
    return details, {"segments": segs, "factor": factor}


def draw_bronchiectasis(cv: Canvas, g: dict) -> None:
    segs = g["segments"]
    ok = cv.has("lung_left", "lung_right", "bronchi")
    lumen_r = [max(s.radius * g["factor"], 3.5) for s in segs]
    wall = np.zeros_like(ok)
    lumen = np.zeros_like(ok)
    for s, r in zip(segs, lumen_r, strict=True):
        one = [Segment(s.start, s.end, r, s.generation, s.side, s.lobe)]
        wall |= tree_mask(cv.grid, one, grow=1.8)
        lumen |= tree_mask(cv.grid, one)
    wall &= ok
    lumen &= ok
    cv.labels[wall | lumen] = S["bronchi"]
    cv.hu[wall] = 40 + 5 * cv.tex[wall]
    cv.hu[lumen] = -1000
    cv.claim("Bronchiectasis", wall | lumen, segs[0].end)


def plan_peribronchial_thickening(rng: np.random.Generator, a: Anatomy) -> Plan:
    sides, side_name = pick_sides(rng, 0.7)
    segs = _airway_segments(rng, a, sides, 2, prefer_lower=False)
    details = {"side": side_name, "lobes": sorted({s.lobe for s in segs})}
    return details, {"segments": segs, "thickness": float(rng.uniform(3.0, 4.0))}


def draw_peribronchial_thickening(cv: Canvas, g: dict) -> None:
    segs = g["segments"]
    ok = cv.has("lung_left", "lung_right", "bronchi")
    ring = tree_mask(cv.grid, segs, grow=g["thickness"]) & ~tree_mask(cv.grid, segs) & ok
    cv.labels[ring] = S["bronchi"]
    m = cv.claim("Peribronchial thickening", ring, segs[0].start)
    cv.hu[m] = 45 + 5 * cv.tex[m]
