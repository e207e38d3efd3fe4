"""The study: does CA-GCL make zero-shot CT detection less prompt-sensitive? (`make study`)

Trains clip, fvlp, cagcl and the three CA-GCL ablations with two seeds each on synth-ct-rate,
evaluates every instance on synth-ct-rate's validation split (internal) and synth-rad-chestct
(external) with all built-in families plus permutation and partial-completion augmentation, writes
the report to reports/study/ and a summary (reports/study/summary.md) that sets seed variance next
to template variance and tests the paper's four claims mechanically, cagcl against fvlp. Every
size is an option; the defaults fit about an hour on 2 CPU cores. Nothing here changes the demo's
or CI's defaults.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from cabench import paths
from cabench.demo import FAMILIES, PRESETS, Preset, instance_name, run_pipeline
from cabench.errors import CabenchError
from cabench.ui import console

MODELS = ("clip", "fvlp", "cagcl", "cagcl-noglobal", "cagcl-noaug", "cagcl-supcon")
INTERNAL, EXTERNAL = "synth-ct-rate", "synth-rad-chestct"
DEMO = PRESETS["demo"]


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _by_model(document: dict[str, Any], models: tuple[str, ...], seeds: tuple[int, ...]) -> dict:
    """{(model, dataset): [the 'all' statistics of each seed's instance]}."""
    instance = {instance_name(m, s, seeds): m for m in models for s in seeds}
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for result in document["results"]:
        model = instance.get(result["model"])
        if model is not None:
            grouped[(model, result["dataset"])].append(result["families"]["all"])
    return grouped


def _collapse(document: dict[str, Any], models: tuple[str, ...], seeds: tuple[int, ...]) -> dict:
    """{model: [cross-anatomy prompt-similarity summaries, one per seed]}."""
    out: dict[str, list[dict]] = defaultdict(list)
    for model in models:
        for seed in seeds:
            entry = document["collapse"].get(instance_name(model, seed, seeds), {})
            cross = entry.get("prompts", {}).get("by_anatomy", {}).get("cross")
            if cross:
                out[model].append(cross)
    return out


def summarise(
    document: dict[str, Any],
    models: tuple[str, ...],
    seeds: tuple[int, ...],
    pair: tuple[str, str] = ("cagcl", "fvlp"),
) -> str:
    """Markdown: per-model tables (seed mean ± seed std), collapse moments, the four claims
    (``pair``: the CA-GCL model and the FVLP model they compare)."""
    grouped = _by_model(document, models, seeds)
    lines = [
        f"# Study summary (run {document['run_id']})",
        "",
        f"Seeds {list(seeds)}; each cell is the mean ± std over seeds of a per-instance statistic "
        "across all templates (`all` family group). 'seed 0 CI' is the 95% paired-bootstrap "
        "interval of seed 0's mean AUC over cases.",
        "",
    ]
    for dataset in (INTERNAL, EXTERNAL):
        lines += [
            f"## {dataset} ({'internal' if dataset == INTERNAL else 'external'})",
            "",
            "| model | mean AUC | seed 0 CI | std across templates | worst template AUC "
            "| mean F1 | templates |",
            "|---|---|---|---|---|---|---|",
        ]
        for model in models:
            stats = grouped.get((model, dataset), [])
            if not stats:
                continue
            ci = stats[0].get("auc_ci", {}).get("mean", {})
            interval = f"[{ci['low']:.3f}, {ci['high']:.3f}]" if ci.get("low") is not None else "-"
            lines.append(
                f"| {model} | {_spread([s['auc']['mean'] for s in stats])} | {interval} | "
                f"{_spread([s['auc']['std'] for s in stats])} | "
                f"{_spread([s['auc']['min'] for s in stats])} | "
                f"{_spread([s['f1']['mean'] for s in stats])} | {stats[0]['n_templates']} |"
            )
        lines.append("")
    collapse = _collapse(document, models, seeds)
    lines += [
        "## Cross-anatomy text-embedding similarity (positive prompts of different anatomies)",
        "",
        "| model | mean cosine | std | skewness | kurtosis |",
        "|---|---|---|---|---|",
    ]
    for model, entries in collapse.items():
        cells = [_spread([e[k] for e in entries if e.get(k) is not None])
                 for k in ("mean", "std", "skewness", "kurtosis")]  # fmt: skip
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += ["", *_claims(grouped, collapse, pair)]
    return "\n".join(lines) + "\n"


def _claims(grouped: dict, collapse: dict, pair: tuple[str, str]) -> list[str]:
    """The paper's four claims, pair[0] (CA-GCL) vs pair[1] (FVLP), decided by the seed means
    (and seed spread)."""
    cagcl, fvlp = pair

    def seed_values(model: str, dataset: str, key: str) -> list[float]:
        return [s["auc"][key] for s in grouped.get((model, dataset), [])]

    def verdict(better: bool, a: list[float], b: list[float]) -> str:
        if not a or not b:
            return "not measured"
        gap = abs(statistics.mean(a) - statistics.mean(b))
        noise = max(
            statistics.stdev(a) if len(a) > 1 else 0.0, statistics.stdev(b) if len(b) > 1 else 0.0
        )
        held = "held" if better else "did not hold"
        return f"{held} (gap {gap:.3f}{', within seed spread' if gap <= noise else ''})"

    rows = [f"## The four claims, {cagcl} vs {fvlp}", "", f"| claim | {cagcl} | {fvlp} | verdict |",
            "|---|---|---|---|"]  # fmt: skip
    for claim, dataset, key, higher in (
        ("higher internal mean AUC", INTERNAL, "mean", True),
        ("better cross-site transfer (external mean AUC)", EXTERNAL, "mean", True),
        ("lower std across templates (internal)", INTERNAL, "std", False),
        ("lower std across templates (external)", EXTERNAL, "std", False),
    ):
        a, b = seed_values(cagcl, dataset, key), seed_values(fvlp, dataset, key)
        better = bool(a and b) and (
            statistics.mean(a) > statistics.mean(b)
            if higher
            else statistics.mean(a) < statistics.mean(b)
        )
        rows.append(f"| {claim} | {_spread(a)} | {_spread(b)} | {verdict(better, a, b)} |")
    a = [e["mean"] for e in collapse.get(cagcl, [])]
    b = [e["mean"] for e in collapse.get(fvlp, [])]
    better = bool(a and b) and statistics.mean(a) < statistics.mean(b)
    rows.append(
        f"| less collapsed cross-anatomy text similarity (lower mean cosine) | {_spread(a)} | "
        f"{_spread(b)} | {verdict(better, a, b)} |"
    )
    return rows


def plot_collapse(
    document: dict[str, Any], models: tuple[str, ...], seeds: tuple[int, ...], out: Path
) -> Path:
    """Histograms of cross-anatomy cosine similarity of prompt embeddings and of per-anatomy
    report-text embeddings, one line per model (first seed): collapsed vs bell-shaped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True)
    panels = (("prompts", "positive prompts of different anatomies"),
              ("reports", "report texts of different anatomies"))  # fmt: skip
    for ax, (kind, title) in zip(axes, panels, strict=True):
        for model in models:
            entry = document["collapse"].get(instance_name(model, seeds[0], seeds), {})
            source = entry.get(kind, {})
            cross = (source.get("by_anatomy", source) if kind == "prompts" else source).get("cross")
            if not cross or not cross.get("n"):
                continue
            counts, edges = cross["histogram"]["counts"], cross["histogram"]["edges"]
            total = sum(counts) or 1
            centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
            ax.plot(
                centres, [c / total for c in counts], label=f"{model} (mean {cross['mean']:.2f})"
            )
        ax.set_title(f"cosine similarity: {title}", fontsize=10)
        ax.set_xlabel("cosine similarity")
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
    axes[0].set_ylabel("fraction of pairs")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_outputs(
    document: dict[str, Any],
    models: tuple[str, ...],
    seeds: tuple[int, ...],
    out: Path,
    pair: tuple[str, str] = ("cagcl", "fvlp"),
) -> Path:
    """summary.md and collapse.png under ``out``; returns the summary's path."""
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.md"
    summary.write_text(summarise(document, models, seeds, pair))
    plot_collapse(document, models, seeds, out / "collapse.png")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cabench.study", description=__doc__)
    parser.add_argument("--ct-cases", type=int, default=500)
    parser.add_argument("--rad-cases", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=None, help="default: each model's preset")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--augment", default="permutation:n=10,partial:n=10")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("reports/study"))
    parser.add_argument(
        "--pair", default="cagcl,fvlp", help="CA-GCL,FVLP: the two models the claims compare"
    )
    parser.add_argument(
        "--from-run", default=None, help="summarise a stored study run (ID or latest); no training"
    )
    args = parser.parse_args(argv)
    # with the demo's sizes, the demo's data and seed-0 checkpoints are this study's too
    reuse = (args.ct_cases, args.rad_cases, args.epochs) == (DEMO.ct_cases, DEMO.rad_cases, None)
    models = tuple(m for m in args.models.split(",") if m)
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s)
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: give comma-separated integers, e.g. 0,1")
    if not models or not seeds:
        parser.error("--models and --seeds each need at least one value")
    pair = tuple(args.pair.split(","))
    if len(pair) != 2:
        parser.error(f"--pair {args.pair!r}: give two models, CA-GCL first, e.g. cagcl,fvlp")
    home = paths.cabench_home() / "study"
    preset = Preset(
        ct_cases=args.ct_cases, rad_cases=args.rad_cases, models=models, epochs=args.epochs,
        augment=args.augment, families=list(FAMILIES), bootstrap=args.bootstrap,
        data_dir=None if reuse else paths.data_home() / "study",
        checkpoints=paths.checkpoints_dir() / "study", shared_seed=0 if reuse else None,
        store=home / "results.sqlite", report_out=args.out, seeds=seeds,
        baseline_model=instance_name(pair[1], seeds[0], seeds) if pair[1] in models else None,
        command="python -m cabench.study " + " ".join(sys.argv[1:] if argv is None else argv),
    )  # fmt: skip
    try:
        if args.from_run:
            from cabench.store import Store

            document = Store(preset.store).load_run(args.from_run)
        else:
            document = run_pipeline(preset, seed=0)
    except CabenchError as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        return exc.exit_code
    summary = write_outputs(document, models, seeds, args.out, pair)
    console.print(f"study summary: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
