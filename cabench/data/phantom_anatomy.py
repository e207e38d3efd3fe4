"""Normal chest anatomy of the phantom, drawn in body-frame millimetres (see phantom_geometry).

:func:`sample_anatomy` draws the shape parameters of one scan (sizes, positions, rotation);
:class:`Anatomy` answers geometric questions about them (is this point inside the left lung, which
lobe is it in, where do the airways run); phantom_paint turns them into HU values and structure
labels on a grid. Three findings change the anatomy itself and so are parameters here:
cardiomegaly (heart scale), pericardial effusion (fluid rim) and hiatal hernia (gastric bulge).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import CubicSpline

from cabench.data.phantom_geometry import Grid, balls, rotation, tube_step
from cabench.data.phantom_labels import Patient
from cabench.vocab import structure_label, synthetic_structures

# structure name -> label value (cabench/vocab_data/structures.yaml)
S = {name: structure_label(name) for name in synthetic_structures().values()}
SIDES = {-1: "right", 1: "left"}  # body x grows toward the patient's left


@dataclass
class Segment:
    """One airway or vessel segment of a branching tree."""

    start: np.ndarray
    end: np.ndarray
    radius: float
    generation: int
    side: int
    lobe: str


@dataclass
class AnatomyParams:
    """Shape parameters of one scan, all in millimetres (body frame) or degrees."""

    build: float
    body_ax: float
    body_ay: float
    fat: float
    muscle: float
    ax_c: float  # thoracic cavity half-width
    ay_c: float  # thoracic cavity half-depth
    y_c: float
    wm: float  # half-width of the upper mediastinum
    z_apex: float
    dome: dict[int, float]  # diaphragm dome height per side
    z_arch: float
    heart_centre: np.ndarray
    heart_semi: np.ndarray
    heart_rot: tuple[float, float]
    heart_scale: float = 1.0  # > 1 with cardiomegaly
    pericardial_fluid: float = 0.0  # rim thickness in mm with pericardial effusion
    hernia: tuple[np.ndarray, np.ndarray] | None = None  # (centre, semi-axes) of a hiatal hernia
    esophagus_air: bool = False
    gastric_bubble: bool = True
    node_radii: list[float] = field(default_factory=list)
    airways: list[Segment] = field(default_factory=list)
    vessels: list[Segment] = field(default_factory=list)
    rib_phase: float = 0.0


def sample_anatomy(rng: np.random.Generator, patient: Patient) -> AnatomyParams:
    """Random normal anatomy for one scan of ``patient``."""
    b = patient.build
    female = patient.sex == "F"
    body_ax, body_ay = 148 * b * rng.uniform(0.96, 1.04), 110 * b * rng.uniform(0.95, 1.05)
    fat = rng.uniform(10, 22) + (6 if female else 0)
    muscle = rng.uniform(9, 14)
    ax_c, ay_c = body_ax - fat - muscle - 10, body_ay - fat - muscle - 8
    z_apex = -150 + rng.normal(0, 6)
    dome_r = 60 + rng.normal(0, 7)
    heart_c = np.array([dome_r + 12 - 40 * b, -22 * b, 18 * b]) + rng.normal(0, 3, 3)
    p = AnatomyParams(
        build=b,
        body_ax=body_ax,
        body_ay=body_ay,
        fat=fat,
        muscle=muscle,
        ax_c=ax_c,
        ay_c=ay_c,
        y_c=rng.normal(0, 2),
        wm=rng.uniform(20, 26),
        z_apex=z_apex,
        dome={-1: dome_r, 1: dome_r + rng.uniform(10, 20)},
        z_arch=z_apex + 62 + rng.normal(0, 4),
        heart_centre=heart_c,
        heart_semi=np.array([38, 42, 53]) * b * rng.uniform(0.94, 1.06, 3),
        heart_rot=(35 + rng.normal(0, 5), -18 + rng.normal(0, 4)),
        esophagus_air=bool(rng.random() < 0.3),
        gastric_bubble=bool(rng.random() < 0.6),
        node_radii=list(rng.uniform(2.5, 4.0, 6)),
        rib_phase=rng.uniform(0, 1),
    )
    anatomy = Anatomy(p)
    p.airways = anatomy.grow_trees(rng, radius=4.0, length=24.0, depth=4, offset=(0, 0, 0))
    p.vessels = anatomy.grow_trees(rng, radius=5.0, length=22.0, depth=5, offset=(4, -6, 0))
    p.vessels += anatomy.grow_trees(rng, radius=4.5, length=22.0, depth=4, offset=(18, 6, 0))
    return p


class Anatomy:
    """Geometry of one scan's anatomy; every method works on body-frame millimetres."""

    def __init__(self, params: AnatomyParams) -> None:
        self.p = params
        b = params.build
        self.y_s = params.y_c + params.ay_c - 22 * b  # vertebral body centre
        self.r_spine = 16 * b
        self.y_eso = self.y_s - self.r_spine - 10
        self.y_tr = self.y_eso - 8 - 13
        self.z_car = params.z_arch + 35
        self.hila = {
            -1: np.array([self.z_car + 25, self.y_tr + 8, -45 * b]),
            1: np.array([self.z_car + 35, self.y_tr + 12, 45 * b]),
        }

    # ---- analytic shapes -------------------------------------------------------------------
    def diaphragm(self, side: int, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """z of the diaphragm surface under the lung of ``side`` (larger z = lower)."""
        p = self.p
        hx = (p.ax_c - p.wm) / 2
        x0 = side * (p.wm + hx)
        q = ((x - x0) / (hx + 10)) ** 2 + ((y - p.y_c + 10) / p.ay_c) ** 2
        return p.dome[side] + 45 * q + 12 * (y - p.y_c) / p.ay_c

    def cavity(self, y: np.ndarray, x: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Inside the rib cage in-plane (minus the paraspinal region)."""
        p = self.p
        inside = ((x / (p.ax_c - margin)) ** 2 + ((y - p.y_c) / (p.ay_c - margin)) ** 2) <= 1
        return inside & ~((np.abs(x) < 30 + margin) & (y > self.y_s - self.r_spine - margin))

    def lung_inside(
        self, side: int, z: np.ndarray, y: np.ndarray, x: np.ndarray, margin: float = 0.0
    ) -> np.ndarray:
        """Points inside the lung envelope of ``side`` (heart and vessels not yet carved)."""
        p = self.p
        hx = (p.ax_c - p.wm) / 2
        taper = np.sqrt(np.clip((z - p.z_apex) / 70.0, 0.02, 1.0))
        ell = ((x - side * (p.wm + hx)) / ((hx + 6) * taper)) ** 2 + (
            (y - p.y_c - 6) / ((p.ay_c + 6) * taper)
        ) ** 2
        ok = (ell <= 1) & self.cavity(y, x, margin) & (side * x > p.wm + margin)
        return ok & (z > p.z_apex + margin) & (z < self.diaphragm(side, y, x) - margin)

    def heart_rotation(self) -> np.ndarray:
        return rotation(*self.p.heart_rot)

    def heart_semi(self) -> np.ndarray:
        return self.p.heart_semi * self.p.heart_scale

    def in_heart(self, pts: np.ndarray, grow: float = 0.0) -> np.ndarray:
        d = (np.atleast_2d(pts) - self.p.heart_centre) @ self.heart_rotation()
        return (((d / (self.heart_semi() + grow)) ** 2).sum(1)) <= 1

    def lobe(self, side: int, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Lobe names for points of one lung: oblique fissure, horizontal fissure, lingula."""
        p = self.p
        t = np.clip((y - (p.y_c - p.ay_c)) / (2 * p.ay_c), 0, 1)
        z_fis = p.dome[side] - 5 - t * (p.dome[side] - 5 - (p.z_apex + 75))
        lower = z > z_fis
        if side < 0:
            middle = ~lower & (z > self.z_car + 30) & (y < p.y_c)
            return np.where(
                lower, "right lower lobe", np.where(middle, "right middle lobe", "right upper lobe")
            )
        lingula = ~lower & (z > self.z_car + 35) & (y < p.y_c - 10)
        return np.where(lower, "left lower lobe", np.where(lingula, "lingula", "left upper lobe"))

    def random_lung_point(
        self, rng: np.random.Generator, side: int, margin: float = 12.0, where=None
    ) -> np.ndarray:
        """A point inside a lung, away from the heart; ``where(z, y, x)`` narrows the choice."""
        p = self.p
        for _ in range(60):
            pts = np.column_stack(
                [
                    rng.uniform(p.z_apex, p.dome[side] + 40, 64),
                    rng.uniform(p.y_c - p.ay_c, p.y_c + p.ay_c, 64),
                    side * rng.uniform(p.wm, p.ax_c, 64),
                ]
            )
            ok = self.lung_inside(side, pts[:, 0], pts[:, 1], pts[:, 2], margin)
            ok &= ~self.in_heart(pts, grow=margin + 6)
            if where is not None:
                ok &= where(pts[:, 0], pts[:, 1], pts[:, 2])
            if ok.any():
                return pts[int(np.argmax(ok))]
        return self.hila[side] + np.array([20.0, 10.0, side * 30.0])

    # ---- tubular structures -------------------------------------------------------------------
    def aorta_path(self) -> tuple[np.ndarray, np.ndarray]:
        """Centreline points of the aorta (root -> arch -> descending) and their radii."""
        p, b = self.p, self.p.build
        hc = p.heart_centre
        x_d, y_d = 26 * b, self.y_s - 14 * b
        knots = np.array(
            [
                [hc[0] - 30, p.y_c - 30 * b, -3 * b],
                [p.z_arch + 20, p.y_c - 36 * b, -6 * b],
                [p.z_arch, (p.y_c - 36 * b + y_d) / 2 - 6, 10 * b],
                [p.z_arch + 18, y_d, x_d],
                [p.dome[1] + 70, y_d + 6, x_d - 10],
            ]
        )
        t = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(knots, axis=0), axis=1))])
        s = np.linspace(0, t[-1], int(t[-1] / 1.5) + 2)
        pts = CubicSpline(t, knots, bc_type="natural")(s)
        radii = np.interp(s, [0, t[2], t[-1]], [14 * b, 12.5 * b, 10.5 * b])
        return pts, radii

    def esophagus_path(self) -> np.ndarray:
        p = self.p
        z_gej = p.dome[1] + 18
        return np.array(
            [
                [p.z_apex - 60, self.y_tr + 21, 2],
                [self.z_car, self.y_eso, 3],
                [z_gej - 20, self.y_eso - 4, 10],
                [z_gej, self.y_eso - 12, 26],
                [z_gej + 20, p.y_c, 45],
            ]
        )

    def trachea_path(self) -> np.ndarray:
        return np.array([[self.p.z_apex - 60, self.y_tr, 0.0], [self.z_car, self.y_tr + 2, 0.0]])

    def node_stations(self) -> np.ndarray:
        """Mediastinal lymph node stations: 4R, 4L, 7, 5/6 (prevascular), 2R, 10R."""
        p = self.p
        return np.array(
            [
                [self.z_car - 18, self.y_tr - 4, -15],
                [self.z_car - 12, self.y_tr - 2, 14],
                [self.z_car + 20, self.y_tr + 16, 2],
                [p.z_arch + 14, p.y_c - 52, 6],
                [p.z_arch - 20, self.y_tr - 6, -15],
                [self.z_car + 12, self.y_tr - 14, -26],
            ]
        )

    def svc_path(self) -> np.ndarray:
        p = self.p
        return np.array(
            [
                [p.z_apex - 60, self.y_tr - 14, -26],
                [p.z_arch, self.y_tr - 18, -24],
                [p.heart_centre[0] - 38, p.y_c - 26, -20],
            ]
        )

    def grow_trees(
        self,
        rng: np.random.Generator,
        radius: float,
        length: float,
        depth: int,
        offset: tuple[float, float, float],
    ) -> list[Segment]:
        """Random branching trees from each hilum toward the lobes, kept inside the lungs; grown
        one generation at a time (each segment forks in two at 20-40 degrees)."""
        segments: list[Segment] = []
        lobes = np.array([(-1.0, 0.1, 0.6), (0.9, 0.5, 0.3), (0.5, -0.9, 0.4)])  # up, back, front
        for side in (-1, 1):
            flip = np.array([1, 1, side])
            dirs = lobes * flip
            starts = np.repeat((self.hila[side] + np.asarray(offset) * flip)[None], 3, axis=0)
            lengths = np.full(3, length)
            r = radius
            for gen in range(depth):
                dirs = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
                ends = starts + dirs * lengths[:, None]
                if gen > 0:
                    ok = self.lung_inside(side, ends[:, 0], ends[:, 1], ends[:, 2], margin=3.0)
                    ok &= ~self.in_heart(ends, 4.0)
                    starts, ends, dirs, lengths = starts[ok], ends[ok], dirs[ok], lengths[ok]
                names = self.lobe(side, ends[:, 0], ends[:, 1])
                segments += [
                    Segment(a, b, r, gen, side, str(n))
                    for a, b, n in zip(starts, ends, names, strict=True)
                ]
                n = len(ends)
                if gen + 1 == depth or n == 0:
                    break
                turn = rng.normal(size=(n, 3))
                turn -= (turn * dirs).sum(1, keepdims=True) * dirs
                turn /= np.linalg.norm(turn, axis=1, keepdims=True) + 1e-9
                bend = np.tan(np.deg2rad(rng.uniform(20, 40, (n, 2))))[..., None]
                dirs = dirs[:, None] + np.array([-1.0, 1.0])[None, :, None] * bend * turn[:, None]
                dirs = dirs.reshape(-1, 3)
                starts = np.repeat(ends, 2, axis=0)
                lengths = (lengths[:, None] * rng.uniform(0.7, 0.85, (n, 2))).reshape(-1)
                r *= 0.72
        return segments


def tree_mask(grid: Grid, segments: list[Segment], grow: float = 0.0) -> np.ndarray:
    """Voxels of the segments rendered as tubes of (radius + grow) mm."""
    if not segments:
        return np.zeros(grid.shape, dtype=bool)
    starts = np.array([s.start for s in segments])
    ends = np.array([s.end for s in segments])
    radii = np.round(np.array([s.radius for s in segments]) + grow, 1)
    step = np.array([tube_step(grid, r) for r in radii])
    counts = np.ceil(np.linalg.norm(ends - starts, axis=1) / step).astype(int) + 1
    seg = np.repeat(np.arange(len(segments)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    t = ((np.arange(len(seg)) - first) / np.repeat(counts - 1, counts))[:, None]
    points = starts[seg] + t * (ends - starts)[seg]
    return balls(grid, points, radii[seg])
