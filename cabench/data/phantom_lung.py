"""Findings of the lung parenchyma (planners and drawers as in phantom_central).

Texture findings (emphysema, mosaic attenuation, ground-glass opacity, septal lines, reticulation)
change only aerated lung that no other finding has claimed yet; focal dense findings
(consolidation, atelectasis, nodules, scars) override them.
"""

from __future__ import annotations

import numpy as np

from cabench.data.phantom_airway import effusion_region
from cabench.data.phantom_anatomy import SIDES, Anatomy
from cabench.data.phantom_canvas import Canvas, Plan, lobe_at, lobes_at, pick, pick_sides
from cabench.data.phantom_geometry import lattice_noise, tube


def plan_atelectasis(rng: np.random.Generator, a: Anatomy, effusion: dict | None) -> Plan:
    kinds = {"linear": 0.45, "basal": 0.35} | ({"passive": 1.2} if effusion else {})
    kind = pick(rng, kinds)
    if kind == "passive":
        side = int(rng.choice(effusion["sides"]))
        geom = {"kind": kind, "side": side, "depth": effusion["depth"]}
        point = np.array([a.p.dome[side] - 10, a.p.y_c + a.p.ay_c * 0.7, side * 70.0])
    else:
        side = -1 if rng.random() < 0.5 else 1
        low = a.z_car + 30
        point = a.random_lung_point(rng, side, 10, where=lambda z, y, x: (z > low) & (y > 0))
        normal = np.array([0.55, 0.8, 0.0]) + rng.normal(0, 0.15, 3)
        geom = {
            "kind": kind,
            "side": side,
            "centre": point,
            "normal": normal / np.linalg.norm(normal),
        }
        if kind == "basal":
            geom["centre"] = np.array(
                [
                    a.p.dome[side] + 5,
                    a.p.y_c + a.p.ay_c * 0.72,
                    side * (a.p.wm + 0.55 * (a.p.ax_c - a.p.wm)),
                ]
            )
            point = geom["centre"]
    return {"side": SIDES[side], "kind": kind, "lobe": lobe_at(a, side, point)}, geom


def draw_atelectasis(cv: Canvas, g: dict) -> None:
    side = g["side"]
    lung = cv.lungs(side)
    if g["kind"] == "passive":
        region = effusion_region(cv, side, g["depth"], extra=10) & lung
        centre = cv.a.hila[side] + [60, 50, side * 25]
    elif g["kind"] == "basal":
        region = cv.ellipsoid(g["centre"], [24, 18, 34]) & lung
        centre = g["centre"]
    else:
        z, y, x = cv.coords()
        c, n = g["centre"], g["normal"]
        dist = (z - c[0]) * n[0] + (y - c[1]) * n[1] + (x - c[2]) * n[2]
        region = (np.abs(dist) < 4.5) & cv.ellipsoid(c, [30, 30, 30]) & lung
        centre = c
    m = cv.claim("Atelectasis", region, centre)
    cv.hu[m] = 30 + 8 * cv.tex[m]


def plan_emphysema(rng: np.random.Generator, a: Anatomy) -> Plan:
    kind = pick(rng, {"centrilobular": 0.55, "paraseptal": 0.25, "bullous": 0.2})
    severity = pick(rng, {"mild": 0.5, "moderate": 0.35, "severe": 0.15})
    sides, side_name = pick_sides(rng, 0.8)
    upper = a.z_car + 40
    blobs: list[tuple[np.ndarray, float]] = []
    found = []
    for side in sides:
        if kind == "bullous":
            n, radius, margin = int(rng.integers(1, 3)), (12.0, 24.0), 14.0
        else:
            n = {"mild": 10, "moderate": 20, "severe": 34}[severity]
            radius, margin = (4.0, 7.5), (8.0 if kind == "centrilobular" else 3.0)
        for _ in range(n):
            point = a.random_lung_point(rng, side, margin, where=lambda z, y, x: z < upper)
            blobs.append((point, float(rng.uniform(*radius))))
            found.append((side, point))
    details = {"kind": kind, "severity": severity, "side": side_name, "lobes": lobes_at(a, found)}
    return details, {"blobs": blobs, "hu": -995.0 if kind == "bullous" else -975.0}


