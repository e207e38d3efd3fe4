"""The ``synth-rad-chestct`` site: phantoms written in Rad-ChestCT's exact on-disk layout.

One npz per volume (key ``ct``, int16 HU clipped to [-1000, 1000], canonical axis order), the
three ``abnormality*location`` label tables and ``Summary_3630.csv``; no report text, like the
public release. Another site: isotropic voxels, a tighter field of view, smoother and blotchier
noise and a calibration offset (see synth_site.RADCHEST). Each rendered finding sets its
Rad-ChestCT abnormality at the locations where it was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cabench.data.phantom import plan_case, render_case
from cabench.data.phantom_labels import sample_patient
from cabench.data.synth_io import save_npz, write_csv
from cabench.data.synth_reports import write_report
from cabench.data.synth_site import RADCHEST, apply_site
from cabench.vocab import radchestct_map

NAME = "synth-rad-chestct"
SITE_CODE = 2
DEFAULT_SHAPE = (96, 112, 112)
FOV_MM = (288.0, 336.0, 336.0)
SUBSETS = {"imgtrain": ("trn", "train"), "imgvalid": ("val", "valid"), "imgtest": ("tst", "test")}

ABNORMALITIES = """air_trapping airspace_disease aneurysm arthritis aspiration atelectasis
atherosclerosis bandlike_or_linear breast_implant breast_surgery bronchial_wall_thickening
bronchiectasis bronchiolectasis bronchiolitis bronchitis cabg calcification cancer
cardiomegaly catheter_or_port cavitation chest_tube clip congestion consolidation
coronary_artery_disease cyst debris deformity density dilation_or_ectasia distention
emphysema fibrosis fracture gi_tube granuloma groundglass hardware heart_failure
heart_valve_replacement hemothorax hernia honeycombing infection infiltrate inflammation
interstitial_lung_disease lesion lucency lung_resection lymphadenopathy mass
mucous_plugging nodule nodulegr1cm opacity other_path pacemaker_or_defib
pericardial_effusion pericardial_thickening plaque pleural_effusion pleural_thickening
pneumonia pneumonitis pneumothorax postsurgical pulmonary_edema reticulation scarring
scattered_calc scattered_nod secretion septal_thickening soft_tissue staple stent
sternotomy suture tracheal_tube transplant tree_in_bud tuberculosis""".split()  # noqa: SIM905
LOCATIONS = """right_upper right_mid right_lower left_upper left_mid left_lower right_lung left_lung
lung airways heart aorta mediastinum esophagus pleura pericardium coronary_artery
pulmonary_artery svc ivc hilum trachea thyroid axilla breast chest_wall rib sternum
spine clavicle scapula shoulder diaphragm liver gallbladder spleen stomach pancreas
kidney adrenal_gland abdomen bowel lymph_node heart_valve atrium ventricle
great_vessel_other neck skin soft_tissue_other bone_other other_location""".split()  # noqa: SIM905
LOBE_LOCATION = {
    "right upper lobe": "right_upper",
    "right middle lobe": "right_mid",
    "right lower lobe": "right_lower",
    "left upper lobe": "left_upper",
    "lingula": "left_mid",
    "left lower lobe": "left_lower",
}
# findings without a Rad-ChestCT counterpart in the public map, and where the others sit
UNMAPPED = {
    "Lymphadenopathy": "lymphadenopathy",
    "Medical material": "catheter_or_port",
    "Mosaic attenuation pattern": "air_trapping",
}
FIXED_LOCATION = {
    "Medical material": ["mediastinum"],
    "Arterial wall calcification": ["aorta"],
    "Cardiomegaly": ["heart"],
    "Pericardial effusion": ["heart"],
    "Coronary artery wall calcification": ["heart"],
    "Hiatal hernia": ["esophagus"],
    "Lymphadenopathy": ["mediastinum"],
}
# abnormalities that no finding draws, set at a low rate (label noise of a real labeller)
BACKGROUND = [
    ("granuloma", "right_upper", 0.04),
    ("arthritis", "spine", 0.05),
    ("cyst", "liver", 0.04),
    ("scarring", "lung", 0.03),
    ("postsurgical", "chest_wall", 0.02),
    ("deformity", "rib", 0.02),
]


@dataclass(frozen=True)
class VolumeTask:
    seed: int
    index: int
    note_acc: str  # NoteAcc_DEID, e.g. trn00022
    mrn: str
    subset: str  # imgtrain, imgvalid or imgtest
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def name(self) -> str:
        return self.note_acc


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, SITE_CODE, *keys])


def spacing_for(shape: tuple[int, int, int]) -> tuple[float, float, float]:
    """Isotropic spacing that fits the field of view into every axis (on a 1/256 mm grid)."""
    s = max(np.ceil(f / n * 256) / 256 for f, n in zip(FOV_MM, shape, strict=True))
    return (float(s),) * 3


def plan_tasks(
    cases: int, shape: tuple[int, int, int], seed: int, layout: str, valid_fraction: float
) -> list[VolumeTask]:
    """One volume per patient; subsets imgvalid (valid_fraction), imgtest (10%), imgtrain."""
    rng = rng_for(seed, 0)
    n_valid = int(round(valid_fraction * cases))
    n_test = min(int(round(0.1 * cases)), cases - n_valid)
    subsets = ["imgvalid"] * n_valid + ["imgtest"] * n_test
    subsets += ["imgtrain"] * (cases - len(subsets))
    subsets = [subsets[i] for i in rng.permutation(cases)]
    numbers = rng.choice(36000, size=cases, replace=False)
    mrns = rng.choice(100000, size=cases, replace=False)
    spacing = spacing_for(shape)
    return [
        VolumeTask(
            seed, i, f"{SUBSETS[sub][0]}{numbers[i]:05d}", f"AA{mrns[i]:05d}", sub, shape, spacing
        )
        for i, sub in enumerate(subsets)
    ]


def render(task: VolumeTask, root: Path) -> dict:
    """Render, write the npz volume, mask and findings sidecar; return the table rows."""
    patient = sample_patient(rng_for(task.seed, 1, task.index))
    plan = plan_case(rng_for(task.seed, 2, task.index), patient=patient)
    rng = rng_for(task.seed, 3, task.index)
    case = render_case(plan, task.shape, task.spacing, rng)
    ct = apply_site(case.hu, RADCHEST, rng)
    save_npz(root / f"{task.note_acc}.npz", 1, ct=ct)
    save_npz(root / "anatomy_masks" / f"{task.note_acc}.npz", 1, labels=case.structures)
    save_npz(
        root / "cabench_synth" / "findings" / f"{task.note_acc}.npz", 1, findings=case.findings
    )
    report = write_report(
        rng_for(task.seed, 5, task.index),
        case.labels,
        case.details,
        age=patient.age,
        sex=patient.sex,
        slice_mm=task.spacing[0],
    )
    positives = location_labels(case, rng_for(task.seed, 4, task.index))
    return {
        "name": task.note_acc,
        "subset": task.subset,
        "mrn": task.mrn,
        "positives": sorted(positives),
        "sentences": [(s.anatomy, s.text) for s in report.sentences],
    }


def location_labels(case, rng: np.random.Generator) -> set[str]:
    """``abnormality*location`` columns set to 1 for one rendered case."""
    mapped: dict[str, list[str]] = {}
    for abnormality, finding in radchestct_map():
        mapped.setdefault(finding, []).append(abnormality)
    out: set[str] = set()
    for finding, on in case.labels.items():
        if not on:
            continue
        abnormality = mapped.get(finding, [UNMAPPED.get(finding)])[0]
        if finding == "Medical material" and case.details[finding]["device"] == "pacemaker lead":
            abnormality = "pacemaker_or_defib"
        out |= {f"{abnormality}*{loc}" for loc in _where(finding, case)}
    for abnormality, location, rate in BACKGROUND:
        if rng.random() < rate:
            out.add(f"{abnormality}*{location}")
    return out


def _where(finding: str, case) -> list[str]:
    if finding in FIXED_LOCATION:
        return FIXED_LOCATION[finding]
    lobes = case.locations.get(finding, [])
    if finding == "Pleural effusion":
        return sorted(
            {
                "left_lung" if lobe.startswith(("left", "lingula")) else "right_lung"
                for lobe in lobes
            }
        )
    where = [LOBE_LOCATION[lobe] for lobe in lobes]
    if finding in ("Bronchiectasis", "Peribronchial thickening"):
        where.append("airways")
    return where or ["lung"]


def label_columns() -> list[str]:
    return [f"{a}*{loc}" for a in ABNORMALITIES for loc in LOCATIONS]


def write_tables(root: Path, results: list[dict], layout: str) -> None:
    """The three label tables (one per subset) and the summary table."""
    columns = label_columns()
    for subset in SUBSETS:
        rows = sorted((r for r in results if r["subset"] == subset), key=lambda r: r["name"])
        table = []
        for r in rows:
            on = set(r["positives"])
            table.append([r["name"], *("1.0" if c in on else "0.0" for c in columns)])
        header = ["NoteAcc_DEID", *columns]
        write_csv(root / f"{subset}_Abnormality_and_Location_Labels.csv", header, table)
    summary = sorted(results, key=lambda r: r["name"])
    write_csv(
        root / "Summary_3630.csv",
        ["MRN_DEID", "NoteAcc_DEID", "Set_Assigned", "Subset_Assigned"],
        [[r["mrn"], r["name"], SUBSETS[r["subset"]][1], r["subset"]] for r in summary],
    )
