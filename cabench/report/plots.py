"""The report's plots, drawn with matplotlib's Agg canvas (no pyplot, no display) and returned as
``data:image/png;base64,...`` URIs to embed inline. Names are drawn as plain text (mathtext off),
so a ``$`` or markup in a model name is just characters in the picture.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cabench.report.context import collapse_sources
from cabench.report.display import side_by_side
from cabench.report.load import RunView

DPI = 96
PALETTE = ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb")
STYLE = {
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",
}


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    with rc_context(STYLE):
        yield Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    with rc_context(STYLE):
        FigureCanvasAgg(figure).print_png(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _group_label(run: str, model: str, multi: bool) -> str:
    return f"{model}\n{run}" if multi else model


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def auc_across_templates(scores: pd.DataFrame, multi: bool) -> str:
    """Box plots with the individual templates (coloured by family) per model, one panel per
    dataset; the dotted line is chance (0.5)."""
    datasets = list(dict.fromkeys(scores["dataset"]))
    groups = side_by_side(scores)
    families = list(dict.fromkeys(scores["family"]))
    height = 1.2 + 0.55 * len(groups) * (2 if multi else 1)
    with _figure(4.4 * len(datasets) + 1.6, height) as fig:
        axes = fig.subplots(1, len(datasets), squeeze=False, sharey=True)[0]
        jitter = np.random.default_rng(0)
        for ax, dataset in zip(axes, datasets, strict=True):
            part = scores[scores["dataset"] == dataset]
            data = [
                part[(part["run"] == r) & (part["model"] == m)]["auc"].dropna().to_numpy()
                for r, m in groups
            ]
            positions = np.arange(len(groups))
            ax.boxplot(
                data,
                positions=positions,
                orientation="horizontal",
                widths=0.6,
                showfliers=False,
                medianprops={"color": "#222"},
            )
            for y, (run, model) in enumerate(groups):
                rows = part[(part["run"] == run) & (part["model"] == model)]
                for k, family in enumerate(families):
                    values = rows[rows["family"] == family]["auc"].dropna().to_numpy()
                    ys = y + jitter.uniform(-0.2, 0.2, len(values))
                    ax.scatter(
                        values,
                        ys,
                        s=12,
                        alpha=0.8,
                        color=PALETTE[k % len(PALETTE)],
                        label=family if y == 0 else None,
                        zorder=3,
                    )
            ax.axvline(0.5, color="#888", linestyle=":", linewidth=1)
            ax.set_title(_short(dataset))
            ax.set_xlabel("macro AUC per template")
            ax.set_yticks(positions, [_short(_group_label(r, m, multi)) for r, m in groups])
        axes[0].invert_yaxis()  # first group on top (once: the y axis is shared)
        axes[-1].legend(
            title="family", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8
        )
        return _uri(fig)


def per_finding_spread(per_finding: pd.DataFrame, multi: bool) -> str:
    """Range (line) and mean (dot) of each finding's AUC across templates, per model."""
    datasets = list(dict.fromkeys(per_finding["dataset"]))
    groups = side_by_side(per_finding)
    findings = list(dict.fromkeys(per_finding["finding"]))
    step = 0.7 / max(len(groups), 1)
    height = 1.0 + 0.28 * len(findings) * max(1, len(groups) / 2)
    with _figure(4.2 * len(datasets) + 2.8, height) as fig:
        axes = fig.subplots(1, len(datasets), squeeze=False, sharey=True)[0]
        for ax, dataset in zip(axes, datasets, strict=True):
            part = per_finding[per_finding["dataset"] == dataset].set_index("finding")
            for g, (run, model) in enumerate(groups):
                rows = part[(part["run"] == run) & (part["model"] == model)]
                offset = (g - (len(groups) - 1) / 2) * step
                ys = np.array([findings.index(f) for f in rows.index]) + offset
                color = PALETTE[g % len(PALETTE)]
                ax.hlines(ys, rows["auc_min"], rows["auc_max"], color=color, linewidth=2)
                ax.scatter(
                    rows["auc_mean"],
                    ys,
                    color=color,
                    s=14,
                    zorder=3,
                    label=_group_label(run, model, multi).replace("\n", " "),
                )
            ax.axvline(0.5, color="#888", linestyle=":", linewidth=1)
            ax.set_xlim(-0.02, 1.02)
            ax.set_title(_short(dataset))
            ax.set_xlabel("AUC across templates (min-max, dot: mean)")
            ax.set_yticks(range(len(findings)), [_short(f, 34) for f in findings])
        axes[0].invert_yaxis()
        axes[-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
        return _uri(fig)


def _density(summary: dict) -> tuple[np.ndarray, np.ndarray] | None:
    histogram = summary.get("histogram") or {}
    counts = np.asarray(histogram.get("counts") or [], dtype=float)
    edges = np.asarray(histogram.get("edges") or [], dtype=float)
    if counts.size == 0 or edges.size != counts.size + 1 or counts.sum() <= 0:
        return None
    return counts / (counts.sum() * np.diff(edges)), edges


def _moments(summary: dict) -> str:
    parts = []
    labels = {"mean": "mean", "std": "std", "skewness": "skew", "kurtosis": "kurt"}
    for key, label in labels.items():
        value = summary.get(key)
        parts.append(f"{label} {value:.3g}" if isinstance(value, int | float) else f"{label} -")
    return ", ".join(parts)


def _panel(ax: Axes, curves: list[tuple[str, dict, str, bool]], title: str) -> None:
    lows, highs = [], []
    for label, summary, color, filled in curves:
        density = _density(summary)
        if density is None:
            continue
        values, edges = density
        ax.stairs(
            values,
            edges,
            fill=filled,
            alpha=0.45 if filled else 1.0,
            color=color,
            linewidth=1.5,
            label=f"{label}\n({_moments(summary)})",
        )
        nonzero = np.flatnonzero(values)
        lows.append(edges[nonzero[0]])
        highs.append(edges[nonzero[-1] + 1])
    if lows:
        pad = 0.05
        ax.set_xlim(max(-1.0, min(lows) - pad), min(1.0, max(highs) + pad))
    ax.set_title(_short(title, 48))
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22))