def draw_emphysema(cv: Canvas, g: dict) -> None:
    centres = np.array([c for c, _ in g["blobs"]])
    radii = np.round(np.array([r for _, r in g["blobs"]]) * 2) / 2
    m = cv.claim("Emphysema", cv.balls(centres, radii) & cv.parenchyma(), centres[0])
    cv.hu[m] = np.minimum(g["hu"] + 6 * cv.tex[m], -955)


def plan_lung_nodule(rng: np.random.Generator, a: Anatomy) -> Plan:
    count = int(rng.choice([1, 2, 3, 4, 5], p=[0.55, 0.2, 0.12, 0.08, 0.05]))
    nodules, found = [], []
    for i in range(count):
        d = float(np.clip(rng.lognormal(np.log(11), 0.4), 8, 30)) if i == 0 else rng.uniform(6, 10)
        side = -1 if rng.random() < 0.55 else 1
        centre = a.random_lung_point(rng, side, d / 2 + 8)
        nodules.append((centre, d / 2 * rng.uniform(0.88, 1.12, 3)))
        found.append((side, centre))
    character = pick(rng, {"solid": 0.85, "part-solid": 0.08, "ground-glass": 0.07})
    d0 = 2 * float(nodules[0][1].mean())
    details = {
        "count": count,
        "size_mm": int(round(d0)),
        "side": SIDES[found[0][0]],
        "lobe": lobe_at(a, *found[0]),
        "character": character,
    }
    return details, {"nodules": nodules, "character": character}


def draw_lung_nodule(cv: Canvas, g: dict) -> None:
    for i, (centre, semi) in enumerate(g["nodules"]):
        m = cv.claim("Lung nodule", cv.blob(centre, semi, 0.15) & cv.lungs(), centre)
        solid = g["character"] == "solid" or i > 0
        cv.hu[m] = (38 if solid else -420) + 8 * cv.tex[m]
        if g["character"] == "part-solid" and i == 0:
            core = cv.ellipsoid(centre, semi * 0.5) & m
            cv.hu[core] = 35


def plan_lung_opacity(rng: np.random.Generator, a: Anatomy) -> Plan:
    sides, side_name = pick_sides(rng, 0.5)
    patches, found = [], []
    for side in sides:
        for _ in range(int(rng.integers(1, 4))):
            r = rng.uniform(14, 34)
            centre = a.random_lung_point(rng, side, 8)
            patches.append((centre, r * rng.uniform(0.8, 1.2, 3)))
            found.append((side, centre))
    extent = "focal" if len(patches) == 1 else "multifocal" if len(patches) < 4 else "patchy"
    details = {"side": side_name, "lobes": lobes_at(a, found), "extent": extent}
    return details, {"patches": patches, "hu": float(rng.uniform(-500, -340))}


def draw_lung_opacity(cv: Canvas, g: dict) -> None:
    free = cv.parenchyma()
    for centre, semi in g["patches"]:
        m = cv.claim("Lung opacity", cv.blob(centre, semi, 0.35) & free, centre)
        cv.hu[m] = np.maximum(cv.hu[m], g["hu"] + 30 * cv.tex[m])


def plan_consolidation(rng: np.random.Generator, a: Anatomy) -> Plan:
    side = -1 if rng.random() < 0.5 else 1
    low = a.z_car
    centre = a.random_lung_point(rng, side, 14, where=lambda z, y, x: z > low)
    r = rng.uniform(20, 38)
    toward = a.hila[side] - centre
    toward /= np.linalg.norm(toward)
    lines = [np.stack([centre + toward * r * 0.7, centre - toward * r * 0.5])]
    lines.append(np.stack([centre, centre - toward * r * 0.4 + rng.normal(0, 8, 3)]))
    details = {
        "side": SIDES[side],
        "lobe": lobe_at(a, side, centre),
        "extent": "lobar" if r > 30 else "segmental",
        "air_bronchograms": bool(rng.random() < 0.7),
    }
    return details, {
        "centre": centre,
        "semi": r * rng.uniform(0.75, 1.1, 3),
        "lines": lines,
        "bronchograms": details["air_bronchograms"],
        "side": side,
    }


def draw_consolidation(cv: Canvas, g: dict) -> None:
    region = cv.blob(g["centre"], g["semi"], 0.3) & cv.lungs(g["side"])
    m = cv.claim("Consolidation", region, g["centre"])
    cv.hu[m] = 35 + 8 * cv.tex[m]
    if g["bronchograms"]:
        for line in g["lines"]:
            air = tube(cv.grid, line, 1.5) & m
            cv.hu[air] = -900


