"""What the synthetic radiologist says: phrasings per finding, normal statements per anatomy and
impression lines, each a function of the finding's details (size, side, lobe, severity).

Every phrasing is one sentence about one chest7 anatomy and contains no ". " inside, so a sentence
splitter sees exactly the sentences the generator meant.
"""

from __future__ import annotations

from collections.abc import Mapping


def _where(d: Mapping) -> str:
    side = d.get("side")
    return "both lungs" if side == "bilateral" else f"the {side} lung"


def _lobes(d: Mapping) -> str:
    lobes = list(d.get("lobes") or [d.get("lobe", "lungs")])
    return ", ".join(lobes[:-1]) + " and " + lobes[-1] if len(lobes) > 1 else lobes[0]


def _nodule(d: Mapping) -> list[str]:
    kind = {"solid": "solid", "part-solid": "part-solid", "ground-glass": "ground-glass"}
    c = kind[d["character"]]
    if d["count"] == 1:
        return [
            f"A {d['size_mm']} mm {c} nodule is seen in the {d['lobe']}.",
            f"There is a {c} nodule measuring {d['size_mm']} mm in the {d['lobe']}.",
            f"A {c} pulmonary nodule of {d['size_mm']} mm is noted in the {d['lobe']}.",
        ]
    n = {2: "Two", 3: "Three", 4: "Four", 5: "Five"}[d["count"]]
    return [
        f"{n} nodules are seen, the largest measuring {d['size_mm']} mm in the {d['lobe']}.",
        f"Multiple pulmonary nodules, the largest {d['size_mm']} mm in the {d['lobe']}.",
        f"{n} {c} nodules are observed, the largest in the {d['lobe']} with {d['size_mm']} mm.",
    ]


COR = {
    "LAD": "left anterior descending artery",
    "RCA": "right coronary artery",
    "LCx": "circumflex artery",
}


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


