"""The whole zero-shot evaluation against a naive reference with the published structure.

Work: 200 synthetic volumes (synth-ct-rate, all splits) x 18 findings x 20 prompt templates
(families organ + clinical + report), a freshly initialised tiny fvlp (seeded, untrained: timing
needs no training), on CPU.

- cabench: ``cabench.eval.run.run`` end to end (prompt plan, model load, volume preprocessing,
  encoding, score cube, metrics, collapse diagnostics, store), bootstrap off because the naive
  reference has none. Cold = empty embedding and volume caches; warm = the same run again.
- naive (``bench/naive_ctclip.py``): volume re-encoded per finding, prompts per volume, batch
  size 1, one roc_auc_score per template and finding. At about 0.1 s per (volume, finding,
  template) on one core the full work would take about 2 h, so it is timed on a subset (the
  first ``NAIVE_CASES`` volumes x ``NAIVE_TEMPLATES`` templates x all 18 findings, volumes
  preprocessed before the clock starts) and extrapolated linearly, which the output says. Its
  AUCs are compared with those of a cabench run on the same cases.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import empty_home, fresh_checkpoint, synthetic_site
from bench.naive_ctclip import naive_aucs, naive_probs, near_tie_bounds, preprocess_volumes

N_CASES = 200
FAMILIES = ["organ", "clinical", "report"]  # 4 + 10 + 6 = 20 templates
MODEL = "fvlp"
# the naive reference's measured subset (first volumes, first templates; all findings):
# BENCH_NAIVE_CASES=200 BENCH_NAIVE_TEMPLATES=20 measures the full work (about 2 h on one core)
NAIVE_CASES = int(os.environ.get("BENCH_NAIVE_CASES", "50"))
NAIVE_TEMPLATES = int(os.environ.get("BENCH_NAIVE_TEMPLATES", "1"))


def dataset_input(root: Path) -> tuple[list, list[str], np.ndarray]:
    """The cases, labelled findings and labels the engine evaluates (split "all", in order)."""
    from cabench.data import open_dataset

    reader = open_dataset("synth-ct-rate", root)
    if reader.merged_findings():
        raise RuntimeError("the naive reference does not merge findings")
    cases = [c for s in reader.splits() for c in reader.cases(s)]
    findings = reader.labelled_findings()
    labels = np.array([[c.labels.get(f, -1) for f in findings] for c in cases], dtype=np.int8)
    return cases, findings, labels


def engine(
    root: Path, checkpoint: Path, store: Path, families: list[str], cases: int | None,
    model: str = MODEL,
):  # fmt: skip
    """One cabench run; returns (seconds, document, probs cube)."""
    from cabench.eval.run import RunOptions, run
    from cabench.store import Store

    opts = RunOptions(
        models=[model], datasets=["synth-ct-rate"], roots={"synth-ct-rate": root},
        prompts=families, checkpoints={model: checkpoint}, bootstrap=0, store=store,
        splits={"synth-ct-rate": "all"}, device="cpu", max_cases=cases,
    )  # fmt: skip
    start = time.perf_counter()
    document = run(opts)
    seconds = time.perf_counter() - start
    probs = Store(store).get_arrays(document["results"][0]["cube"]["sha256"])["probs"]
    return seconds, document, probs


def engine_aucs(document: dict, findings: list[str]) -> np.ndarray:
    rows = document["results"][0]["per_template"]
    return np.array([[np.nan if r["auc"][f] is None else r["auc"][f] for f in findings]
                     for r in rows])  # fmt: skip


def compare(
    root: Path, checkpoint: Path, families: list[str], n_cases: int, naive_cases: int,
    naive_templates: int, model: str = MODEL,
) -> dict:  # fmt: skip
    """Cold and warm engine runs on ``n_cases``; the naive reference on the first
    ``naive_cases`` cases and ``naive_templates`` templates, with the engine's AUCs on the same
    cases for the comparison."""
    from cabench.eval.prompts_plan import build_plan
    from cabench.vocab import finding_names

    cases, findings, labels = dataset_input(root)
    with empty_home() as home:
        cold, document, probs = engine(
            root, checkpoint, home / "r.sqlite", families, n_cases, model
        )
        warm, again, _ = engine(root, checkpoint, home / "r.sqlite", families, n_cases, model)
    assert again["results"][0]["volumes_encoded_now"] == 0
    timings = document["timings"]
    if naive_cases != n_cases:
        with empty_home() as home:
            _, document, probs = engine(
                root, checkpoint, home / "r.sqlite", families, naive_cases, model
            )  # fmt: skip
    plan = build_plan(families, None, finding_names(), "chest7")
    assert [t["template_id"] for t in document["templates"]] == [
        t.template_id for t in plan.templates
    ]
    cols = [plan.findings.index(f) for f in findings]
    positive = [[plan.positive[t][c] for c in cols] for t in range(naive_templates)]
    negative = [[plan.negative[t][c] for c in cols] for t in range(naive_templates)]
    sub_cases, sub_labels = cases[:naive_cases], labels[:naive_cases]
    with empty_home():
        preprocess_volumes(checkpoint, root, sub_cases)  # not timed: favours the naive side
        start = time.perf_counter()
        reference = naive_probs(checkpoint, root, sub_cases, positive, negative, findings)
        reference_auc = naive_aucs(reference, sub_labels)
        naive = time.perf_counter() - start
    fast_auc = engine_aucs(document, findings)[:naive_templates]
    both = np.isfinite(fast_auc) & np.isfinite(reference_auc)
    engine_probs = probs[:naive_cases, :naive_templates]
    prob_diff = float(np.nanmax(np.abs(engine_probs - reference)))
    # the metrics alone: scikit-learn on the engine's own probabilities
    sklearn_on_engine = naive_aucs(engine_probs, sub_labels)
    # the whole path: AUCs of the naive probabilities may differ only through pairs of cases
    # closer than the two implementations' float32 difference
    bounds = near_tie_bounds(reference, sub_labels, prob_diff)
    diff = np.abs(fast_auc - reference_auc)

    def worst(values: np.ndarray) -> float:  # over the AUCs both sides could compute
        return float(values[both].max()) if both.any() else np.nan

    scale = (n_cases / naive_cases) * (len(plan.templates) / naive_templates)
    return {
        "cold": cold,
        "warm": warm,
        "naive": naive,
        "naive_full": naive * scale,
        "scale": scale,
        "n_templates": len(plan.templates),
        "n_findings": len(findings),
        "timings": timings,
        "auc_diff": worst(diff),
        "auc_beyond_ties": worst(diff - bounds),
        "tie_bound": worst(bounds),
        "metric_diff": worst(np.abs(fast_auc - sklearn_on_engine)),
        "nan_agree": bool((np.isnan(fast_auc) == np.isnan(reference_auc)).all()),
        "n_auc": int(both.sum()),
        "prob_diff": prob_diff,
    }


def run() -> list[tuple[str, str, str, bool]]:
    root = synthetic_site(N_CASES)
    naive_cases = min(NAIVE_CASES, N_CASES)
    with empty_home() as tmp:
        checkpoint = fresh_checkpoint(MODEL, root, tmp / "checkpoint", seed=0)
        r = compare(root, checkpoint, FAMILIES, N_CASES, naive_cases, NAIVE_TEMPLATES)
    t_all, f_all = r["n_templates"], r["n_findings"]
    print(
        f"work: {N_CASES} volumes x {f_all} findings x {t_all} templates, untrained tiny {MODEL} "
        f"(seed 0), CPU, {torch.get_num_threads()} torch thread(s), {os.cpu_count()} CPUs"
    )
    steps = ", ".join(f"{k.split('/')[-1]} {v:.2f}" for k, v in r["timings"].items())
    print(f"cabench cold (empty embedding + volume caches): {r['cold']:.1f} s ({steps} s)")
    print(f"cabench warm (embeddings cached): {r['warm']:.1f} s")
    full = naive_cases == N_CASES and t_all <= NAIVE_TEMPLATES
    plural = "s" if NAIVE_TEMPLATES > 1 else ""
    what = f"{naive_cases} volumes x {f_all} findings x {NAIVE_TEMPLATES} template{plural}"
    if full:
        print(f"naive: measured {r['naive']:.1f} s on the full work ({what})")
    else:
        print(
            f"naive: measured {r['naive']:.1f} s on a subset ({what}, volumes preprocessed "
            f"beforehand); EXTRAPOLATED linearly (x{r['scale']:.0f}, its cost is per volume, "
            f"finding and template) to the full work: {r['naive_full']:.0f} s"
        )
    speed_cold, speed_warm = r["naive_full"] / r["cold"], r["naive_full"] / r["warm"]
    print(f"speed-up: {speed_cold:.0f}x cold, {speed_warm:.0f}x warm")
    print(
        f"metrics on {what}: {r['n_auc']} AUCs compared with cabench's on the same cases; "
        f"NaN pattern {'equal' if r['nan_agree'] else 'DIFFERENT'}; scikit-learn on cabench's "
        f"probabilities: max |difference| {r['metric_diff']:.1e}; on the naive probabilities: "
        f"max |difference| {r['auc_diff']:.1e}, max |probability difference| "
        f"{r['prob_diff']:.1e} (batch 1 against batched float32), which can reorder at most "
        f"{r['tie_bound']:.1e} of an AUC's pairs; excess over that bound "
        f"{r['auc_beyond_ties']:.1e}"
    )
    note = "" if full else f" (naive extrapolated x{r['scale']:.0f} from {what})"
    return [
        (
            "pipeline speed-up vs naive CT-CLIP-style evaluation, cold",
            f"{speed_cold:.0f}x{note}",
            ">= 50x",
            speed_cold >= 50,
        ),
        ("pipeline speed-up vs naive, warm", f"{speed_warm:.0f}x", "reported", True),
        (
            "pipeline AUCs vs scikit-learn on the same probabilities, max |difference|",
            f"{r['metric_diff']:.1e} over {r['n_auc']} AUCs",
            "<= 1e-9",
            r["metric_diff"] <= 1e-9 and r["nan_agree"],
        ),
        (
            "pipeline AUCs vs naive end to end, max |difference| beyond float32 near-ties",
            f"{max(r['auc_beyond_ties'], 0.0):.1e} (raw {r['auc_diff']:.1e}, probabilities "
            f"{r['prob_diff']:.1e})",
            "<= 1e-9, probabilities <= 1e-5",
            r["auc_beyond_ties"] <= 1e-9 and r["prob_diff"] <= 1e-5 and r["nan_agree"],
        ),
    ]
