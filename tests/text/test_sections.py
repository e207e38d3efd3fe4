import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cabench.text.augment import TextAugmentation
from cabench.text.sections import anatomy_texts, chest7_anatomies, split_sentences
from cabench.vocab import anatomy_set

REPORT = (
    "The trachea and both main bronchi are patent. There is a 12 mm nodule in the right upper "
    "lobe. Heart size is enlarged. Minimal pericardial effusion is seen. Calcific plaques are seen "
    "in the aortic wall. No pleural effusion is detected. No enlarged lymph node."
)


def test_sentences_go_to_their_anatomy():
    assert chest7_anatomies("Minimal pericardial effusion is seen.") == ["heart"]
    assert chest7_anatomies("No pleural effusion is detected.") == ["pleura"]
    assert chest7_anatomies("Bronchiectasis in the lower lobes.") == ["airway"]
    assert chest7_anatomies("A small hiatal hernia.") == ["esophagus"]
    assert chest7_anatomies("The weather is fine.") == []


def test_anatomy_texts_chest7_and_fvlm4():
    chest7 = anatomy_texts(REPORT, anatomy_set("chest7"))
    assert chest7["lung"] == "There is a 12 mm nodule in the right upper lobe."
    assert chest7["esophagus"] == "Esophagus shows no significant abnormalities."
    fvlm4 = anatomy_texts(REPORT, anatomy_set("fvlm4"))
    assert set(fvlm4) == {"lung", "heart", "esophagus", "aorta"}
    # lung takes airway and pleura sentences, in report order
    assert fvlm4["lung"].startswith("The trachea") and fvlm4["lung"].endswith("is detected.")


def test_split_sentences_keeps_decimals():
    assert split_sentences("A 1.5 cm nodule. Heart normal.") == [
        "A 1.5 cm nodule.",
        "Heart normal.",
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=8, unique=True),
    st.integers(0, 2**32 - 1),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_augmentation_keeps_a_nonempty_subset(sentences, seed, p, q):
    aug = TextAugmentation(p, q)
    out = aug(sentences, np.random.default_rng(seed))
    assert out and set(out) <= set(sentences) and len(set(out)) == len(out)
    assert out == aug(sentences, np.random.default_rng(seed))  # deterministic per seed
    if q == 0:
        assert sorted(out) == sorted(sentences)
    if p == 0:
        order = [sentences.index(s) for s in out]
        assert order == sorted(order)
