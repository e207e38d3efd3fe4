"""Peak memory of the scoring + analysis stage at two case counts.

The claim: memory grows with the number of cases only through the image embeddings and the score
cube. The stage is measured on synthetic fvlp-shaped embeddings (no model; 7 anatomies x 128
dims, float32, as the tiny fvlp caches them), 20 templates x 18 findings, at 1,000 and 4,000
cases, with run defaults: youden thresholds and 1,000 paired bootstrap replicates.

Measured with tracemalloc (numpy reports its buffers to it; BLAS scratch space is not seen), in
one window per case count that opens before the embeddings exist and closes after
``analyse_cube``: embeddings -> ``score_cube`` -> ``analyse_cube``. The labels, the prompt
embeddings and the bootstrap resamples are made before the window opens: they belong to dataset
and prompt preparation (``_prepare_dataset`` draws the resamples), and their size is printed.
Target: the growth of the window's peak from 1,000 to 4,000 cases is at most 1.5x the growth of
(embeddings + cube) bytes, plus 8 MiB slack.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np

from cabench.eval.analysis import analyse_cube
from cabench.eval.score import score_cube
from cabench.models.adapter import VolumeEmbeddings
from cabench.stats.bootstrap import case_resamples
from cabench.stats.thresholds import parse_threshold_policy

SIZES = (1000, 4000)
N_TEMPLATES, N_FINDINGS, N_ANATOMIES, DIM = 20, 18, 7, 128
REPLICATES = int(os.environ.get("BENCH_MEMORY_REPLICATES", "1000"))
SLACK = 8 << 20
MiB = float(1 << 20)


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.standard_normal(shape, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def stage(n: int, replicates: int = REPLICATES, seed: int = 0) -> dict:
    """One measured window at ``n`` cases; bytes of the window's peak and of what it holds."""
    rng = np.random.default_rng(seed)
    anatomy_index = np.arange(N_FINDINGS) % N_ANATOMIES
    positive = _unit(rng, (N_TEMPLATES, N_FINDINGS, DIM))
    negative = _unit(rng, (N_TEMPLATES, N_FINDINGS, DIM))
    labels = (rng.random((n, N_FINDINGS)) < 0.2).astype(np.int8)
    resamples = case_resamples(n, replicates, seed) if replicates else None
    policy = parse_threshold_policy("youden")

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        volumes = VolumeEmbeddings(
            None, _unit(rng, (n, N_ANATOMIES, DIM)), rng.random((n, N_ANATOMIES)) < 0.98
        )
        before_score = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.reset_peak()
        start = time.perf_counter()
        probs = score_cube(volumes, anatomy_index, positive, negative, 14.3)
        score_peak = tracemalloc.get_traced_memory()[1] - base
        before_analyse = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.reset_peak()
        result = analyse_cube(probs, labels, policy, resamples)
        analyse_peak = tracemalloc.get_traced_memory()[1] - base
        seconds = time.perf_counter() - start
    finally:
        tracemalloc.stop()
    assert result.metrics["auc"].shape == (N_TEMPLATES, N_FINDINGS)
    embeddings = volumes.anatomy.nbytes + volumes.anatomy_valid.nbytes
    return {
        "n": n,
        "peak": max(score_peak, analyse_peak),
        "score_extra": score_peak - before_score - probs.nbytes,  # beyond the cube it returns
        "analyse_extra": analyse_peak - before_analyse,
        "embeddings": embeddings,
        "cube": probs.nbytes,
        "resamples": 0 if resamples is None else resamples.nbytes,
        "seconds": seconds,
    }


def run() -> list[tuple[str, str, str, bool]]:
    small, large = (stage(n) for n in SIZES)
    for s in (small, large):
        print(
            f"{s['n']:>5} cases: window peak {s['peak'] / MiB:.1f} MiB = embeddings "
            f"{s['embeddings'] / MiB:.1f} + cube {s['cube'] / MiB:.1f} + transient (score_cube "
            f"{s['score_extra'] / MiB:.1f} beyond its cube, analyse_cube "
            f"{s['analyse_extra'] / MiB:.1f}); bootstrap resamples made before the window "
            f"{s['resamples'] / MiB:.1f} MiB; "
            f"{s['seconds']:.1f} s"
        )
    grown = large["peak"] - small["peak"]
    data = (large["embeddings"] + large["cube"]) - (small["embeddings"] + small["cube"])
    ratio = grown / data
    per_case = grown / (large["n"] - small["n"])
    print(
        f"growth {SIZES[0]} -> {SIZES[1]} cases: peak +{grown / MiB:.1f} MiB, embeddings + cube "
        f"+{data / MiB:.1f} MiB: ratio {ratio:.2f} ({per_case / 1024:.1f} KiB per case; the "
        f"resamples add {(large['resamples'] - small['resamples']) / MiB:.1f} MiB outside)"
    )
    return [
        (
            "scoring+analysis peak memory growth / (embeddings + cube) growth",
            f"{ratio:.2f}x ({grown / MiB:.1f} MiB vs {data / MiB:.1f} MiB, "
            f"{SIZES[0]}->{SIZES[1]} cases)",
            "<= 1.5x + 8 MiB",
            grown <= 1.5 * data + SLACK,
        )
    ]
