"""From score cubes to the numbers a run reports: metrics per (template, finding), statistics
across templates per family and over all templates, paired bootstrap intervals, and the
per-finding spread. Knows arrays and the prompt plan only (no models, no files)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from cabench.eval.prompts_plan import PromptPlan
from cabench.stats import evaluate_cube, macro
from cabench.stats.bootstrap import (
    bootstrap_macro_auc,
    paired_difference,
    sampling_floor,
    summarise,
)
from cabench.stats.robustness import across_templates, flip_rate, prob_spread, rank_stability
from cabench.stats.thresholds import ThresholdPolicy

ALL = "all"  # the pseudo-family of every template of the run


@dataclass
class CubeResult:
    """Everything computed for one (model, dataset)."""

    metrics: dict[str, np.ndarray]  # metric -> (T, F)
    macro: dict[str, np.ndarray]  # metric -> (T,)
    replicates: np.ndarray | None  # (R, T) bootstrap macro AUC
    labels: np.ndarray  # (n, F) effective labels (-1 where not scorable)


def effective(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cases a model cannot score for a finding (its anatomy absent) become unlabelled there."""
    nan = np.isnan(probs)
    labels = np.where(nan.any(axis=1), -1, labels).astype(np.int8)
    if not nan.any() and np.isfinite(probs).all():
        return probs, labels  # nothing to replace: no copy
    filled = np.array(probs, copy=True)
    np.copyto(filled, 0.5, where=nan)  # in place: no second cube-sized temporary
    del nan
    if np.isinf(filled).any():  # never from score_cube; keeps nan_to_num's meaning of +-inf
        np.nan_to_num(filled, copy=False)
    return filled, labels


def analyse_cube(
    probs: np.ndarray, labels: np.ndarray, policy: ThresholdPolicy, resamples: np.ndarray | None
) -> CubeResult:
    probs, labels = effective(probs, labels)
    metrics = evaluate_cube(probs, labels, policy)
    macros = {name: macro(values) for name, values in metrics.items() if name != "threshold"}
    replicates = None if resamples is None else bootstrap_macro_auc(probs, labels, resamples)
    return CubeResult(metrics, macros, replicates, labels)


def json_safe(value: object) -> object:
    """JSON-safe floats (NaN -> None) through nested dicts and lists."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def family_statistics(
    result: CubeResult, probs: np.ndarray, plan: PromptPlan, level: float
) -> dict[str, dict]:
    """Across-template statistics for each family and for all templates together."""
    groups = {f.name: plan.family_indices(f.name) for f in plan.families}
    groups[ALL] = list(range(len(plan.templates)))
    out: dict[str, dict] = {}
    probs_eff = np.nan_to_num(probs, nan=0.5)
    for name, idx in groups.items():
        auc_t = result.macro["auc"][idx]
        entry = {
            "n_templates": len(idx),
            "canonical_template": plan.templates[idx[0]].template_id,
            "auc": across_templates(auc_t, canonical=0, chance=0.5),
            "f1": across_templates(result.macro["f1"][idx], canonical=0, chance=None),
            "accuracy_mean": float(np.nanmean(result.macro["accuracy"][idx])),
            "prob_spread": prob_spread(probs_eff[:, idx], result.labels),
            "flip_rate": flip_rate(
                probs_eff[:, idx], result.metrics["threshold"][idx], 0, result.labels
            ),
        }
        if result.replicates is not None:
            entry["auc_ci"] = summarise(result.replicates[:, idx], auc_t, level)
            entry["sampling_floor"] = sampling_floor(result.replicates[:, idx])
        entry["auc"]["worst_template"] = plan.templates[
            idx[entry["auc"]["worst_index"]]
        ].template_id
        out[name] = json_safe(entry)
    return out


def per_template(result: CubeResult, plan: PromptPlan, findings: list[str]) -> list[dict]:
    rows = []
    for t, template in enumerate(plan.templates):
        rows.append(json_safe({
            "template_id": template.template_id,
            "family": plan.template_family[t],
            "macro": {name: float(values[t]) for name, values in result.macro.items()},
            "auc": dict(zip(findings, result.metrics["auc"][t].tolist(), strict=True)),
            "f1": dict(zip(findings, result.metrics["f1"][t].tolist(), strict=True)),
            "threshold": dict(zip(findings, result.metrics["threshold"][t].tolist(), strict=True)),
        }))  # fmt: skip
    return rows


def per_finding(result: CubeResult, findings: list[str]) -> dict[str, dict]:
    """AUC spread across templates for each finding."""
    auc = result.metrics["auc"]  # (T, F)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f, finding in enumerate(findings):
            column = auc[:, f]
            out[finding] = json_safe({
                "positives": int((result.labels[:, f] == 1).sum()),
                "negatives": int((result.labels[:, f] == 0).sum()),
                "auc_mean": float(np.nanmean(column)),
                "auc_std": float(np.nanstd(column, ddof=1)) if len(column) > 1 else None,
                "auc_min": float(np.nanmin(column)),
                "auc_max": float(np.nanmax(column)),
            })  # fmt: skip
    return out


def paired_comparisons(
    results: dict[str, CubeResult], baseline: str, plan: PromptPlan, level: float
) -> dict[str, dict]:
    """Each model minus the baseline model, per family, with paired bootstrap intervals."""
    out: dict[str, dict] = {}
    base = results[baseline]
    if base.replicates is None:
        return out
    groups = {f.name: plan.family_indices(f.name) for f in plan.families}
    groups[ALL] = list(range(len(plan.templates)))
    for model, result in results.items():
        if model == baseline:
            continue
        out[model] = {
            name: json_safe(paired_difference(
                result.replicates[:, idx], base.replicates[:, idx],
                result.macro["auc"][idx], base.macro["auc"][idx], level,
            ))
            for name, idx in groups.items()
        }  # fmt: skip
    return out


def model_rank_stability(results: dict[str, CubeResult], plan: PromptPlan) -> dict[str, float]:
    """Kendall tau of the models' AUC ranking between templates, per family and overall."""
    if len(results) < 2:
        return {}
    matrix = np.stack([r.macro["auc"] for r in results.values()])
    groups = {f.name: plan.family_indices(f.name) for f in plan.families}
    groups[ALL] = list(range(len(plan.templates)))
    return json_safe({name: rank_stability(matrix[:, idx]) for name, idx in groups.items()})
