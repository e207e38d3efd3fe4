"""Paint the normal anatomy of :class:`~cabench.data.phantom_anatomy.Anatomy` onto a grid.

Structures are painted from the outside in; a later structure overrides an earlier one where they
meet (the heart carves the left lung, the aorta carves the mediastinal fat, ...). HU values follow
real CT: air -1000, lung about -850 with a dependent gradient, fat about -100, soft tissue 30-60,
bone 300-1000. A smooth random texture keeps flat regions from looking synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cabench.data.phantom_anatomy import Anatomy, S, tree_mask
from cabench.data.phantom_geometry import (
    Grid,
    balls,
    dilate,
    ellipsoid,
    label_mask,
    smooth_noise,
    tube,
)

LUNG_HU = -850.0


@dataclass
class Painted:
    """HU and labels of the normal anatomy, plus masks of the findings drawn as anatomy."""

    hu: np.ndarray  # float32 (D, H, W)
    labels: np.ndarray  # uint8 (D, H, W)
    texture: np.ndarray  # float32 smooth field, reused by the findings
    pericardial_fluid: np.ndarray
    hernia: np.ndarray


def paint_anatomy(a: Anatomy, grid: Grid, rng: np.random.Generator) -> Painted:
    p, b = a.p, a.p.build
    shape = grid.shape
    z, y, x = grid.coords()
    tex = smooth_noise(rng, shape, cells=5.0)
    hu = np.full(shape, -1000.0, dtype=np.float32)
    lab = np.zeros(shape, dtype=np.uint8)

    def put(mask: np.ndarray, label: int, base: float, amp: float = 0.0) -> None:
        np.copyto(lab, np.uint8(label), where=mask)
        np.copyto(hu, base + amp * tex if amp else np.float32(base), where=mask)

    # Body wall: subcutaneous fat, then muscle; the scanner table behind the patient.
    taper = 1 + 0.03 * z / 150
    body = (x / (p.body_ax * taper)) ** 2 + (y / p.body_ay) ** 2 <= 1
    put(body, S["body_wall"], -100, 12)
    inner = (x / (p.body_ax * taper - p.fat)) ** 2 + (y / (p.body_ay - p.fat)) ** 2 <= 1
    put(inner, S["body_wall"], 50, 6)
    ty, tx = grid.scanner_yx()
    table = (ty > p.body_ay + 8) & (ty < p.body_ay + 15) & (np.abs(tx) < 170)
    np.copyto(hu, np.float32(120), where=table & (lab == 0))

    # Thoracic cavity: mediastinal fat above the diaphragm, abdomen (label 0) below it.
    cavity = a.cavity(y, x) & (z > p.z_apex - 8)
    dia = np.where(x < 0, a.diaphragm(-1, y, x), a.diaphragm(1, y, x))
    above = cavity & (z < dia)
    put(above, S["mediastinum"], -90, 10)
    put(cavity & (z >= dia), 0, 45, 4)
    liver = cavity & (z >= dia + 5) & (x < 15)
    put(liver, 0, 58, 4)
    if p.gastric_bubble and p.hernia is None:
        bubble = ellipsoid(grid, np.array([p.dome[1] + 20, p.y_c - 5, 55 * b]), [12, 22, 26])
        put(bubble & cavity & (z >= dia + 5), 0, -1000)

    # Lungs, denser posteriorly (gravity) with a gentle texture.
    for side, name in ((-1, "lung_right"), (1, "lung_left")):
        lung = a.lung_inside(side, z, y, x)
        gradient = np.broadcast_to(25 * (y - p.y_c) / p.ay_c, shape)
        lab[lung] = S[name]
        hu[lung] = LUNG_HU + gradient[lung] + 12 * tex[lung]

    # Heart and pericardium (a fluid rim with pericardial effusion).
    rot = a.heart_rotation()
    semi = a.heart_semi()
    heart = ellipsoid(grid, p.heart_centre, semi, rot) & np.broadcast_to(a.cavity(y, x), shape)
    fluid = np.zeros(shape, dtype=bool)
    if p.pericardial_fluid > 0:
        sac = ellipsoid(grid, p.heart_centre, semi + p.pericardial_fluid, rot) & ~heart
        fluid = sac & np.broadcast_to(a.cavity(y, x), shape)
        put(fluid, S["pericardium"], 12, 3)
    put(heart, S["heart"], 40, 3)
    put(dilate(heart | fluid) & ~(heart | fluid) & label_mask(lab, _SOFT), S["pericardium"], 25)

    # Great vessels (mediastinum), the aorta, the esophagus, airways.
    mediastinal = tube(grid, a.svc_path(), 9 * b)
    hc = p.heart_centre
    trunk_top = np.array([a.z_car + 8, p.y_c - 20, 14 * b])
    trunk = np.array([[hc[0] - 20, p.y_c - 40 * b, 16 * b], trunk_top])
    mediastinal |= tube(grid, trunk, 11 * b)
    mediastinal |= tube(
        grid, np.stack([trunk_top, [a.z_car + 16, a.y_tr - 14, -10], a.hila[-1]]), 9
    )
    mediastinal |= tube(grid, np.stack([trunk_top, a.hila[1] - [4, 4, 6]]), 9)
    aorta_pts, aorta_r = a.aorta_path()
    arch = aorta_pts[np.argmin(aorta_pts[:, 0])]
    for dx in (-10, 0, 10):
        top = arch + [-80, -4, dx * b]
        mediastinal |= tube(grid, np.stack([arch + [0, 0, dx * b], top]), 6 * b)
    put(mediastinal & ~heart, S["mediastinum"], 40, 3)
    put(balls(grid, aorta_pts, np.round(aorta_r * 2) / 2), S["aorta"], 42, 3)

    eso = tube(grid, a.esophagus_path(), 8 * b)
    put(eso, S["esophagus"], 38, 3)
    hernia = np.zeros(shape, dtype=bool)
    if p.hernia is not None:
        centre, hsemi = p.hernia
        hernia = ellipsoid(grid, centre, hsemi) & np.broadcast_to(a.cavity(y, x), shape)
        put(hernia, S["esophagus"], 40, 3)
        lumen = ellipsoid(grid, centre, hsemi - 4) & hernia
        air = lumen & (np.broadcast_to(y, shape) < centre[1])
        put(lumen, S["esophagus"], 15, 3)
        put(air, S["esophagus"], -1000)
    if p.esophagus_air:
        put(tube(grid, a.esophagus_path()[1:3], 2.5) & eso, S["esophagus"], -1000)

    put(tube(grid, a.trachea_path(), 11 * b), S["trachea"], 45)
    put(tube(grid, a.trachea_path(), 9 * b), S["trachea"], -1000)
    carina = a.trachea_path()[-1]
    airway_ok = label_mask(lab, (S["lung_left"], S["lung_right"], S["mediastinum"], S["bronchi"]))
    for side, radius in ((-1, 7.0), (1, 6.0)):
        main = np.stack([carina, a.hila[side]])
        put(tube(grid, main, (radius + 1.5) * b) & airway_ok, S["bronchi"], 40)
        put(tube(grid, main, radius * b) & airway_ok, S["bronchi"], -1000)
    _paint_trees(grid, a, lab, hu)

    nodes = balls(grid, a.node_stations(), np.asarray(p.node_radii))
    put(nodes & (lab == S["mediastinum"]), S["mediastinum"], 35, 3)

    _paint_bones(grid, a, lab, hu, tex, z, y, x)

    # Pleural space: a thin shell around each lung, into fat, wall, bone or diaphragm.
    for name in ("lung_right", "lung_left"):
        lung = lab == S[name]
        shell = (
            dilate(lung) & ~lung & label_mask(lab, (0, S["mediastinum"], S["body_wall"], S["bone"]))
        )
        put(shell, S["pleural_space"], -40, 10)
    return Painted(
        hu, lab, tex, fluid & (lab == S["pericardium"]), hernia & (lab == S["esophagus"])
    )


_SOFT = (0, S["mediastinum"], S["lung_left"], S["lung_right"], S["body_wall"])


def _paint_trees(grid: Grid, a: Anatomy, lab: np.ndarray, hu: np.ndarray) -> None:
    """Intrapulmonary bronchi (lumen and wall, label bronchi) and vessels (soft tissue, label
    lung). A vessel thinner than a voxel is drawn with a partial-volume HU."""
    lungs = (lab == S["lung_left"]) | (lab == S["lung_right"])
    area = sorted(grid.spacing)[0] * sorted(grid.spacing)[1]
    for gen in sorted({s.generation for s in a.p.vessels}):
        segs = [s for s in a.p.vessels if s.generation == gen]
        r = segs[0].radius
        fraction = min(1.0, np.pi * r * r / area)
        value = LUNG_HU + fraction * (40 - LUNG_HU)
        mask = _segments(grid, segs, r) & lungs
        hu[mask] = np.maximum(hu[mask], value)
    airway_ok = lungs | (lab == S["bronchi"])
    for gen in sorted({s.generation for s in a.p.airways}):
        segs = [s for s in a.p.airways if s.generation == gen]
        r = segs[0].radius
        wall = _segments(grid, segs, r + 1.2) & airway_ok
        lab[wall] = S["bronchi"]
        hu[wall] = np.maximum(hu[wall], -200)
        lumen = _segments(grid, segs, r) & airway_ok
        hu[lumen] = -1000


def _segments(grid: Grid, segs: list, radius: float) -> np.ndarray:
    return tree_mask(grid, segs, grow=radius - segs[0].radius)


def _paint_bones(grid, a: Anatomy, lab, hu, tex, z, y, x) -> None:
    """Ribs (oblique bands descending anteriorly), vertebrae with discs and posterior elements,
    and the sternum."""
    p, b = a.p, a.p.build
    shape = grid.shape
    ring_in = (x / p.ax_c) ** 2 + ((y - p.y_c) / p.ay_c) ** 2 > 1.0
    ring_out = (x / (p.ax_c + 10)) ** 2 + ((y - p.y_c) / (p.ay_c + 10)) ** 2 <= 1.0
    ring = ring_in & ring_out & ~((np.abs(x) < 24 * b) & (y < p.y_c))
    u = (z + 0.45 * (y - a.y_s)) / (26 * b) + p.rib_phase
    ribs = ring & ((u - np.floor(u)) < 0.36) & (z > p.z_apex - 12) & (z < p.dome[1] + 40)
    bone = np.broadcast_to(ribs, shape)
    rib_hu = np.clip(480 + 120 * tex, 320, 1000)

    r_xy = np.sqrt(x**2 + (y - a.y_s) ** 2)
    body = np.broadcast_to(r_xy <= a.r_spine, shape)
    disc = np.broadcast_to((((z - p.rib_phase * 27) / (27 * b)) % 1.0) < 0.2, shape)
    cortex = np.broadcast_to(r_xy > a.r_spine - 3, shape)
    y_canal = a.y_s + a.r_spine + 9 * b
    r_canal = np.sqrt(x**2 + (y - y_canal) ** 2)
    canal = np.broadcast_to(r_canal <= 7 * b, shape)
    arch = np.broadcast_to((r_canal > 7 * b) & (r_canal <= 13 * b) & (y > a.y_s + a.r_spine), shape)
    spinous = np.broadcast_to(
        (np.abs(x) < 4 * b) & (y > y_canal + 10 * b) & (y < y_canal + 40 * b), shape
    )
    transverse = np.broadcast_to(
        (np.abs(x) > 10 * b) & (np.abs(x) < 34 * b) & (np.abs(y - y_canal) < 5 * b), shape
    )
    sternum = (np.abs(x) < 14 * b) & (y > p.y_c - p.ay_c - 14) & (y < p.y_c - p.ay_c - 2)
    sternum3 = np.broadcast_to(sternum, shape) & (z > p.z_apex + 10) & (z < p.dome[-1] + 10)

    posterior = arch | spinous | transverse
    for mask, base in ((bone, None), (posterior, 600.0), (sternum3, 450.0)):
        lab[mask] = S["bone"]
        hu[mask] = rib_hu[mask] if base is None else np.clip(base + 80 * tex[mask], 320, 1000)
    vert = body & ~disc
    lab[vert] = S["bone"]
    hu[vert] = np.where(cortex[vert], 750.0, 330.0) + np.clip(30 * tex[vert], -30, 30)
    lab[body & disc] = 0
    hu[body & disc] = 90
    lab[canal] = 0
    hu[canal] = 10
