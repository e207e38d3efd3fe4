"""A procedural chest-CT phantom with the 18 CT-RATE findings drawn inside their anatomy.

One scan is planned once (:func:`plan_case`: patient, labels, anatomy and every finding's geometry
in millimetres) and rendered on any grid (:func:`render_case`), so the reconstructions of a scan
show the same anatomy and findings at different resolutions. Arrays come out in cabench's
canonical orientation (see cabench.data.base): (D, H, W), slice 0 most superior, rows anterior ->
posterior, columns patient right -> left. HU values are clean: site effects (noise, kernels,
calibration) belong to the writers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cabench.data import phantom_airway as airway
from cabench.data import phantom_central as central
from cabench.data import phantom_lung as lung
from cabench.data.phantom_anatomy import Anatomy, S, sample_anatomy
from cabench.data.phantom_canvas import Canvas, finding_bit
from cabench.data.phantom_geometry import Grid
from cabench.data.phantom_labels import Patient, sample_labels, sample_patient
from cabench.data.phantom_paint import paint_anatomy
from cabench.errors import UserError
from cabench.vocab import anatomy_set, finding_names

DEFAULT_SHAPE = (64, 128, 128)
DEFAULT_FOV_MM = (320.0, 345.0, 345.0)  # a chest from the thoracic inlet to the upper abdomen

# finding -> (planner, drawer), listed in drawing order: anatomy changes first, airways before
# parenchyma, texture findings before the focal ones that override them, calcium last.
FINDINGS: dict[str, tuple[Callable, Callable]] = {
    "Cardiomegaly": (central.plan_cardiomegaly, central.draw_cardiomegaly),
    "Pericardial effusion": (central.plan_pericardial_effusion, central.draw_pericardial_effusion),
    "Hiatal hernia": (central.plan_hiatal_hernia, central.draw_hiatal_hernia),
    "Pleural effusion": (airway.plan_pleural_effusion, airway.draw_pleural_effusion),
    "Atelectasis": (lung.plan_atelectasis, lung.draw_atelectasis),
    "Bronchiectasis": (airway.plan_bronchiectasis, airway.draw_bronchiectasis),
    "Peribronchial thickening": (
        airway.plan_peribronchial_thickening,
        airway.draw_peribronchial_thickening,
    ),
    "Emphysema": (lung.plan_emphysema, lung.draw_emphysema),
    "Mosaic attenuation pattern": (
        lung.plan_mosaic_attenuation_pattern,
        lung.draw_mosaic_attenuation_pattern,
    ),
    "Interlobular septal thickening": (
        lung.plan_interlobular_septal_thickening,
        lung.draw_interlobular_septal_thickening,
    ),
    "Pulmonary fibrotic sequela": (
        lung.plan_pulmonary_fibrotic_sequela,
        lung.draw_pulmonary_fibrotic_sequela,
    ),
    "Lung opacity": (lung.plan_lung_opacity, lung.draw_lung_opacity),
    "Consolidation": (lung.plan_consolidation, lung.draw_consolidation),
    "Lung nodule": (lung.plan_lung_nodule, lung.draw_lung_nodule),
    "Lymphadenopathy": (central.plan_lymphadenopathy, central.draw_lymphadenopathy),
    "Medical material": (central.plan_medical_material, central.draw_medical_material),
    "Arterial wall calcification": (
        central.plan_arterial_wall_calcification,
        central.draw_arterial_wall_calcification,
    ),
    "Coronary artery wall calcification": (
        central.plan_coronary_artery_wall_calcification,
        central.draw_coronary_artery_wall_calcification,
    ),
}
LUNG_LOCATED = ("lung", "pleura", "airway")  # chest7 anatomies whose findings get lobe locations


@dataclass
class CasePlan:
    """Everything random about one scan, in millimetres; render it on any grid."""

    patient: Patient
    labels: dict[str, int]
    anatomy: Anatomy
    findings: dict[str, tuple[dict, dict]]  # finding -> (report details, drawing geometry)
    position: tuple[float, float, float]  # body (z, y, x) at the volume centre
    angle_deg: float


@dataclass
class PhantomCase:
    """One rendered volume before site effects (canonical orientation, see module docstring)."""

    hu: np.ndarray  # float32 (D, H, W)
    structures: np.ndarray  # uint8 (D, H, W), labels of cabench/vocab_data/structures.yaml
    findings: np.ndarray  # uint32 (D, H, W), bit i = i-th finding of vocab.finding_names()
    labels: dict[str, int]
    details: dict[str, dict]
    spacing: tuple[float, float, float]
    age: int
    sex: str
    locations: dict[str, list[str]] = field(default_factory=dict)  # lung findings -> lobes


def plan_case(
    rng: np.random.Generator,
    patient: Patient | None = None,
    labels: Mapping[str, int] | None = None,
) -> CasePlan:
    """Draw one scan: patient (unless given), labels (unless given; findings missing from a
    given mapping are 0), anatomy and findings. Each finding plans from its own seed, so turning
    one finding on or off leaves the others where they were."""
    patient = patient or sample_patient(rng)
    if labels is None:
        labels = sample_labels(rng, patient)
    else:
        unknown = set(labels) - set(finding_names())
        if unknown:
            raise UserError(f"unknown findings {sorted(unknown)}: use vocab.finding_names()")
        labels = {name: int(bool(labels.get(name, 0))) for name in finding_names()}
    seeds = rng.integers(0, 2**62, size=len(FINDINGS))
    anatomy = Anatomy(sample_anatomy(rng, patient))
    planned: dict[str, tuple[dict, dict]] = {}
    for i, (name, (planner, _)) in enumerate(FINDINGS.items()):
        if not labels[name]:
            continue
        sub = np.random.default_rng(int(seeds[i]))
        if name == "Atelectasis":
            effusion = planned.get("Pleural effusion", (None, None))[1]
            planned[name] = planner(sub, anatomy, effusion)
        else:
            planned[name] = planner(sub, anatomy)
    position = (float(-12 + rng.normal(0, 6)), float(rng.normal(6, 4)), float(rng.normal(0, 4)))
    angle = float(np.clip(rng.normal(0, 2.0), -5, 5))
    return CasePlan(patient, dict(labels), anatomy, planned, position, angle)


def render_case(
    plan: CasePlan, shape: Sequence[int], spacing: Sequence[float], rng: np.random.Generator
) -> PhantomCase:
    """Paint the planned scan on a (D, H, W) grid of ``spacing`` mm."""
    grid = Grid(
        tuple(int(n) for n in shape),
        tuple(float(s) for s in spacing),
        plan.position,
        plan.angle_deg,
    )
    painted = paint_anatomy(plan.anatomy, grid, rng)
    canvas = Canvas(grid, plan.anatomy, painted)
    for name, (_, drawer) in FINDINGS.items():
        if name in plan.findings:
            drawer(canvas, plan.findings[name][1])
    positives = [n for n in finding_names() if plan.labels[n]]
    canvas.finalize(positives)
    np.clip(canvas.hu, -1024, 3071, out=canvas.hu)
    return PhantomCase(
        hu=canvas.hu,
        structures=canvas.labels,
        findings=canvas.bits,
        labels=dict(plan.labels),
        details={n: plan.findings[n][0] for n in positives},
        spacing=grid.spacing,
        age=plan.patient.age,
        sex=plan.patient.sex,
        locations=_lung_locations(canvas, positives),
    )


def default_spacing(shape: Sequence[int], fov_mm: Sequence[float] = DEFAULT_FOV_MM) -> tuple:
    """Spacing that fits ``fov_mm`` into ``shape`` (a chest in any resolution)."""
    return tuple(float(f) / int(n) for f, n in zip(fov_mm, shape, strict=True))


def make_case(
    seed: int | Sequence[int],
    shape: Sequence[int] = DEFAULT_SHAPE,
    spacing: Sequence[float] | None = None,
    labels: Mapping[str, int] | None = None,
) -> PhantomCase:
    """Plan and render one case from a seed (convenience for tests and notebooks)."""
    rng = np.random.default_rng(seed)
    plan = plan_case(rng, labels=labels)
    return render_case(plan, shape, spacing or default_spacing(shape), rng)


def _lung_locations(cv: Canvas, positives: list[str]) -> dict[str, list[str]]:
    """Lobes holding at least a tenth of a lung, pleura or airway finding's voxels."""
    chest7 = anatomy_set("chest7")
    out: dict[str, list[str]] = {}
    for name in positives:
        if chest7.anatomy_of(name) not in LUNG_LOCATED:
            continue
        plane = (cv.bits & np.uint32(finding_bit(name))) != 0
        idx, pts = cv.body_points(plane)
        labels = cv.labels[tuple(idx.T)]
        sides = np.where(pts[:, 2] >= 0, 1, -1)  # pleura and airways: by the midline
        sides[labels == S["lung_left"]] = 1
        sides[labels == S["lung_right"]] = -1
        lobes = np.empty(len(pts), dtype=object)
        for side in (-1, 1):
            sel = sides == side
            lobes[sel] = cv.a.lobe(side, pts[sel, 0], pts[sel, 1])
        names, counts = np.unique(lobes.astype(str), return_counts=True)
        keep = [str(n) for n, c in zip(names, counts, strict=True) if c >= 0.1 * len(pts)]
        out[name] = keep or [str(names[int(np.argmax(counts))])]
    return out
