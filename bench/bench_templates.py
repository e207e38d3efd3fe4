"""Template count with image embeddings cached: 100 templates against 1 template.

Same model and dataset as bench_pipeline (200 synthetic volumes, untrained tiny fvlp, CPU). The
image embeddings are put in the cache first (directly through the EmbeddingCache, with the report
texts of the collapse diagnostic, which do not depend on templates; no prompt is cached); then
``cabench.eval.run.run`` is timed with its default options (1,000 bootstrap replicates, youden
thresholds, collapse diagnostics, store) on

- 1 template: the fvlm family (its one template), and
- 100 templates: the five families with ``permutation:n=19,partial:n=19`` augmentation.

The target is the wall time a user waits for: the two runs, prompts not yet encoded (the real
situation when templates are added), each as a ``cabench run`` process, start-up included. The
same runs are also timed in-process through ``cabench.eval.run.run`` (reported, with each step's
time): once with prompts new and once with every embedding cached. In-process, a cached
1-template run is under half a second, so there the ratio measures the work that grows with the
template count by design (rendering and validating every template, encoding its prompts, 1,000
bootstrap replicates of every statistic per template, collapse diagnostics), not caching.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import empty_home, fresh_checkpoint, synthetic_site

N_CASES = 200
MODEL = "fvlp"
ONE = (["fvlm"], None)
HUNDRED = (["ctclip", "fvlm", "organ", "clinical", "report"], "permutation:n=19,partial:n=19")


def cache_images(root: Path, checkpoint: Path, n_cases: int) -> None:
    """Encode every evaluated volume into the embedding cache, and the per-anatomy report texts
    of the report-collapse diagnostic (they do not depend on the templates; left uncached, the
    first run timed would pay for them), but no prompt."""
    from cabench.data import open_dataset
    from cabench.eval.collapse import report_collapse
    from cabench.eval.embeddings import EmbeddingCache
    from cabench.models.registry import load_model
    from cabench.vocab import anatomy_set

    model = load_model(MODEL, checkpoint, "cpu")
    reader = open_dataset("synth-ct-rate", root)
    cases = [c for s in reader.splits() for c in reader.cases(s)][:n_cases]
    cache = EmbeddingCache(model.identity())
    cache.volumes(model, reader, cases)
    report_collapse(model, cache, cases, anatomy_set("chest7"), seed=0)


def timed_run(root: Path, checkpoint: Path, store: Path, prompts: tuple, n_cases: int):
    from cabench.eval.run import RunOptions, run

    families, augment = prompts
    opts = RunOptions(
        models=[MODEL], datasets=["synth-ct-rate"], roots={"synth-ct-rate": root},
        prompts=families, augment=augment, checkpoints={MODEL: checkpoint}, store=store,
        splits={"synth-ct-rate": "all"}, device="cpu", max_cases=n_cases,
    )  # fmt: skip
    start = time.perf_counter()
    document = run(opts)
    seconds = time.perf_counter() - start
    assert document["results"][0]["volumes_encoded_now"] == 0, "image embeddings were not cached"
    return seconds, document


def cli_run(root: Path, checkpoint: Path, store: Path, prompts: tuple, n_cases: int) -> float:
    """Wall time of a ``cabench run`` process (what a user waits for)."""
    families, augment = prompts
    command = [
        sys.executable, "-m", "cabench.cli", "run", "--models", MODEL,
        "--dataset", "synth-ct-rate", "--root", str(root), "--prompts", ",".join(families),
        "--checkpoint", f"{MODEL}={checkpoint}", "--store", str(store),
        "--split", "synth-ct-rate=all", "--max-cases", str(n_cases), "--device", "cpu",
        *(["--augment", augment] if augment else []),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)  # inherits CABENCH_HOME
    return time.perf_counter() - start


def measure_cli(root: Path, checkpoint: Path, n_cases: int) -> dict:
    """1 and 100 templates through the CLI, image embeddings cached, prompts new."""
    out = {}
    with empty_home(), tempfile.TemporaryDirectory() as store_dir:
        cache_images(root, checkpoint, n_cases)
        for label, prompts in (("1", ONE), ("100", HUNDRED)):
            out[label] = cli_run(root, checkpoint, Path(store_dir) / "r.sqlite", prompts, n_cases)
    return out


def measure(root: Path, checkpoint: Path, n_cases: int) -> dict:
    out = {}
    with empty_home() as home:
        cache_images(root, checkpoint, n_cases)
        for label, prompts in (("1", ONE), ("100", HUNDRED)):
            for state in ("new prompts", "all cached"):
                seconds, document = timed_run(root, checkpoint, home / "r.sqlite", prompts,
                                              n_cases)  # fmt: skip
                out[label, state] = (seconds, len(document["templates"]), document["timings"])
    return out


def run() -> list[tuple[str, str, str, bool]]:
    root = synthetic_site(N_CASES)
    with empty_home() as tmp:
        checkpoint = fresh_checkpoint(MODEL, root, tmp / "checkpoint", seed=0)
        r = measure(root, checkpoint, N_CASES)
        cli = measure_cli(root, checkpoint, N_CASES)
    print(f"{N_CASES} volumes, untrained tiny {MODEL}, CPU, image embeddings cached, run defaults")
    for (_, state), (seconds, n_templates, timings) in r.items():
        steps = ", ".join(f"{k.split('/')[-1]} {v:.2f}" for k, v in timings.items())
        print(f"{n_templates:>3} template(s), {state}: {seconds:.2f} s wall ({steps} s)")
    assert r["1", "new prompts"][1] == 1 and r["100", "new prompts"][1] == 100
    ratio_new = r["100", "new prompts"][0] / r["1", "new prompts"][0]
    ratio_cached = r["100", "all cached"][0] / r["1", "all cached"][0]
    print(f"ratio 100/1: {ratio_new:.2f}x with new prompts, {ratio_cached:.2f}x all cached")
    ratio_cli = cli["100"] / cli["1"]
    print(f"cabench run process, prompts new: 1 template {cli['1']:.2f} s, "
          f"100 templates {cli['100']:.2f} s: {ratio_cli:.2f}x")  # fmt: skip
    return [
        (
            "100 vs 1 template, `cabench run` wall time, image embeddings cached (prompts new)",
            f"{ratio_cli:.2f}x",
            "<= 1.5x",
            ratio_cli <= 1.5,
        ),
        (
            "100 vs 1 template in-process (`eval.run.run`), prompts new",
            f"{ratio_new:.2f}x",
            "reported",
            True,
        ),
        (
            "100 vs 1 template in-process, all embeddings cached",
            f"{ratio_cached:.2f}x",
            "reported",
            True,
        ),
    ]
