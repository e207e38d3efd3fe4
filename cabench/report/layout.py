"""What each section of the report shows: its columns (with hover explanations) and its short
reading guide. Pure data; :mod:`cabench.report.sections` assembles the sections from it."""

from __future__ import annotations

from cabench.report.display import Column

FLOOR = "bootstrap standard error of one template's AUC: a spread near it is noise"


def leaderboard_columns(ci: str, versus: str) -> list[Column]:
    """Leaderboard columns; ``ci`` (e.g. ' [95% CI]') and ``versus`` (' vs MODEL') label them."""
    return [
        Column("model", "model", "text"),
        Column("n_templates", "templates", "int"),
        Column("auc_mean", f"mean AUC{ci}", "ci", "auc_ci_low", "auc_ci_high",
               title="mean over templates of the macro AUC; case-bootstrap interval"),
        Column("auc_std", "std across templates",
               title="standard deviation (ddof=1) of the macro AUC across templates"),
        Column("sampling_floor", "sampling floor", title=FLOOR),
        Column("auc_min", "worst AUC"),
        Column("worst_template_text", "worst template", "long"),
        Column("auc_range", "range"),
        Column("auc_q05", "5% quantile"),
        Column("f1_mean", "mean F1"),
        Column("delta_mean", f"Δ mean AUC{versus}", "delta", "delta_mean_low", "delta_mean_high",
               title="paired bootstrap difference to the baseline model (same resampled cases)"),
        Column("delta_worst", f"Δ worst AUC{versus}", "delta", "delta_worst_low",
               "delta_worst_high"),
    ]  # fmt: skip


FAMILIES = [
    Column("model", "model", "text"), Column("family", "family", "text"),
    Column("n_templates", "templates", "int"), Column("auc_mean", "mean AUC"),
    Column("auc_std", "std across templates"), Column("sampling_floor", "sampling floor",
                                                      title=FLOOR),
    Column("auc_min", "worst AUC"), Column("auc_q05", "5% quantile"), Column("auc_range", "range"),
    Column("auc_canonical", "canonical template AUC"),
    Column("drop_chance_normalised_worst", "worst drop (chance-normalised)",
           title="(canonical - worst) / (canonical - 0.5)"),
    Column("f1_mean", "mean F1"),
    Column("flip_rate", "flip rate",
           title="share of thresholded predictions that change from the canonical template"),
    Column("prob_spread", "probability spread",
           title="mean over cases and findings of the std of the probability across templates"),
]  # fmt: skip
PER_FINDING = [
    Column("finding", "finding", "text"), Column("model", "model", "text"),
    Column("positives", "positives", "int"), Column("negatives", "negatives", "int"),
    Column("auc_mean", "mean AUC"), Column("auc_std", "std across templates"),
    Column("auc_min", "worst AUC"), Column("auc_max", "best AUC"), Column("auc_range", "range"),
]  # fmt: skip
COLLAPSE = [
    Column("model", "model", "text"), Column("source", "embeddings", "text"),
    Column("dataset", "dataset", "text"), Column("pairs", "pairs", "text"),
    Column("n", "n pairs", "int"), Column("mean", "mean"), Column("std", "std"),
    Column("skewness", "skewness"), Column("kurtosis", "excess kurtosis"),
    Column("q05", "5%"), Column("q50", "median"), Column("q95", "95%"),
]  # fmt: skip
CROSS_DATASET = [
    Column("model", "model", "text"), Column("trained_on", "trained on", "text"),
    Column("dataset", "tested on", "text"), Column("site", "site", "text"),
    Column("mean_auc", "mean AUC"), Column("std_auc", "std across templates"),
    Column("worst_auc", "worst AUC"),
]  # fmt: skip
RANK_STABILITY = [
    Column("dataset", "dataset", "text"), Column("family", "family", "text"),
    Column("kendall_tau", "Kendall tau"),
]  # fmt: skip
TEMPLATES = [
    Column("template_id", "template", "id"), Column("family", "family", "text"),
    Column("canonical", "canonical", "text"), Column("augmenter", "augmenter", "text"),
    Column("parent", "parent", "text"), Column("params", "params", "text"),
    Column("seed", "seed", "int"), Column("positive_source", "positive", "long"),
    Column("negative_source", "negative", "long"),
]  # fmt: skip

INTRO = {
    "leaderboard": (
        "Per dataset: the mean over prompt templates of the macro AUC (with its case-bootstrap "
        "interval), how much it moves with the wording (std, range, worst template) beside the "
        "sampling floor, and the paired difference to the baseline model."
    ),
    "template_scores": (
        "Every template's macro AUC per model. A spread wider than the sampling floor means the "
        "wording, not the cases, moves the score. Hover a cell for the template text and its "
        "interval."
    ),
    "families": (
        "Statistics across the templates of each family ('all' pools every template). Compare "
        "the std with the sampling floor; the flip rate is the share of thresholded predictions "
        "that change between the canonical template and another."
    ),
    "per_finding": "For each finding, how far its AUC moves across templates.",
    "collapse": (
        "Cosine similarity between text embeddings of different anatomies ('cross') and of the "
        "same anatomy ('within'). A collapsed model piles cross-anatomy similarities near 1; a "
        "model that separates anatomies shows a bell-shaped distribution well below 1."
    ),
    "cross_dataset": "Each model on its training site (internal) and on another site (external).",
    "rank_stability": (
        "Kendall tau between the models' rankings under different templates (1: the ranking never "
        "changes with the wording)."
    ),
    "templates": "Every template scored: its family, origin (augmenter, parent, seed), sources.",
    "provenance": (
        "Settings, code versions, content hashes, seeds, the threshold policy and timings of each "
        "run."
    ),
}
