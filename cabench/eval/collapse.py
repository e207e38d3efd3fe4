"""Collapse diagnostics for one model: how similar are the text embeddings of different
anatomies (and of different findings), and the image embeddings of different anatomies?

The FVLP failure mode the CA-GCL paper describes is visible here: with only a within-anatomy
loss, cross-anatomy text similarities pile up near 1 ("collapsed"); the global cross-anatomy loss
should turn the distribution bell-shaped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cabench.data.base import CaseRef
from cabench.eval.embeddings import EmbeddingCache
from cabench.eval.prompts_plan import PromptPlan
from cabench.models.adapter import VolumeEmbeddings, ZeroShotModel
from cabench.stats.collapse import cross_group_cosine, distribution_summary, same_group_cosine
from cabench.text.sections import anatomy_texts
from cabench.vocab import AnatomySet

MAX_REPORT_CASES = 200


def _pair_summary(embeddings: np.ndarray, groups: np.ndarray, seed: int) -> dict:
    cross = cross_group_cosine(embeddings, groups, seed=seed)
    within = same_group_cosine(embeddings, groups, seed=seed)
    return {"cross": distribution_summary(cross), "within": distribution_summary(within)}


def prompt_collapse(
    model: ZeroShotModel, cache: EmbeddingCache, plan: PromptPlan, aset: AnatomySet, seed: int
) -> dict:
    """Positive prompts of every template and finding, grouped by anatomy and by finding."""
    texts, anatomy, finding = [], [], []
    for t in range(len(plan.templates)):
        for f, name in enumerate(plan.findings):
            anat = aset.anatomy_of(name)
            if anat is None:
                continue
            texts.append(plan.positive[t][f])
            anatomy.append(anat)
            finding.append(name)
    vectors = cache.texts(model, texts)
    return {
        "by_anatomy": _pair_summary(vectors, np.array(anatomy), seed),
        "by_finding": _pair_summary(vectors, np.array(finding), seed),
        "n_texts": len(texts),
    }


def report_collapse(
    model: ZeroShotModel, cache: EmbeddingCache, cases: Sequence[CaseRef], aset: AnatomySet,
    seed: int,
) -> dict | None:  # fmt: skip
    """Per-anatomy report texts (what anatomy-level models train on), grouped by anatomy."""
    with_reports = [c for c in cases if c.report and c.report.get("Findings_EN")]
    if not with_reports:
        return None
    chosen = with_reports[:MAX_REPORT_CASES]
    texts, groups = [], []
    for case in chosen:
        for anat, text in anatomy_texts(case.report["Findings_EN"], aset).items():
            texts.append(text)
            groups.append(anat)
    vectors = cache.texts(model, texts)
    return {**_pair_summary(vectors, np.array(groups), seed), "n_cases": len(chosen)}


def image_collapse(model: ZeroShotModel, volumes: VolumeEmbeddings, seed: int) -> dict:
    """Anatomy embeddings grouped by anatomy, or global embeddings across cases."""
    if volumes.anatomy is not None:
        n, a, d = volumes.anatomy.shape
        groups = np.tile(np.arange(a), n)
        keep = volumes.anatomy_valid.reshape(-1)
        summary = _pair_summary(volumes.anatomy.reshape(-1, d)[keep], groups[keep], seed)
        return {"kind": "anatomy", "anatomies": list(model.anatomies), **summary}
    cross = cross_group_cosine(volumes.global_, np.arange(len(volumes.global_)), seed=seed)
    return {"kind": "global", "cross": distribution_summary(cross)}