# finding -> phrasings from its details (each phrasing is one sentence)
POSITIVE = {
    "Medical material": lambda d: {
        "central venous catheter": [
            "A central venous catheter is seen with its tip in the superior vena cava.",
            "Central venous catheter is observed in the superior vena cava.",
        ],
        "port catheter": [
            "A port catheter is seen extending into the superior vena cava.",
            "Port catheter is observed with its tip in the superior vena cava.",
        ],
        "pacemaker lead": [
            "Pacemaker leads are seen along the superior vena cava.",
            "Pacemaker lead is observed in the superior vena cava.",
        ],
    }[d["device"]],
    "Arterial wall calcification": lambda d: [
        f"Atherosclerotic calcifications are seen in the wall of the {_and(d['segments'])}.",
        f"Calcified atherosclerotic plaques are observed in the {_and(d['segments'])}.",
        f"{d['severity'].capitalize()} arterial wall calcification is present in the "
        "thoracic aorta.",
    ],
    "Cardiomegaly": lambda d: [
        "The heart is enlarged.",
        "Cardiomegaly is present.",
        f"{d['severity'].capitalize()} cardiomegaly is observed.",
        "Heart size is increased.",
    ],
    "Pericardial effusion": lambda d: [
        f"{d['size'].capitalize()} pericardial effusion is seen, {d['thickness_mm']} mm thick.",
        f"Pericardial effusion with a thickness of {d['thickness_mm']} mm is observed.",
        f"There is {d['size']} pericardial effusion.",
    ],
    "Coronary artery wall calcification": lambda d: [
        "Calcified atherosclerotic plaques are seen in the coronary arteries.",
        f"Coronary artery calcifications are noted in the {_and([COR[v] for v in d['vessels']])}.",
        f"{d['severity'].capitalize()} coronary artery wall calcification is present.",
    ],
    "Hiatal hernia": lambda d: [
        f"A {d['size']} hiatal hernia is seen.",
        f"Sliding hiatal hernia measuring {d['diameter_mm']} mm is observed.",
        "Hiatal hernia is present at the distal esophagus.",
    ],
    "Lymphadenopathy": lambda d: [
        f"Lymph nodes up to {d['short_axis_mm']} mm in short axis are seen in the "
        f"{_and(d['stations'])} stations.",
        f"Enlarged lymph nodes are observed in the {_and(d['stations'])} region.",
        f"Mediastinal lymphadenopathy is present, the largest node {d['short_axis_mm']} mm in "
        "short axis.",
    ],
    "Emphysema": lambda d: [
        f"{d['kind'].capitalize()} emphysematous changes are seen in {_where(d)}.",
        f"{d['severity'].capitalize()} {d['kind']} emphysema is present in {_where(d)}.",
        f"There are {d['kind']} emphysema areas in the {_lobes(d)}.",
    ],
    "Atelectasis": lambda d: {
        "linear": [
            f"Subsegmental linear atelectasis is seen in the {d['lobe']}.",
            f"Band-like atelectatic changes are observed in the {d['lobe']}.",
        ],
        "basal": [
            f"Atelectasis is noted in the posterobasal segment of the {d['lobe']}.",
            f"There is basal atelectasis in the {d['lobe']}.",
        ],
        "passive": [
            f"Passive atelectasis is seen in the adjacent parenchyma of the {d['lobe']}.",
            f"Compressive atelectasis is observed in the {d['lobe']}.",
        ],
    }[d["kind"]],
    "Lung nodule": _nodule,
    "Lung opacity": lambda d: [
        f"Ground-glass opacities are observed in the {_lobes(d)}.",
        f"{d['extent'].capitalize()} ground-glass density increases are seen in the {_lobes(d)}.",
        f"There are areas of ground-glass opacity in {_where(d)}.",
    ],
    "Pulmonary fibrotic sequela": lambda d: [
        f"Fibrotic bands are seen in the {_lobes(d)}.",
        f"Linear fibrotic sequelae are observed in {_where(d)}.",
        f"{d['severity'].capitalize()} fibrotic changes are seen in the {_lobes(d)}"
        + (" with subpleural reticulation." if d["reticulation"] else "."),
    ],
    "Pleural effusion": lambda d: [
        f"Bilateral {d['size']} pleural effusion is present."
        if d["side"] == "bilateral"
        else f"There is a {d['size']} {d['side']} pleural effusion.",
        f"Pleural effusion of {d['size']} volume is seen "
        + ("on both sides." if d["side"] == "bilateral" else f"in the {d['side']} hemithorax."),
    ],
    "Mosaic attenuation pattern": lambda d: [
        f"Mosaic attenuation pattern is observed in {_where(d)}.",
        f"Heterogeneous lung density with a mosaic attenuation pattern in {_where(d)}.",
        f"Areas of mosaic perfusion are seen in {_where(d)}.",
    ],
    "Peribronchial thickening": lambda d: [
        f"Peribronchial thickening is observed in the {_lobes(d)}.",
        f"Bronchial wall thickening is seen in the bronchi of {_where(d)}.",
        "There is peribronchial thickening of the segmental bronchi.",
    ],
    "Consolidation": lambda d: [
        f"A {d['extent']} consolidation is seen in the {d['lobe']}"
        + (" with air bronchograms." if d["air_bronchograms"] else "."),
        f"There is {d['extent']} consolidation in the {d['lobe']}.",
        f"Consolidation area is observed in the {d['lobe']}.",
    ],
    "Bronchiectasis": lambda d: [
        f"{d['kind'].capitalize()} bronchiectasis is seen in the {_lobes(d)}.",
        f"Bronchiectatic changes are noted in the {_lobes(d)}.",
        f"There are {d['kind']} bronchiectases in {_where(d)}.",
    ],
    "Interlobular septal thickening": lambda d: [
        f"Interlobular septal thickening is seen in {_where(d)}.",
        f"Thickening of the interlobular septa is noted in the {d['distribution']} parts of "
        f"{_where(d)}.",
        f"Smooth interlobular septal thickening in the {d['distribution']} zones of {_where(d)}.",
    ],
}

