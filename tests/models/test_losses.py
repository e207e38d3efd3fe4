import torch
import torch.nn.functional as F

from cabench.models import losses


def _unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_soft_target_nce_equals_cross_entropy_for_identity_targets():
    logits = torch.randn(6, 6)
    expected = 0.5 * (
        F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.T, torch.arange(6))
    )
    assert torch.allclose(losses.soft_target_nce(logits, torch.eye(6, dtype=torch.bool)), expected)


def test_local_loss_treats_normal_pairs_as_positives():
    image, text = _unit(4, 1, 8), _unit(4, 1, 8, seed=1)
    valid = torch.ones(4, 1, dtype=torch.bool)
    ids = torch.arange(4).view(4, 1)
    scale = torch.tensor(10.0)
    all_normal = torch.ones(4, 1, dtype=torch.bool)
    none_normal = torch.zeros(4, 1, dtype=torch.bool)
    with_fn = losses.local_anatomy_loss(image, text, valid, all_normal, ids, scale, True)
    without = losses.local_anatomy_loss(image, text, valid, all_normal, ids, scale, False)
    plain = losses.local_anatomy_loss(image, text, valid, none_normal, ids, scale, True)
    assert torch.allclose(without, plain)
    assert not torch.allclose(with_fn, without)


def test_local_loss_skips_invalid_anatomies():
    image, text = _unit(4, 2, 8), _unit(4, 2, 8, seed=1)
    valid = torch.tensor([[1, 0], [1, 0], [1, 1], [1, 0]], dtype=torch.bool)
    normal = torch.zeros(4, 2, dtype=torch.bool)
    ids = torch.arange(8).view(4, 2)
    loss = losses.local_anatomy_loss(image, text, valid, normal, ids, torch.tensor(5.0))
    only_first = losses.local_anatomy_loss(
        image[:, :1], text[:, :1], valid[:, :1], normal[:, :1], ids[:, :1], torch.tensor(5.0)
    )
    assert torch.allclose(loss, only_first)  # anatomy 1 has a single valid case: no contrast


def test_cross_anatomy_loss_rewards_separated_anatomies():
    """Texts of different anatomies are negatives: a collapsed text space costs more."""
    b, a, d = 8, 3, 16
    anatomy_axes = torch.eye(d)[:a]
    image = F.normalize(anatomy_axes.expand(b, a, d) + 0.1 * _unit(b, a, d), dim=-1)
    separated = F.normalize(anatomy_axes.expand(b, a, d) + 0.1 * _unit(b, a, d, seed=2), dim=-1)
    collapsed = F.normalize(torch.ones(b, a, d) + 0.1 * _unit(b, a, d, seed=2), dim=-1)
    valid = torch.ones(b, a, dtype=torch.bool)
    normal = torch.zeros(b, a, dtype=torch.bool)
    ids = torch.arange(b * a).view(b, a)
    scale = torch.tensor(10.0)
    good = losses.cross_anatomy_loss(image, separated, valid, normal, ids, scale)
    bad = losses.cross_anatomy_loss(image, collapsed, valid, normal, ids, scale)
    assert good < bad
    # the local loss, blind to other anatomies, cannot tell collapse apart the same way
    local_good = losses.local_anatomy_loss(image, separated, valid, normal, ids, scale)
    local_bad = losses.local_anatomy_loss(image, collapsed, valid, normal, ids, scale)
    assert (bad - good) > (local_bad - local_good)


def test_supcon_prefers_clustered_anatomies():
    b, a, d = 6, 3, 16
    axes = torch.eye(d)[:a].expand(b, a, d)
    clustered = F.normalize(axes + 0.05 * _unit(b, a, d), dim=-1)
    mixed = _unit(b, a, d, seed=3)
    valid = torch.ones(b, a, dtype=torch.bool)
    scale = torch.tensor(10.0)
    assert losses.supcon_anatomy_loss(
        clustered, clustered, valid, scale
    ) < losses.supcon_anatomy_loss(mixed, mixed, valid, scale)


def test_clip_loss_is_open_clip_symmetric_infonce():
    image, text = _unit(5, 8), _unit(5, 8, seed=1)
    scale = torch.tensor(7.0)
    logits = scale * image @ text.T
    target = torch.arange(5)
    expected = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    assert torch.allclose(losses.clip_loss(image, text, scale), expected, atol=1e-6)
