"""Who the synthetic patients are and which of the 18 findings each scan has.

Findings co-occur the way they do clinically through a few latent states: age group (vascular
calcification, emphysema, fibrosis), smoking (emphysema, bronchial wall thickening,
bronchiectasis), an acute infection (consolidation, opacity, atelectasis, effusion, nodes) and
heart failure (cardiomegaly, effusions, septal thickening, devices). Each finding is a logistic
function of the latent state; its intercept is solved exactly (bisection over the finitely many
states) so the marginal prevalence matches CT-RATE's validation set. A share of scans is forced
normal, so about a fifth of all scans have no finding.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np

from cabench.vocab import finding_names

# Positives among the 3,039 CT-RATE validation volumes (formats/CT-RATE.md), in CT-RATE order.
VALID_POSITIVES = {
    "Medical material": 313,
    "Arterial wall calcification": 867,
    "Cardiomegaly": 325,
    "Pericardial effusion": 226,
    "Coronary artery wall calcification": 765,
    "Hiatal hernia": 417,
    "Lymphadenopathy": 789,
    "Emphysema": 600,
    "Atelectasis": 713,
    "Lung nodule": 1361,
    "Lung opacity": 1184,
    "Pulmonary fibrotic sequela": 831,
    "Pleural effusion": 376,
    "Mosaic attenuation pattern": 253,
    "Peribronchial thickening": 355,
    "Consolidation": 581,
    "Bronchiectasis": 330,
    "Interlobular septal thickening": 249,
}
VALID_N = 3039
FORCED_NORMAL = 0.18  # plus the scans that draw no finding by chance: about 20% normal in all

AGE_GROUPS = ((0.30, 20, 45), (0.40, 45, 65), (0.30, 65, 89))  # (probability, min age, max age)
P_SMOKER = 0.30
P_ACUTE = 0.25
P_HEART_FAILURE = (0.04, 0.10, 0.22)  # by age group

# Logit weights on (age 45-65, age 65+, smoker, acute infection, heart failure).
WEIGHTS = {
    "Medical material": (0.3, 0.6, 0.0, 1.0, 1.5),
    "Arterial wall calcification": (2.0, 3.5, 0.5, 0.0, 0.5),
    "Cardiomegaly": (0.5, 1.2, 0.0, 0.0, 2.5),
    "Pericardial effusion": (0.2, 0.4, 0.0, 0.5, 2.0),
    "Coronary artery wall calcification": (2.0, 3.2, 0.6, 0.0, 0.8),
    "Hiatal hernia": (0.8, 1.5, 0.0, 0.0, 0.0),
    "Lymphadenopathy": (0.3, 0.6, 0.3, 1.0, 0.8),
    "Emphysema": (0.8, 1.2, 2.5, 0.0, 0.0),
    "Atelectasis": (0.3, 0.7, 0.0, 1.2, 1.2),
    "Lung nodule": (0.4, 0.7, 0.7, 0.2, 0.0),
    "Lung opacity": (0.2, 0.4, 0.3, 2.0, 1.2),
    "Pulmonary fibrotic sequela": (0.8, 1.5, 0.6, 0.5, 0.0),
    "Pleural effusion": (0.2, 0.6, 0.0, 1.0, 2.5),
    "Mosaic attenuation pattern": (0.2, 0.3, 0.8, 0.8, 0.0),
    "Peribronchial thickening": (0.0, 0.2, 1.5, 1.0, 0.0),
    "Consolidation": (0.1, 0.4, 0.0, 2.5, 0.5),
    "Bronchiectasis": (0.4, 0.8, 0.8, 0.6, 0.0),
    "Interlobular septal thickening": (0.2, 0.5, 0.0, 0.5, 2.0),
}


@dataclass(frozen=True)
class Patient:
    """Attributes shared by every scan of one synthetic patient."""

    age: int
    sex: str  # "M" or "F"
    build: float  # body size factor around 1
    age_group: int  # 0, 1, 2 (see AGE_GROUPS)
    smoker: bool


def target_prevalence() -> dict[str, float]:
    """CT-RATE validation prevalence of each finding (CT-RATE order)."""
    return {name: VALID_POSITIVES[name] / VALID_N for name in finding_names()}


def _features(age_group: int, smoker: int, acute: int, hf: int) -> np.ndarray:
    return np.array([age_group == 1, age_group == 2, smoker, acute, hf], dtype=float)


@cache
def _states() -> tuple[np.ndarray, np.ndarray]:
    """All latent states as a feature matrix (n, 5) with their probabilities (n,)."""
    feats, probs = [], []
    for g, s, a, h in itertools.product(range(3), (0, 1), (0, 1), (0, 1)):
        p = AGE_GROUPS[g][0]
        p *= P_SMOKER if s else 1 - P_SMOKER
        p *= P_ACUTE if a else 1 - P_ACUTE
        p *= P_HEART_FAILURE[g] if h else 1 - P_HEART_FAILURE[g]
        feats.append(_features(g, s, a, h))
        probs.append(p)
    return np.array(feats), np.array(probs)


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


@cache
def intercepts() -> dict[str, float]:
    """Per-finding logit intercepts that reproduce the target prevalences exactly."""
    feats, probs = _states()
    out = {}
    for name, prevalence in target_prevalence().items():
        goal = prevalence / (1.0 - FORCED_NORMAL)
        w = np.asarray(WEIGHTS[name])
        lo, hi = -20.0, 20.0
        for _ in range(80):
            mid = (lo + hi) / 2
            if probs @ _sigmoid(mid + feats @ w) < goal:
                lo = mid
            else:
                hi = mid
        out[name] = (lo + hi) / 2
    return out


def sample_patient(rng: np.random.Generator) -> Patient:
    """Age, sex, body build and smoking status of one patient."""
    g = int(rng.choice(3, p=[p for p, _, _ in AGE_GROUPS]))
    age = int(rng.integers(AGE_GROUPS[g][1], AGE_GROUPS[g][2]))
    sex = "M" if rng.random() < 0.55 else "F"
    build = float(np.clip(rng.normal(1.0, 0.05), 0.9, 1.1)) * (1.0 if sex == "M" else 0.95)
    return Patient(age, sex, build, g, bool(rng.random() < P_SMOKER))


def sample_labels(rng: np.random.Generator, patient: Patient) -> dict[str, int]:
    """0/1 per finding for one scan of ``patient`` (the acute and heart-failure states are drawn
    per scan; a forced-normal share has no finding at all)."""
    acute = int(rng.random() < P_ACUTE)
    hf = int(rng.random() < P_HEART_FAILURE[patient.age_group])
    draws = rng.random(len(WEIGHTS))
    if rng.random() < FORCED_NORMAL:
        return {name: 0 for name in finding_names()}
    x = _features(patient.age_group, int(patient.smoker), acute, hf)
    b = intercepts()
    return {
        name: int(draws[i] < _sigmoid(b[name] + x @ np.asarray(WEIGHTS[name])))
        for i, name in enumerate(finding_names())
    }
