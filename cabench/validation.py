"""Zero-shot validation during training: one prompt pair (CT-CLIP's "X is present." / "X is not
present."), macro AUC over the findings the validation split labels. Cheap enough for every epoch
so a user sees learning happen; the full prompt-robustness evaluation is `cabench run`."""

from __future__ import annotations

import numpy as np
import torch

from cabench.models import precision
from cabench.models.text_encoder import TextTokenizer
from cabench.models.vlm import VisionLanguageModel
from cabench.train_data import TrainingSet
from cabench.vocab import anatomy_set

POSITIVE = "{finding} is present."
NEGATIVE = "{finding} is not present."


@torch.inference_mode()
def validation_scores(
    model: VisionLanguageModel,
    tokenizer: TextTokenizer,
    data: TrainingSet,
    device: torch.device,
    batch_size: int = 32,
) -> np.ndarray:
    """Zero-shot probabilities (cases, findings) of ``data``'s findings with the prompt pair;
    NaN in the column of a finding whose anatomy the model does not embed."""
    was_training = model.training
    model.eval()
    findings = data.findings
    aset = anatomy_set(model.config.anatomy_set)
    texts = [POSITIVE.format(finding=f) for f in findings]
    texts += [NEGATIVE.format(finding=f) for f in findings]
    ids, mask = tokenizer(texts)
    with precision.autocast(device):
        text = model.encode_text(ids.to(device), mask.to(device)).float()
    pos, neg = text[: len(findings)], text[len(findings) :]
    scores = []
    for start in range(0, len(data), batch_size):
        part = slice(start, start + batch_size)
        volume = model.normalise_hu(torch.from_numpy(data.hu[part]).to(device))
        bits = None if data.bits is None else torch.from_numpy(data.bits[part]).to(device)
        with precision.autocast(device):
            image = model.encode_image(volume, bits)
        if model.anatomies:
            index = [model.anatomies.index(aset.anatomy_of(f)) if aset.anatomy_of(f) else -1
                     for f in findings]  # fmt: skip
            chosen = image.anatomy[:, [max(i, 0) for i in index]].float()  # (B, F, D)
            s_pos = (chosen * pos).sum(-1)
            s_neg = (chosen * neg).sum(-1)
            missing = torch.tensor([i < 0 for i in index], device=device)
            s_pos = s_pos.masked_fill(missing, float("nan"))
        else:
            s_pos = image.global_.float() @ pos.T
            s_neg = image.global_.float() @ neg.T
        scale = model.scale()
        scores.append(torch.sigmoid(scale * (s_pos - s_neg)).cpu().numpy())
    model.train(was_training)
    return np.concatenate(scores)


def chance_summary(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The validation macro AUC tested against chance (`cabench.stats.chance`), for the model
    card: p, z and chance's 99th percentile, over the findings the model scores."""
    from cabench.stats.chance import macro_auc_chance_test

    scored = ~np.isnan(probs).all(axis=0)
    test = macro_auc_chance_test(probs[:, scored], labels[:, scored])
    return {
        "macro_auc": test.observed,
        "p": test.p_value,
        "z": test.z,
        "chance_q99": test.null_quantiles[0.99],
        "permutations": test.permutations,
    }
