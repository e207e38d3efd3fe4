"""Golden renderings of the built-in families: exact strings, so any change to a family, to the
vocabulary or to rendering shows up here and is reviewed. Ids are pinned too: they key caches
and results, so changing how ids are computed must be a deliberate act.
"""

import pytest

from cabench.prompts import expand, load_family, render

GOLDEN = [
    # family, template label, finding, anatomy set, positive, negative
    (
        "ctclip",
        "published",
        "Atelectasis",
        "chest7",
        "Atelectasis is present.",
        "Atelectasis is not present.",
    ),
    (
        "ctclip",
        "published",
        "Lung nodule",
        "fvlm4",
        "Lung nodule is present.",
        "Lung nodule is not present.",
    ),
    ("ctclip", "early-release", "Cardiomegaly", "chest7", "Cardiomegaly.", "not Cardiomegaly."),
    ("fvlm", "published", "Atelectasis", "fvlm4", "Atelectatic.", "Not Atelectatic."),
    ("fvlm", "published", "Lung nodule", "fvlm4", "Nodule.", "Not Nodule."),
    ("fvlm", "published", "Lung opacity", "fvlm4", "Opacity.", "Not Opacity."),
    (
        "fvlm",
        "published",
        "Pulmonary fibrotic sequela",
        "fvlm4",
        "Pulmonary fibrotic.",
        "Not Pulmonary fibrotic.",
    ),
    ("fvlm", "published", "Hiatal hernia", "fvlm4", "Hiatal hernia.", "Not Hiatal hernia."),
    (
        "organ",
        "organ-shows",
        "Atelectasis",
        "chest7",
        "The lung shows: atelectasis.",
        "The lung shows: no atelectasis.",
    ),
    (
        "organ",
        "organ-shows",
        "Pleural effusion",
        "chest7",
        "The pleura shows: pleural effusion.",
        "The pleura shows: no pleural effusion.",
    ),
    (
        "organ",
        "organ-shows",
        "Pleural effusion",
        "fvlm4",
        "The lung shows: pleural effusion.",
        "The lung shows: no pleural effusion.",
    ),
    (
        "organ",
        "organ-shows",
        "Medical material",
        "fvlm4",
        "The chest shows: medical material.",
        "The chest shows: no medical material.",
    ),
    (
        "organ",
        "hlip",
        "Emphysema",
        "fvlm4",
        "The lung shows: Emphysema.",
        "The lung shows: Not emphysema.",
    ),
    (
        "organ",
        "fvlm-normal",
        "Cardiomegaly",
        "fvlm4",
        "The heart shows mild cardiomegaly.",
        "The heart shows no significant abnormalities.",
    ),
    (
        "clinical",
        "there-is",
        "Lung nodule",
        "chest7",
        "There is a small lung nodule in the lung parenchyma. No other acute abnormality is seen.",
        "There is no lung nodule in the lung parenchyma. No other acute abnormality is seen.",
    ),
    (
        "clinical",
        "there-is",
        "Cardiomegaly",
        "chest7",
        "There is mild cardiomegaly. No other acute abnormality is seen.",
        "There is no cardiomegaly. No other acute abnormality is seen.",
    ),
    (
        "clinical",
        "noted",
        "Pleural effusion",
        "chest7",
        "A pleural effusion is noted. The study is of diagnostic quality."
        " Findings were reviewed in lung and soft-tissue windows.",
        "No pleural effusion is noted. The study is of diagnostic quality."
        " Findings were reviewed in lung and soft-tissue windows.",
    ),
    (
        "clinical",
        "positive-for",
        "Atelectasis",
        "chest7",
        "Positive for atelectasis. Correlate with the clinical history.",
        "Negative for atelectasis. Correlate with the clinical history.",
    ),
    (
        "clinical",
        "synonym",
        "Atelectasis",
        "chest7",
        "Findings suggest atelectatic changes in the lower lobes. This corresponds to atelectasis.",
        "Findings do not suggest atelectatic changes in the lower lobes. There is no atelectasis.",
    ),
    (
        "report",
        "detected",
        "Hiatal hernia",
        "chest7",
        "Hiatal hernia was detected in the esophagus. Trachea and both main bronchi are open."
        " Bone structures in the study area are natural.",
        "No hiatal hernia was detected in the esophagus. Trachea and both main bronchi are open."
        " Bone structures in the study area are natural.",
    ),
    (
        "report",
        "observed-location",
        "Lung nodule",
        "chest7",
        "A lung nodule is observed in the lung parenchyma. No lytic or destructive lesion was"
        " detected in the bone structures within the sections.",
        "No lung nodule is observed in the lung parenchyma. No lytic or destructive lesion was"
        " detected in the bone structures within the sections.",
    ),
    (
        "report",
        "window",
        "Emphysema",
        "fvlm4",
        "When the lung is examined, emphysema is seen in the upper lobes. The examination was"
        " evaluated in comparison with the previous study, if any.",
        "When the lung is examined, no emphysema is seen. The examination was evaluated in"
        " comparison with the previous study, if any.",
    ),
]


@pytest.mark.parametrize(
    ("family", "label", "finding", "anatomy_set", "positive", "negative"), GOLDEN
)
def test_golden_rendering(family, label, finding, anatomy_set, positive, negative):
    (template,) = [t for t in load_family(family).templates if t.label == label]
    assert render(template, finding, anatomy_set) == (positive, negative)


CANONICAL_IDS = {
    "ctclip": "c4a94fe8015e",
    "fvlm": "7cdee0d6453b",
    "organ": "8657afceedb9",
    "clinical": "ff9d3b81efb1",
    "report": "276e96f702fc",
}


@pytest.mark.parametrize("family", sorted(CANONICAL_IDS))
def test_canonical_templates_and_ids_are_pinned(family):
    canonical = load_family(family).templates[0]
    assert canonical.canonical
    assert canonical.template_id == CANONICAL_IDS[family]


def test_golden_augmented_variants():
    family = load_family("clinical")
    made = expand(family, "permutation:n=1,partial:n=1")[len(family.templates) :]
    texts = [render(t, "Lung nodule", "chest7") for t in made]
    assert [t.origin["augmenter"] for t in made] == ["permutation", "partial"]
    assert [t.origin["parent"] for t in made] == ["ff9d3b81efb1", "ff9d3b81efb1"]
    assert texts == [
        (
            "No other acute abnormality is seen. There is a small lung nodule in the lung"
            " parenchyma.",
            "No other acute abnormality is seen. There is no lung nodule in the lung parenchyma.",
        ),
        (
            "There is a lung nodule. No other acute abnormality is seen.",
            "There is no lung nodule. No other acute abnormality is seen.",
        ),
    ]
