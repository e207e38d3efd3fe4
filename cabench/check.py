"""The prompt-variance regression gate: `cabench baseline write` and `cabench check`.

A baseline is a small JSON file of across-template statistics per (model, dataset, family), with
what makes two runs comparable (family content hash, dataset fingerprint, findings, threshold
policy). `check` fails (exit 1) only when a statistic moves past its tolerance AND past what
case-sampling noise explains: noise = 1.96 * sqrt(se_baseline^2 + se_current^2), each se read off
the 95% bootstrap interval as (high - low) / (2 * 1.96). Incomparable sides exit 2 naming why.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cabench.errors import UserError
from cabench.jsonio import write_json
from cabench.provenance import json_hash
from cabench.store import Store

SCHEMA = "cabench.baseline/1"
Z = 1.959963984540054
ALL = "all"


def _family_hashes(document: dict[str, Any]) -> dict[str, str]:
    hashes = {f["name"]: f["content_hash"] for f in document["families"]}
    # "all" spans every family and the augmentation, so its identity is all of them together
    hashes[ALL] = json_hash({"families": hashes, "augment": document.get("augment")})
    return hashes


def _interval(stats: dict[str, Any], name: str) -> list[float | None]:
    entry = (stats.get("auc_ci") or {}).get(name) or {}
    return [entry.get("low"), entry.get("high")]


def baseline_entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    hashes = _family_hashes(document)
    fingerprints = {d["name"]: d["fingerprint"] for d in document["datasets"]}
    entries = []
    for result in document["results"]:
        for family, stats in result["families"].items():
            auc = stats["auc"]
            entries.append({
                "model": result["model"],
                "dataset": result["dataset"],
                "family": family,
                "family_hash": hashes[family],
                "dataset_fingerprint": fingerprints[result["dataset"]],
                "findings": result["findings"],
                "n_templates": stats["n_templates"],
                "auc_mean": auc["mean"], "auc_mean_ci": _interval(stats, "mean"),
                "auc_std": auc["std"], "auc_std_ci": _interval(stats, "std"),
                "auc_worst": auc["min"], "auc_worst_ci": _interval(stats, "min"),
                "sampling_floor": stats.get("sampling_floor"),
            })  # fmt: skip
    return entries


def write_baseline(store_path: Path | None, run: str, out: Path) -> Path:
    document = Store(store_path).load_run(run)
    baseline = {
        "schema": SCHEMA,
        "run_id": document["run_id"],
        "created_at": document["finished_at"],
        "threshold_policy": document["threshold_policy"],
        "bootstrap": document["bootstrap"],
        "git_commit": document["provenance"]["git_commit"],
        "entries": baseline_entries(document),
    }
    return write_json(out, baseline)


def read_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(
            f"--baseline {path}: no such file; write one with `cabench baseline write`"
        ) from None
    except json.JSONDecodeError as exc:
        raise UserError(
            f"--baseline {path}: not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f"--baseline {path}: not a cabench baseline (schema {SCHEMA} expected)")
    return data


@dataclass(frozen=True)
class Limits:
    max_std_increase: float = 0.01
    max_mean_drop: float = 0.02
    max_worst_drop: float = 0.03


@dataclass
class Verdict:
    model: str
    dataset: str
    family: str
    statistic: str
    baseline: float
    current: float
    change: float  # in the harmful direction (positive = worse)
    limit: float
    noise: float

    @property
    def regressed(self) -> bool:
        return self.change > self.limit and self.change > self.noise


def _se(interval: list[float | None]) -> float:
    low, high = interval if interval else (None, None)
    if low is None or high is None:
        return 0.0
    return (high - low) / (2 * Z)


def _comparable(base: dict, current: dict, where: str) -> None:
    for key, what in (
        ("family_hash", "prompt family content"),
        ("dataset_fingerprint", "dataset fingerprint"),
        ("findings", "scored findings"),
    ):
        if base[key] != current[key]:
            raise UserError(f"not comparable: {where}: the {what} differs from the baseline")


def compare(baseline: dict[str, Any], document: dict[str, Any], limits: Limits) -> list[Verdict]:
    """Verdicts for every baseline entry; UserError when the two sides are not comparable."""
    if baseline["threshold_policy"] != document["threshold_policy"]:
        wanted = baseline["threshold_policy"]
        raise UserError(
            f"not comparable: threshold policy {document['threshold_policy']!r} vs the "
            f"baseline's {wanted!r} (rerun with --threshold {wanted})"
        )
    current = {(e["model"], e["dataset"], e["family"]): e for e in baseline_entries(document)}
    verdicts = []
    for base in baseline["entries"]:
        key = (base["model"], base["dataset"], base["family"])
        where = f"model {key[0]!r}, dataset {key[1]!r}, family {key[2]!r}"
        if key not in current:
            raise UserError(f"not comparable: {where} is in the baseline but not in this run")
        now = current[key]
        _comparable(base, now, where)
        for statistic, sign, limit in (
            ("auc_std", +1, limits.max_std_increase),
            ("auc_mean", -1, limits.max_mean_drop),
            ("auc_worst", -1, limits.max_worst_drop),
        ):
            b, c = base[statistic], now[statistic]
            if b is None or c is None:
                continue
            noise = Z * math.hypot(_se(base[f"{statistic}_ci"]), _se(now[f"{statistic}_ci"]))
            verdicts.append(Verdict(*key, statistic, b, c, sign * (c - b), limit, noise))
    return verdicts


def markdown(verdicts: list[Verdict], only_regressions: bool = False) -> str:
    rows = [v for v in verdicts if v.regressed or not only_regressions]
    lines = [
        "| model | dataset | family | statistic | baseline | current | change (worse +) "
        "| limit | noise | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in rows:
        verdict = "REGRESSED" if v.regressed else "ok"
        lines.append(
            f"| {v.model} | {v.dataset} | {v.family} | {v.statistic} | {v.baseline:.4f} | "
            f"{v.current:.4f} | {v.change:+.4f} | {v.limit:.4f} | {v.noise:.4f} | {verdict} |"
        )
    return "\n".join(lines)


def check(
    store_path: Path | None, run: str, baseline_path: Path, limits: Limits
) -> tuple[list[Verdict], str]:
    """Verdicts and a Markdown table of every compared statistic (regressions first)."""
    baseline = read_baseline(baseline_path)
    document = Store(store_path).load_run(run)
    verdicts = compare(baseline, document, limits)
    verdicts.sort(key=lambda v: not v.regressed)
    regressed = sum(v.regressed for v in verdicts)
    header = (
        f"cabench check: run {document['run_id']} vs baseline {baseline['run_id']}: "
        f"{regressed} of {len(verdicts)} statistics regressed beyond tolerance and noise\n\n"
    )
    return verdicts, header + markdown(verdicts)
