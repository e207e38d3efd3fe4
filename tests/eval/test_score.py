import numpy as np

from cabench.eval.score import merge_findings, score_cube
from cabench.models.adapter import VolumeEmbeddings


def _unit(rng, *shape):
    x = rng.normal(size=shape).astype(np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _naive(vol, index, pos, neg, scale):
    n, t, f = vol.shape[0], pos.shape[0], pos.shape[1]
    out = np.zeros((n, t, f))
    for i in range(n):
        for k in range(t):
            for j in range(f):
                v = vol[i] if index is None else vol[i, index[j]]
                logits = scale * np.array([v @ pos[k, j], v @ neg[k, j]])
                e = np.exp(logits - logits.max())
                out[i, k, j] = e[0] / e.sum()  # softmax over the pair, keep P(present)
    return out


def test_cube_equals_per_case_softmax_global():
    rng = np.random.default_rng(0)
    vol, pos, neg = _unit(rng, 5, 8), _unit(rng, 3, 4, 8), _unit(rng, 3, 4, 8)
    cube = score_cube(VolumeEmbeddings(vol), None, pos, neg, 20.0)
    assert np.allclose(cube, _naive(vol, None, pos, neg, 20.0), atol=1e-5)


def test_cube_uses_each_findings_anatomy_and_marks_missing():
    rng = np.random.default_rng(1)
    anat = _unit(rng, 5, 3, 8)
    valid = np.ones((5, 3), bool)
    valid[2, 1] = False
    index = np.array([0, 1, 2, -1])
    pos, neg = _unit(rng, 2, 4, 8), _unit(rng, 2, 4, 8)
    cube = score_cube(VolumeEmbeddings(None, anat, valid), index, pos, neg, 10.0)
    expected = _naive(anat, np.maximum(index, 0), pos, neg, 10.0)
    assert np.isnan(cube[:, :, 3]).all()  # finding without an anatomy
    assert np.isnan(cube[2, :, 1]).all() and not np.isnan(cube[2, :, 0]).any()
    ok = ~np.isnan(cube)
    assert np.allclose(cube[ok], expected[ok], atol=1e-5)


def test_merge_takes_max_of_sources():
    probs = np.random.default_rng(2).random((4, 2, 3)).astype(np.float32)
    merged = merge_findings(probs, ["A", "B", "C"], {"A": ("A", "B")}, ["A", "C"])
    assert np.array_equal(merged[:, :, 0], np.maximum(probs[:, :, 0], probs[:, :, 1]))
    assert np.array_equal(merged[:, :, 1], probs[:, :, 2])


def test_merge_without_merged_findings_keeps_the_cube():
    probs = np.random.default_rng(3).random((4, 2, 3)).astype(np.float32)
    assert merge_findings(probs, ["A", "B", "C"], {}, ["A", "B", "C"]) is probs


def test_cube_needs_no_scratch_beyond_one_anatomy_block():
    import tracemalloc

    rng = np.random.default_rng(4)
    n, t, f, a, d = 2000, 6, 12, 4, 32
    volumes = VolumeEmbeddings(None, _unit(rng, n, a, d), rng.random((n, a)) < 0.9)
    pos, neg = _unit(rng, t, f, d), _unit(rng, t, f, d)
    tracemalloc.start()
    try:
        cube = score_cube(volumes, np.arange(f) % a, pos, neg, 10.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.6 * cube.nbytes  # the cube, plus one anatomy's (N, T, F / A) block
