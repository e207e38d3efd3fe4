"""`cabench run`: every model x dataset x template x finding, into the results store.

Order of work: validate everything cheap first (threshold policy, prompt families, checkpoints,
dataset layouts) so a user's mistake costs seconds; then per model encode each unique prompt once
and each volume once (both cached by content), score the cube with matrix products, analyse, and
write the run atomically. An interrupted run, rerun, finds its embeddings in the caches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cabench import distributed, provenance
from cabench.data import open_dataset
from cabench.data.base import CaseRef, DatasetReader
from cabench.errors import UserError
from cabench.eval import analysis, collapse
from cabench.eval.embeddings import EmbeddingCache
from cabench.eval.prompts_plan import PromptPlan, build_plan
from cabench.eval.score import merge_findings, score_cube
from cabench.models.adapter import ZeroShotModel
from cabench.models.registry import load_model
from cabench.stats.bootstrap import case_resamples
from cabench.stats.thresholds import parse_threshold_policy
from cabench.store import MetricRow, Store, new_run_id
from cabench.ui import console
from cabench.vocab import anatomy_set, finding_names

DEFAULT_FAMILIES = ("ctclip", "fvlm", "organ", "clinical", "report")
SCHEMA = "cabench.run/1"


@dataclass
class RunOptions:
    models: list[str]
    datasets: list[str]
    roots: dict[str, Path] = field(default_factory=dict)
    prompts: list[str] = field(default_factory=lambda: list(DEFAULT_FAMILIES))
    augment: str | None = None
    checkpoints: dict[str, Path] = field(default_factory=dict)
    bootstrap: int = 1000
    level: float = 0.95
    threshold: str = "youden"
    seed: int = 0
    store: Path | None = None
    anatomy_set: str = "chest7"
    calcification: str = "duplicate"
    splits: dict[str, str] = field(default_factory=dict)
    baseline_model: str | None = None
    device: str = "auto"
    batch_size: int = 16
    max_cases: int | None = None
    command: str = ""


@dataclass
class DatasetInput:
    reader: DatasetReader
    split: str
    cases: list[CaseRef]
    findings: list[str]  # labelled findings, the cube's columns
    labels: np.ndarray  # (n, F) int8
    resamples: np.ndarray | None
    notes: list[str]


def _split_cases(reader: DatasetReader, split: str | None) -> tuple[str, list[CaseRef]]:
    splits = reader.splits()
    if split is None:
        # datasets with report text train models: evaluate on their validation split;
        # evaluation-only datasets (no reports, e.g. Rad-ChestCT) on all their cases
        first = reader.cases(splits[0]) if splits else []
        has_reports = bool(first) and first[0].report is not None
        split = "valid" if has_reports and "valid" in splits else "all"
    if split == "all":
        return split, [c for s in splits for c in reader.cases(s)]
    if split not in splits:
        raise UserError(f"--split {split!r}: dataset {reader.name!r} has splits {splits}")
    return split, reader.cases(split)


def _prepare_dataset(name: str, opts: RunOptions) -> DatasetInput:
    options: dict[str, Any] = {}
    if name.endswith("rad-chestct"):
        options["calcification"] = opts.calcification
    reader = open_dataset(name, opts.roots.get(name), **options)
    split, cases = _split_cases(reader, opts.splits.get(name))
    if opts.max_cases is not None:
        cases = cases[: opts.max_cases]
    if not cases:
        raise UserError(f"dataset {name!r} at {reader.root} has no cases in split {split!r}")
    findings = reader.labelled_findings()
    labels = np.array([[c.labels.get(f, -1) for f in findings] for c in cases], dtype=np.int8)
    notes = [f"{name}: {f} is not labelled here and is skipped"
             for f in finding_names() if f not in findings]  # fmt: skip
    for merged, sources in reader.merged_findings().items():
        notes.append(f"{name}: {merged!r} scored as the max over {', '.join(sources)}")
    resamples = (
        case_resamples(len(cases), opts.bootstrap, opts.seed) if opts.bootstrap > 0 else None
    )
    return DatasetInput(reader, split, cases, findings, labels, resamples, notes)


def _score_findings(data: DatasetInput) -> list[str]:
    merged = data.reader.merged_findings()
    wanted = {s for f in data.findings for s in merged.get(f, (f,))}
    return [f for f in finding_names() if f in wanted]


def _anatomy_index(model: ZeroShotModel, findings: list[str]) -> np.ndarray | None:
    if model.anatomy_set is None:
        return None
    aset = anatomy_set(model.anatomy_set)
    return np.array(
        [model.anatomies.index(a) if (a := aset.anatomy_of(f)) in model.anatomies else -1
         for f in findings]
    )  # fmt: skip


def _model_card(name: str, model: ZeroShotModel, checkpoint: Path | None) -> dict[str, Any]:
    card = getattr(model, "card", {}) or {}
    dataset = card.get("dataset", {})
    return {
        "name": name,
        "adapter_name": model.name,
        "family": card.get("family", "adapter"),
        "identity": model.identity(),
        "checkpoint": str(getattr(model, "folder", checkpoint or "")),
        "weights_sha256": card.get("weights_sha256"),
        "config_hash": card.get("config_hash"),
        "trained_on": {"dataset": dataset.get("name"), "fingerprint": dataset.get("fingerprint")},
        "train_seed": card.get("seed"),
        "anatomy_set": model.anatomy_set,
        "logit_scale": model.logit_scale,
    }


@dataclass
class _Outputs:
    """What the per-(model, dataset) evaluations accumulate for the document and the store."""

    results: list[dict[str, Any]] = field(default_factory=list)
    metric_rows: list[MetricRow] = field(default_factory=list)
    artifacts: list[tuple[str, str, str, str]] = field(default_factory=list)
    cubes: dict[str, dict[str, analysis.CubeResult]] = field(default_factory=dict)
    collapse: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _prompt_embeddings(
    plan: PromptPlan, vectors: np.ndarray, lookup: dict[str, int], findings: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(T, F, D) positive and negative prompt embeddings for ``findings``."""
    f_idx = [plan.findings.index(f) for f in findings]
    rows = range(len(plan.templates))
    pos = vectors[[[lookup[plan.positive[t][f]] for f in f_idx] for t in rows]]
    neg = vectors[[[lookup[plan.negative[t][f]] for f in f_idx] for t in rows]]
    return pos, neg


