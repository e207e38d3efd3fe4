"""Findings of the heart, aorta, esophagus and mediastinum.

Each finding has a planner ``plan_*(rng, anatomy) -> (details, geometry)`` that runs once per scan
in millimetres (so every reconstruction of a scan shows the same finding) and a drawer
``draw_*(canvas, geometry)`` that runs once per grid. ``details`` feed the report writer.
Cardiomegaly, pericardial effusion and hiatal hernia change the anatomy itself, so their planners
set anatomy parameters and their drawers only mark what the anatomy painter drew.
"""

from __future__ import annotations

import numpy as np

from cabench.data.phantom_anatomy import Anatomy, S
from cabench.data.phantom_canvas import Canvas, Plan, pick
from cabench.data.phantom_geometry import resample_polyline, tube

STATIONS = (
    "right lower paratracheal",
    "left lower paratracheal",
    "subcarinal",
    "prevascular",
    "right upper paratracheal",
    "right hilar",
)


# ---- findings drawn as anatomy ------------------------------------------------------------------
def plan_cardiomegaly(rng: np.random.Generator, a: Anatomy) -> Plan:
    severity = pick(rng, {"mild": 0.5, "moderate": 0.35, "marked": 0.15})
    a.p.heart_scale = {"mild": 1.2, "moderate": 1.28, "marked": 1.36}[severity] + rng.uniform(
        0, 0.04
    )
    return {"severity": severity}, {}


def draw_cardiomegaly(cv: Canvas, g: dict) -> None:
    cv.claim("Cardiomegaly", cv.labels == S["heart"], cv.a.p.heart_centre)


def plan_pericardial_effusion(rng: np.random.Generator, a: Anatomy) -> Plan:
    size = pick(rng, {"minimal": 0.35, "small": 0.4, "moderate": 0.25})
    thickness = {"minimal": 6.0, "small": 9.0, "moderate": 14.0}[size] + rng.uniform(0, 2)
    a.p.pericardial_fluid = thickness
    return {"size": size, "thickness_mm": int(round(thickness))}, {}


def draw_pericardial_effusion(cv: Canvas, g: dict) -> None:
    cv.claim("Pericardial effusion", cv.painted.pericardial_fluid, cv.a.p.heart_centre)


def plan_hiatal_hernia(rng: np.random.Generator, a: Anatomy) -> Plan:
    size = pick(rng, {"small": 0.5, "moderate": 0.35, "large": 0.15})
    d = {"small": 32.0, "moderate": 45.0, "large": 60.0}[size] * rng.uniform(0.95, 1.1)
    semi = np.array([0.8, 0.85, 1.0]) * d / 2
    centre = np.array([a.p.dome[1] - 0.5 * semi[0], a.y_eso - 4, 14 * a.p.build])
    a.p.hernia = (centre, semi)
    return {"size": size, "diameter_mm": int(round(d))}, {}


def draw_hiatal_hernia(cv: Canvas, g: dict) -> None:
    cv.claim("Hiatal hernia", cv.painted.hernia, cv.a.p.hernia[0])


# ---- mediastinum ---------------------------------------------------------------------------
def plan_lymphadenopathy(rng: np.random.Generator, a: Anatomy) -> Plan:
    n = int(rng.choice([1, 2, 3, 4], p=[0.4, 0.3, 0.2, 0.1]))
    chosen = sorted(rng.choice(len(STATIONS), size=n, replace=False).tolist())
    stations = a.node_stations()
    nodes = []
    for i in chosen:
        short = rng.uniform(11, 22)
        semi = np.array([short * rng.uniform(0.6, 0.8), short / 2, short / 2 * rng.uniform(1, 1.3)])
        nodes.append((stations[i] + rng.normal(0, 2, 3), semi))
    largest = max(2 * n_[1][1] for n_ in nodes)
    details = {"stations": [STATIONS[i] for i in chosen], "short_axis_mm": int(round(largest))}
    return details, {"nodes": nodes}


def draw_lymphadenopathy(cv: Canvas, g: dict) -> None:
    fat = cv.labels == S["mediastinum"]
    for centre, semi in g["nodes"]:
        m = cv.claim("Lymphadenopathy", cv.ellipsoid(centre, semi) & fat, centre)
        cv.hu[m] = 42 + 4 * cv.tex[m]


