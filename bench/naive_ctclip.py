"""A naive zero-shot evaluation with the structure of the published CT-CLIP one (zero_shot.py).

For every prompt template, for every volume (batch size 1), for every finding: tokenize the
finding's positive and negative prompt, run the whole model on (prompts, volume) -- so the volume
is re-encoded for each finding and the prompts for each volume -- and keep the softmax over the
two similarities. Then one ``sklearn.metrics.roc_auc_score`` call per template and finding.

It shares nothing with cabench's evaluation engine except the model weights, the tokenizer and
the preprocessed volumes (cabench's own preprocessing, read once per volume and template as a
data loader would): no embedding cache, no matrix products over cached embeddings, no vectorised
AUC. It is the yardstick for ``bench_pipeline``, not a tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from cabench.data import open_dataset
from cabench.data.base import CaseRef
from cabench.data.cache import VolumeCache
from cabench.data.loading import preprocessing_from
from cabench.data.preprocess import load_preprocessed
from cabench.models.adapter import TrainedModel
from cabench.vocab import anatomy_set


def naive_probs(
    checkpoint: Path,
    root: Path,
    cases: Sequence[CaseRef],
    positive: Sequence[Sequence[str]],
    negative: Sequence[Sequence[str]],
    findings: Sequence[str],
) -> np.ndarray:
    """probs (N, T, F) float32; NaN where the finding's anatomy is absent from the volume."""
    model = TrainedModel.load(checkpoint, "cpu")
    net, tokenizer = model.network(), model.tokenizer
    reader = open_dataset("synth-ct-rate", root)
    prep = preprocessing_from(model.preprocessing())
    aset_name = net.config.anatomy_set
    aset = anatomy_set(aset_name)
    anatomy_of = [
        net.anatomies.index(a) if (a := aset.anatomy_of(f)) in net.anatomies else -1
        for f in findings
    ]
    volumes = VolumeCache()  # a data loader reads each (preprocessed) volume once per pass
    out = np.full((len(cases), len(positive), len(findings)), np.nan, dtype=np.float32)
    with torch.inference_mode():
        for t in range(len(positive)):
            for n, case in enumerate(cases):
                hu, bits = load_preprocessed(reader, case, prep, aset_name, volumes)
                volume = net.normalise_hu(torch.from_numpy(hu[None]))
                mask = torch.from_numpy(bits[None]) if net.anatomies else None
                for f in range(len(findings)):
                    ids, attention = tokenizer([positive[t][f], negative[t][f]])
                    text = net.encode_text(ids, attention)  # (2, D)
                    image = net.encode_image(volume, mask)  # re-encoded for every finding
                    if net.anatomies:
                        a = anatomy_of[f]
                        if a < 0 or not bool(image.valid[0, a]):
                            continue
                        vector = image.anatomy[0, a]
                    else:
                        vector = image.global_[0]
                    logits = net.scale() * (text @ vector)  # (positive, negative)
                    out[n, t, f] = float(torch.softmax(logits, dim=0)[0])
    return out


def _per_template_finding(probs: np.ndarray, labels: np.ndarray, statistic) -> np.ndarray:
    """(T, F): ``statistic(y, scores)`` per template and finding, over the cases that are
    labelled and scorable for that finding (a case with no score in some template is left out of
    all of them, as cabench's analysis does); NaN where a class is missing."""
    n_templates, n_findings = probs.shape[1:]
    out = np.full((n_templates, n_findings), np.nan)
    for f in range(n_findings):
        keep = (labels[:, f] >= 0) & ~np.isnan(probs[:, :, f]).any(axis=1)
        y = labels[keep, f]
        if np.unique(y).size < 2:
            continue
        for t in range(n_templates):
            out[t, f] = statistic(y, probs[keep, t, f])
    return out


def naive_aucs(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(T, F): one roc_auc_score call per template and finding (``_per_template_finding``)."""
    return _per_template_finding(probs, labels, roc_auc_score)


def near_tie_bounds(probs: np.ndarray, labels: np.ndarray, eps: float) -> np.ndarray:
    """(T, F): how far an AUC over ``probs`` (cases selected as in ``naive_aucs``) can move when
    every probability moves by at most ``eps``: the share of (positive, negative) pairs closer
    than ``2 * eps``, the only pairs whose order can change. Two implementations whose float32
    arithmetic differs (batch 1 against batched) agree on an AUC up to this bound."""

    def share_of_close_pairs(y: np.ndarray, scores: np.ndarray) -> float:
        gaps = np.abs(scores[y == 1][:, None] - scores[y == 0][None, :])
        return float((gaps <= 2 * eps).mean())

    return _per_template_finding(probs, labels, share_of_close_pairs)


def preprocess_volumes(checkpoint: Path, root: Path, cases: Sequence[CaseRef]) -> None:
    """Fill the volume cache (under $CABENCH_HOME) with the cases preprocessed for the model, so
    a timed :func:`naive_probs` measures evaluation, not preprocessing."""
    model = TrainedModel.load(checkpoint, "cpu")
    reader = open_dataset("synth-ct-rate", root)
    prep = preprocessing_from(model.preprocessing())
    volumes = VolumeCache()
    for case in cases:
        load_preprocessed(reader, case, prep, model.model.config.anatomy_set, volumes)