def plan_pulmonary_fibrotic_sequela(rng: np.random.Generator, a: Anatomy) -> Plan:
    sides, side_name = pick_sides(rng, 0.6)
    severity = pick(rng, {"mild": 0.55, "moderate": 0.35, "marked": 0.1})
    scars, found = [], []
    for side in sides:
        for _ in range(int(rng.integers(2, 5))):
            start = a.random_lung_point(rng, side, 4)
            toward = a.hila[side] - start
            end = start + toward / np.linalg.norm(toward) * rng.uniform(15, 35)
            scars.append(np.stack([start, end + rng.normal(0, 4, 3)]))
            found.append((side, start))
    details = {
        "side": side_name,
        "lobes": lobes_at(a, found),
        "severity": severity,
        "reticulation": severity != "mild",
    }
    geom = {
        "scars": scars,
        "sides": sides,
        "reticulation": severity != "mild",
        "seed": int(rng.integers(2**31)),
    }
    return details, geom


def _periphery(cv: Canvas, side: int, depth: float) -> np.ndarray:
    z, y, x = cv.coords()
    return cv.lungs(side) & ~cv.a.lung_inside(side, z, y, x, margin=depth)


def draw_pulmonary_fibrotic_sequela(cv: Canvas, g: dict) -> None:
    for scar in g["scars"]:
        m = cv.claim("Pulmonary fibrotic sequela", tube(cv.grid, scar, 2.8) & cv.lungs(), scar[0])
        cv.hu[m] = 10 + 15 * cv.tex[m]
    if g["reticulation"]:
        for side in g["sides"]:
            zone = _periphery(cv, side, 14) & cv.parenchyma(side)
            zone &= cv.coords()[0] > cv.a.z_car + 10
            idx, pts = cv.body_points(zone)
            net = np.abs(lattice_noise(g["seed"] + side, pts, 7.0)) > 1.0
            region = np.zeros_like(zone)
            region[tuple(idx[net].T)] = True
            m = cv.claim("Pulmonary fibrotic sequela", region, cv.a.hila[side])
            cv.hu[m] = -320 + 40 * cv.tex[m]


def plan_interlobular_septal_thickening(rng: np.random.Generator, a: Anatomy) -> Plan:
    sides, side_name = pick_sides(rng, 0.85)
    distribution = pick(rng, {"peripheral": 0.5, "basal": 0.5})
    normals = rng.normal(size=(3, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    geom = {
        "sides": sides,
        "basal": distribution == "basal",
        "normals": normals,
        "phases": rng.uniform(0, 1, 3),
        "cell": rng.uniform(11, 15),
    }
    return {"side": side_name, "distribution": distribution}, geom


def draw_interlobular_septal_thickening(cv: Canvas, g: dict) -> None:
    half = max(1.0, 0.4 * min(cv.grid.spacing))
    for side in g["sides"]:
        zone = _periphery(cv, side, 20) & cv.parenchyma(side)
        if g["basal"]:
            zone &= cv.coords()[0] > cv.a.z_car + 20
        idx, pts = cv.body_points(zone)
        u = pts @ g["normals"].T / g["cell"] + g["phases"]
        near = (np.abs(u - np.rint(u)) * g["cell"] < half).any(axis=1)
        region = np.zeros_like(zone)
        region[tuple(idx[near].T)] = True
        m = cv.claim("Interlobular septal thickening", region, cv.a.hila[side] + [40, 0, side * 40])
        cv.hu[m] = -150 + 30 * cv.tex[m]


def plan_mosaic_attenuation_pattern(rng: np.random.Generator, a: Anatomy) -> Plan:
    sides, side_name = pick_sides(rng, 0.9)
    return {"side": side_name}, {"sides": sides, "seed": int(rng.integers(2**31))}


def draw_mosaic_attenuation_pattern(cv: Canvas, g: dict) -> None:
    for side in g["sides"]:
        zone = cv.parenchyma(side)
        idx, pts = cv.body_points(zone)
        f = lattice_noise(g["seed"] + side, pts, 24.0)
        for sel, value in ((f > 0.45, -930.0), (f < -0.45, -760.0)):
            region = np.zeros_like(zone)
            region[tuple(idx[sel].T)] = True
            m = cv.claim("Mosaic attenuation pattern", region, cv.a.hila[side] + [0, 0, side * 40])
            cv.hu[m] = value + 8 * cv.tex[m]