def plan_medical_material(rng: np.random.Generator, a: Anatomy) -> Plan:
    device = pick(
        rng, {"central venous catheter": 0.45, "port catheter": 0.3, "pacemaker lead": 0.25}
    )
    path = a.svc_path() + rng.normal(0, 1.5, (3, 3)) * [0, 1, 1]
    paths = [path]
    if device == "pacemaker lead":
        paths.append(path + [0, 4, 4])
    return {"device": device, "side": "right"}, {"paths": paths, "radius": 2.0}


def draw_medical_material(cv: Canvas, g: dict) -> None:
    mediastinum = cv.labels == S["mediastinum"]
    for path in g["paths"]:
        m = cv.claim("Medical material", tube(cv.grid, path, g["radius"]) & mediastinum, path[1])
        cv.hu[m] = np.maximum(2800 + 150 * cv.tex[m], 2200)


# ---- calcifications -----------------------------------------------------------------------------
def plan_arterial_wall_calcification(rng: np.random.Generator, a: Anatomy) -> Plan:
    severity = pick(rng, {"mild": 0.45, "moderate": 0.35, "extensive": 0.2})
    count = int(
        rng.integers(*{"mild": (3, 6), "moderate": (6, 11), "extensive": (11, 19)}[severity])
    )
    pts, radii = a.aorta_path()
    arch = int(np.argmin(pts[:, 0]))
    weights = np.where(np.arange(len(pts)) >= arch * 0.6, 3.0, 1.0)
    plaques, where = [], set()
    for i in rng.choice(len(pts) - 2, size=count, p=weights[:-2] / weights[:-2].sum()):
        tangent = pts[i + 2] - pts[i]
        tangent /= np.linalg.norm(tangent)
        perp = rng.normal(size=3)
        perp -= perp @ tangent * tangent
        perp /= np.linalg.norm(perp)
        centre = pts[i] + perp * (radii[i] - 1.5)
        half = tangent * rng.uniform(3, 6)
        plaques.append((np.stack([centre - half, centre + half]), rng.uniform(2.5, 3.2)))
        where.add(
            "ascending aorta"
            if i < arch * 0.6
            else "aortic arch"
            if i < arch + 25
            else "descending aorta"
        )
    order = ["ascending aorta", "aortic arch", "descending aorta"]
    return {"severity": severity, "segments": [s for s in order if s in where]}, {
        "plaques": plaques
    }


def draw_arterial_wall_calcification(cv: Canvas, g: dict) -> None:
    aorta = cv.labels == S["aorta"]
    for path, radius in g["plaques"]:
        m = cv.claim("Arterial wall calcification", tube(cv.grid, path, radius) & aorta, path[0])
        cv.hu[m] = np.maximum(950 + 100 * cv.tex[m], 550)


def _heart_surface(a: Anatomy, lx: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Body points on (just inside) the heart's surface from local long-axis position ``lx``
    (-1 base .. 1 apex) and angle around the long axis."""
    semi = a.heart_semi()
    ring = np.sqrt(np.clip(1 - lx**2, 0.05, 1)) * 0.9
    local = np.column_stack(
        [semi[0] * ring * np.cos(angle), semi[1] * ring * np.sin(angle), semi[2] * lx * 0.92]
    )
    return local @ a.heart_rotation().T + a.p.heart_centre


def plan_coronary_artery_wall_calcification(rng: np.random.Generator, a: Anatomy) -> Plan:
    severity = pick(rng, {"mild": 0.5, "moderate": 0.3, "severe": 0.2})
    k = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))
    vessels = sorted(rng.choice(["LAD", "RCA", "LCx"], size=k, replace=False).tolist())
    segments = []
    for v in vessels:
        for _ in range(int(rng.integers(1, 3 if severity == "mild" else 4))):
            if v == "LAD":
                lx = np.linspace(-0.55, 0.7, 40)
                ang = np.full_like(lx, np.pi * 1.25)
            else:
                centre = np.pi * (0.75 if v == "RCA" else -0.25)
                ang = np.linspace(centre - 1.0, centre + 1.0, 40)
                lx = np.full_like(ang, -0.55)
            path = _heart_surface(a, lx, ang)
            start = int(rng.integers(0, 30))
            segments.append(path[start : start + int(rng.integers(5, 10))])
    return {"severity": severity, "vessels": vessels}, {"segments": segments}


def draw_coronary_artery_wall_calcification(cv: Canvas, g: dict) -> None:
    heart = cv.has("heart", "pericardium")
    for path in g["segments"]:
        pts = resample_polyline(path, 0.7 * min(cv.grid.spacing))
        m = cv.claim("Coronary artery wall calcification", cv.balls(pts, 2.6) & heart, path[0])
        cv.hu[m] = np.maximum(850 + 100 * cv.tex[m], 550)