# finding -> ways to say it is absent: "No X ..." and, as often in CT-RATE reports, "X was not
# observed/detected." (a report model must meet both kinds of negation to read either)
NEGATIVE = {
    "Medical material": [
        "No catheter or other medical device is seen in the mediastinum.",
        "A catheter or other medical device was not observed in the mediastinum.",
    ],
    "Arterial wall calcification": [
        "No calcified plaque is seen in the aortic wall.",
        "Atherosclerotic calcification was not observed in the aortic wall.",
    ],
    "Cardiomegaly": [
        "Heart size is normal.",
        "Heart contour and size are normal.",
        "Cardiomegaly was not observed.",
    ],
    "Pericardial effusion": [
        "No pericardial effusion was observed.",
        "Pericardial effusion-thickening was not observed.",
    ],
    "Coronary artery wall calcification": [
        "No coronary artery calcification is seen.",
        "Coronary artery calcification was not detected.",
    ],
    "Hiatal hernia": ["No hiatal hernia is seen.", "Hiatal hernia was not detected."],
    "Lymphadenopathy": [
        "No lymph node in pathological size and appearance was detected in the mediastinum.",
        "No enlarged lymph nodes are seen in the prevascular, paratracheal or subcarinal regions.",
        "Mediastinal lymph nodes of pathological size were not observed.",
    ],
    "Emphysema": ["No emphysematous change is seen.", "Emphysema was not observed in the lungs."],
    "Atelectasis": ["No atelectasis is seen.", "Atelectasis was not observed in the lungs."],
    "Lung nodule": [
        "No nodule was detected in either lung.",
        "A pulmonary nodule was not detected in either lung.",
    ],
    "Lung opacity": [
        "No ground-glass opacity is observed.",
        "Ground-glass opacity was not observed in the lungs.",
    ],
    "Pulmonary fibrotic sequela": [
        "No fibrotic change is seen in the lung parenchyma.",
        "Fibrotic sequelae were not observed in the lung parenchyma.",
    ],
    "Pleural effusion": [
        "No pleural effusion was detected.",
        "No pleural effusion or thickening.",
        "Pleural effusion-thickening was not detected.",
    ],
    "Mosaic attenuation pattern": [
        "Lung parenchymal density is homogeneous.",
        "Mosaic attenuation pattern was not observed in the lungs.",
    ],
    "Peribronchial thickening": [
        "Bronchial walls are of normal thickness.",
        "Peribronchial thickening was not observed.",
    ],
    "Consolidation": ["No consolidation is seen.", "Consolidation was not observed in the lungs."],
    "Bronchiectasis": ["No bronchiectasis is seen.", "Bronchiectasis was not observed."],
    "Interlobular septal thickening": [
        "No interlobular septal thickening is seen.",
        "Interlobular septal thickening was not observed in the lungs.",
    ],
}

NORMAL = {
    "airway": [
        "Trachea and both main bronchi are open.",
        "Trachea and both main bronchi are in the midline and their lumens are patent.",
        "The trachea and main bronchi are patent.",
    ],
    "aorta": [
        "Thoracic aorta diameter is normal.",
        "The calibre of the thoracic aorta is normal.",
        "The thoracic aorta is of normal width without wall calcification.",
    ],
    "heart": [
        "Heart contour and size are normal, no pericardial effusion.",
        "The heart is of normal size and there is no pericardial effusion.",
    ],
    "esophagus": [
        "Thoracic esophagus calibration was normal and no significant tumoral wall "
        "thickening was detected.",
        "The esophagus is of normal calibre.",
    ],
    "mediastinum": NEGATIVE["Lymphadenopathy"]
    + ["Mediastinal structures are otherwise unremarkable."],
    "lung": [
        "No mass or infiltrative lesion was detected in both lungs.",
        "Both lungs are clear.",
        "The lung parenchyma is normal in both lungs.",
    ],
    "pleura": ["No pleural effusion or pneumothorax was detected.", "Pleural spaces are clear."],
}

IMPRESSION = {
    "Medical material": lambda d: f"{d['device'].capitalize()} in place.",
    "Arterial wall calcification": lambda d: "Atherosclerotic calcification of the aorta.",
    "Cardiomegaly": lambda d: "Cardiomegaly.",
    "Pericardial effusion": lambda d: f"{d['size'].capitalize()} pericardial effusion.",
    "Coronary artery wall calcification": lambda d: "Coronary artery calcification.",
    "Hiatal hernia": lambda d: "Hiatal hernia.",
    "Lymphadenopathy": lambda d: "Mediastinal lymphadenopathy.",
    "Emphysema": lambda d: f"{d['kind'].capitalize()} emphysema.",
    "Atelectasis": lambda d: f"Atelectasis in the {d['lobe']}.",
    "Lung nodule": lambda d: f"{d['size_mm']} mm nodule in the {d['lobe']}.",
    "Lung opacity": lambda d: "Ground-glass opacities.",
    "Pulmonary fibrotic sequela": lambda d: "Fibrotic sequelae.",
    "Pleural effusion": lambda d: f"{d['side'].capitalize()} pleural effusion.",
    "Mosaic attenuation pattern": lambda d: "Mosaic attenuation pattern.",
    "Peribronchial thickening": lambda d: "Peribronchial thickening.",
    "Consolidation": lambda d: f"Consolidation in the {d['lobe']}.",
    "Bronchiectasis": lambda d: "Bronchiectasis.",
    "Interlobular septal thickening": lambda d: "Interlobular septal thickening.",
}
NO_FINDINGS = [
    "No acute findings.",
    "No significant pathology was detected in the thorax.",
    "Normal chest CT.",
]
