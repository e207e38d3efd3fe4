"""Statistics on arrays: metrics, robustness across templates, paired bootstrap, collapse.

``stats`` knows only arrays (no models, no files): the score cube ``probs[case, template,
finding]`` and labels ``labels[case, finding]`` (1, 0, or -1 for not labelled) go in, numbers
come out. A typical evaluation of two models scored on the same cases::

    metrics = evaluate_cube(probs_a, labels, "youden")        # dict of (T, F) arrays
    point_a = macro(metrics["auc"])                            # (T,) macro AUC per template
    summary = across_templates(point_a)                        # mean, std, worst, drops, ...
    resamples = case_resamples(len(labels), 1000, seed=0)      # shared by every model: paired
    reps_a = bootstrap_macro_auc(probs_a, labels, resamples)   # (R, T)
    reps_b = bootstrap_macro_auc(probs_b, labels, resamples)
    cis = summarise(reps_a, point_a)                           # CIs of mean/std/min/q05
    floor = sampling_floor(reps_a)                             # noise level of one template
    diff = paired_difference(reps_a, reps_b, point_a, point_b)
"""

from cabench.stats.bootstrap import (
    bootstrap_macro_auc,
    case_resamples,
    paired_difference,
    sampling_floor,
    summarise,
)
from cabench.stats.collapse import cross_group_cosine, distribution_summary, same_group_cosine
from cabench.stats.metrics import (
    BINARY_METRICS,
    CUBE_METRICS,
    auc,
    binary_metrics,
    evaluate_cube,
    macro,
)
from cabench.stats.robustness import (
    across_templates,
    flip_rate,
    prob_spread,
    rank_stability,
    spread_statistics,
)
from cabench.stats.thresholds import ThresholdPolicy, parse_threshold_policy, thresholds

__all__ = [
    "BINARY_METRICS",
    "CUBE_METRICS",
    "ThresholdPolicy",
    "across_templates",
    "auc",
    "binary_metrics",
    "bootstrap_macro_auc",
    "case_resamples",
    "cross_group_cosine",
    "distribution_summary",
    "evaluate_cube",
    "flip_rate",
    "macro",
    "paired_difference",
    "parse_threshold_policy",
    "prob_spread",
    "rank_stability",
    "same_group_cosine",
    "sampling_floor",
    "spread_statistics",
    "summarise",
    "thresholds",
]