def collapse_histograms(views: list[RunView], multi: bool) -> str | None:
    """Cross-anatomy similarity of prompt embeddings for every model overlaid, then one panel per
    model: cross versus within anatomy (and report texts when the run has them)."""
    per_model: list[tuple[str, dict[str, dict]]] = []
    for view in views:
        found: dict[str, dict[str, dict]] = {}
        for model, source, _dataset, summary in collapse_sources(view):
            if source in ("prompts by anatomy", "reports by anatomy"):
                found.setdefault(model, {})[source] = summary
        per_model += [
            (_group_label(view.run_id, m, multi).replace("\n", " "), s) for m, s in found.items()
        ]
    if not per_model:
        return None
    n = len(per_model) + 1
    columns = min(n, 3)
    rows = -(-n // columns)
    with _figure(4.3 * columns, 4.0 * rows) as fig:
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        overlaid = [
            (_short(label, 30), s["prompts by anatomy"].get("cross") or {}, PALETTE[i % 7], False)
            for i, (label, s) in enumerate(per_model)
            if "prompts by anatomy" in s
        ]
        _panel(axes[0], overlaid, "prompts, cross-anatomy: all models")
        for ax, (label, sources) in zip(axes[1:], per_model, strict=False):
            curves = []
            prompts = sources.get("prompts by anatomy") or {}
            reports = sources.get("reports by anatomy") or {}
            curves.append(("prompts cross", prompts.get("cross") or {}, PALETTE[0], True))
            curves.append(("prompts within", prompts.get("within") or {}, PALETTE[1], False))
            if reports:
                curves.append(("reports cross", reports.get("cross") or {}, PALETTE[2], False))
            _panel(ax, curves, label)
        for ax in axes[n:]:
            ax.set_visible(False)
        return _uri(fig)