def _evaluate(
    model_name: str, model: ZeroShotModel, cache: EmbeddingCache, prompts: tuple,
    dataset_name: str, data: DatasetInput, plan: PromptPlan, opts: RunOptions, policy: Any,
    store: Store, out: _Outputs,
) -> None:  # fmt: skip
    """One (model, dataset): encode volumes, score the cube, analyse, queue the rows."""
    key = f"{model_name}/{dataset_name}"
    t0 = time.perf_counter()
    volumes, encoded = cache.volumes(model, data.reader, data.cases, opts.batch_size)
    out.timings[f"{key}/encode_volumes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    score_findings = _score_findings(data)
    pos, neg = _prompt_embeddings(plan, *prompts, score_findings)
    probs = score_cube(volumes, _anatomy_index(model, score_findings), pos, neg, model.logit_scale)
    probs = merge_findings(probs, score_findings, data.reader.merged_findings(), data.findings)
    out.timings[f"{key}/score"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = analysis.analyse_cube(probs, data.labels, policy, data.resamples)
    out.cubes.setdefault(dataset_name, {})[model_name] = result
    out.timings[f"{key}/analyse"] = time.perf_counter() - t0
    digest = store.put_arrays({
        "probs": probs, "labels": data.labels,
        "case_ids": np.array([c.case_id for c in data.cases]),
        "template_ids": np.array([t.template_id for t in plan.templates]),
        "template_families": np.array(plan.template_family),
        "findings": np.array(data.findings),
    })  # fmt: skip
    out.artifacts.append((model_name, dataset_name, "score_cube", digest))
    diag = out.collapse.setdefault(model_name, {})
    diag.setdefault("image", {})[dataset_name] = collapse.image_collapse(model, volumes, opts.seed)
    if "reports" not in diag:
        t0 = time.perf_counter()
        aset = anatomy_set(opts.anatomy_set)
        reports = collapse.report_collapse(model, cache, data.cases, aset, opts.seed)
        if reports is not None:
            diag["reports"] = {"dataset": dataset_name, **reports}
        out.timings[f"{key}/report_collapse"] = time.perf_counter() - t0
    out.results.append({
        "model": model_name,
        "dataset": dataset_name,
        "findings": data.findings,
        "volumes_encoded_now": encoded,
        "cube": {"sha256": digest, "path": str(store.artifact_path(digest)),
                 "shape": list(probs.shape)},
        "families": analysis.family_statistics(result, probs, plan, opts.level),
        "per_template": analysis.per_template(result, plan, data.findings),
        "per_finding": analysis.per_finding(result, data.findings),
    })  # fmt: skip
    for t, template in enumerate(plan.templates):
        for metric, values in result.metrics.items():
            for f, finding in enumerate(data.findings):
                out.metric_rows.append(MetricRow(
                    model_name, dataset_name, plan.template_family[t], template.template_id,
                    finding, metric, float(values[t, f]),
                ))  # fmt: skip


def run(opts: RunOptions) -> dict[str, Any]:
    """Execute a run; returns the result document (also written to the store)."""
    started, created = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    policy = parse_threshold_policy(opts.threshold)
    if not opts.models or not opts.datasets:
        raise UserError("--models and --dataset each need at least one name")
    if opts.bootstrap < 0:
        raise UserError("--bootstrap must be >= 0 (0 disables intervals)")
    for name in opts.checkpoints:
        if name not in opts.models:
            raise UserError(f"--checkpoint {name}=...: {name!r} is not in --models")
    distributed.init(distributed.device_for(opts.device))  # joins torchrun's group, if any
    baseline = opts.baseline_model or opts.models[0]
    if baseline not in opts.models:
        raise UserError(f"--baseline-model {baseline!r} is not in --models {opts.models}")
    t0 = time.perf_counter()
    plan = build_plan(opts.prompts, opts.augment, finding_names(), opts.anatomy_set)
    plan_seconds = time.perf_counter() - t0
    models = {m: load_model(m, opts.checkpoints.get(m), opts.device) for m in opts.models}
    datasets = {d: _prepare_dataset(d, opts) for d in opts.datasets}
    store = Store(opts.store)
    texts = plan.unique_texts()
    lookup = {text: i for i, text in enumerate(texts)}
    out = _Outputs(timings={"prompt_plan": plan_seconds})
    for model_name, model in models.items():
        cache = EmbeddingCache(model.identity())
        t0 = time.perf_counter()
        vectors = cache.texts(model, texts)
        out.timings[f"{model_name}/encode_prompts"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        out.collapse.setdefault(model_name, {})["prompts"] = collapse.prompt_collapse(
            model, cache, plan, anatomy_set(opts.anatomy_set), opts.seed
        )
        out.timings[f"{model_name}/prompt_collapse"] = time.perf_counter() - t0
        for dataset_name, data in datasets.items():
            _evaluate(model_name, model, cache, (vectors, lookup), dataset_name, data, plan,
                      opts, policy, store, out)  # fmt: skip
    document = {
        "schema": SCHEMA,
        "run_id": new_run_id(),
        "created_at": created,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": opts.command,
        "seed": opts.seed,
        "threshold_policy": str(policy),
        "bootstrap": {"replicates": opts.bootstrap, "level": opts.level, "paired": True},
        "anatomy_set": opts.anatomy_set,
        "calcification": opts.calcification,
        "augment": opts.augment,
        "baseline_model": baseline,
        "provenance": {"git_commit": provenance.git_commit(),
                       "versions": provenance.package_versions(), "host": provenance.host()},
        "families": [_family_entry(f, plan) for f in plan.families],
        "templates": _template_entries(plan),
        "datasets": [_dataset_entry(name, d) for name, d in datasets.items()],
        "models": [_model_card(n, m, opts.checkpoints.get(n)) for n, m in models.items()],
        "results": out.results,
        "comparisons": {d: analysis.paired_comparisons(r, baseline, plan, opts.level)
                        for d, r in out.cubes.items()},
        "rank_stability": {d: analysis.model_rank_stability(r, plan)
                           for d, r in out.cubes.items()},
        "collapse": analysis.json_safe(out.collapse),
        "cross_dataset": _cross_dataset(out.results, models),
        "notes": plan.notes + [n for d in datasets.values() for n in d.notes],
    }  # fmt: skip
    out.timings["total"] = time.perf_counter() - started
    document["timings"] = {k: round(v, 3) for k, v in out.timings.items()}
    if distributed.rank() == 0:  # under torchrun every rank has the document; one stores it
        store.write_run(document, out.metric_rows, out.artifacts)
    return document


def _family_entry(family: Any, plan: PromptPlan) -> dict[str, Any]:
    return {
        "name": family.name,
        "version": family.version,
        "family_id": family.family_id,
        "content_hash": family.content_hash,
        "path": str(family.path) if family.path else None,
        "n_templates": len(plan.family_indices(family.name)),
        "canonical_template": family.templates[0].template_id,
    }


def _template_entries(plan: PromptPlan) -> list[dict[str, Any]]:
    return [
        {
            "template_id": t.template_id,
            "family": plan.template_family[i],
            "canonical": i == plan.family_indices(plan.template_family[i])[0],
            "origin": analysis.json_safe(dict(t.origin)),
            "positive_source": t.source("positive"),
            "negative_source": t.source("negative"),
            "texts": {
                f: [plan.positive[i][j], plan.negative[i][j]] for j, f in enumerate(plan.findings)
            },
        }  # fmt: skip
        for i, t in enumerate(plan.templates)
    ]


def _dataset_entry(name: str, data: DatasetInput) -> dict[str, Any]:
    return {
        "name": name,
        "root": str(data.reader.root),
        "fingerprint": data.reader.fingerprint(),
        "split": data.split,
        "n_cases": len(data.cases),
        "findings": data.findings,
        "positives": {f: int((data.labels[:, j] == 1).sum()) for j, f in enumerate(data.findings)},
        "merged_findings": {k: list(v) for k, v in data.reader.merged_findings().items()},
    }


def _cross_dataset(results: list[dict[str, Any]], models: dict[str, ZeroShotModel]) -> list[dict]:
    rows = []
    for entry in results:
        card = getattr(models[entry["model"]], "card", {}) or {}
        trained_on = card.get("dataset", {}).get("name")
        stats = entry["families"][analysis.ALL]["auc"]
        rows.append({
            "model": entry["model"], "trained_on": trained_on, "dataset": entry["dataset"],
            "site": "unknown" if trained_on is None
            else "internal" if trained_on == entry["dataset"] else "external",
            "mean_auc": stats["mean"], "std_auc": stats["std"], "worst_auc": stats["min"],
        })  # fmt: skip
    return rows


def print_summary(document: dict[str, Any]) -> None:
    """The compact terminal table per dataset."""
    from rich.table import Table

    from cabench.ui import stdout

    for dataset in document["datasets"]:
        table = Table(title=f"{dataset['name']} ({dataset['split']}, {dataset['n_cases']} cases)")
        for column in ("model", "mean AUC [95% CI]", "std across templates", "worst template",
                       "mean F1", "templates"):  # fmt: skip
            table.add_column(column)
        for entry in document["results"]:
            if entry["dataset"] != dataset["name"]:
                continue
            stats = entry["families"][analysis.ALL]
            auc = stats["auc"]
            ci = stats.get("auc_ci", {}).get("mean", {})
            interval = f" [{ci['low']:.3f}, {ci['high']:.3f}]" if ci.get("low") is not None else ""
            table.add_row(
                entry["model"],
                f"{auc['mean']:.3f}{interval}",
                f"{auc['std']:.4f}" if auc["std"] is not None else "-",
                f"{auc['min']:.3f} ({auc['worst_template']})",
                f"{stats['f1']['mean']:.3f}",
                str(stats["n_templates"]),
            )
        stdout.print(table)
    console.print(f"run {document['run_id']} stored")
