import pytest

from cabench import vocab
from cabench.errors import UserError

CT_RATE_ORDER = [
    "Medical material", "Arterial wall calcification", "Cardiomegaly", "Pericardial effusion",
    "Coronary artery wall calcification", "Hiatal hernia", "Lymphadenopathy", "Emphysema",
    "Atelectasis", "Lung nodule", "Lung opacity", "Pulmonary fibrotic sequela", "Pleural effusion",
    "Mosaic attenuation pattern", "Peribronchial thickening", "Consolidation", "Bronchiectasis",
    "Interlobular septal thickening",
]  # fmt: skip


def test_findings_in_published_column_order():
    assert vocab.finding_names() == CT_RATE_ORDER
    assert len({f.key for f in vocab.findings()}) == 18


def test_chest7_gives_every_finding_an_anatomy():
    chest7 = vocab.anatomy_set("chest7")
    assert set(chest7.finding_anatomy) == set(CT_RATE_ORDER)
    assert chest7.anatomies == (
        "lung",
        "airway",
        "pleura",
        "heart",
        "aorta",
        "esophagus",
        "mediastinum",
    )


def test_fvlm4_matches_fvlm():
    fvlm4 = vocab.anatomy_set("fvlm4")
    assert fvlm4.anatomy_of("Medical material") is None
    assert fvlm4.anatomy_of("Lymphadenopathy") is None
    assert len(fvlm4.findings_of("lung")) == 11
    assert set(fvlm4.findings_of("heart")) == {
        "Cardiomegaly",
        "Pericardial effusion",
        "Coronary artery wall calcification",
    }
    assert fvlm4.findings_of("esophagus") == ["Hiatal hernia"]
    assert fvlm4.findings_of("aorta") == ["Arterial wall calcification"]


def test_merge_maps_name_known_structures():
    structures = set(vocab.synthetic_structures().values())
    for name in vocab.anatomy_set_names():
        aset = vocab.anatomy_set(name)
        assert set(aset.merge["synthetic"]) == set(aset.anatomies)
        for parts in aset.merge["synthetic"].values():
            assert set(parts) <= structures


def test_radchestct_map_duplicates_calcification():
    pairs = vocab.radchestct_map()
    calc = [f for a, f in pairs if a == "calcification"]
    assert calc == ["Arterial wall calcification", "Coronary artery wall calcification"]
    assert {f for _, f in pairs} <= set(CT_RATE_ORDER)
    assert len(pairs) == 15


def test_unknown_names_suggest():
    with pytest.raises(UserError, match="did you mean 'chest7'"):
        vocab.anatomy_set("chest8")
    with pytest.raises(UserError, match="Emphysema"):
        vocab.finding("Emphysma")
    assert vocab.finding("lung_nodule").short == "Nodule"
