"""Why a trained model's zero-shot AUC is what it is: text side or image side?

For every finding of a dataset's validation split, three AUCs from one checkpoint:

- ``prompt``: zero-shot with CT-CLIP's pair ("X is present." / "X is not present."), as
  `cabench train` validates;
- ``report``: the same, but the positive text is the mean embedding of the training reports'
  texts for positive cases (the finding's anatomy sentences for anatomy-level models, the whole
  Findings for clip) and the negative is fVLM's normal text of the anatomy (clip: the mean of the
  negative cases' Findings) -- the text side at its best;
- ``probe``: a logistic regression trained on the frozen image embeddings of the training split
  (the finding's anatomy embedding, or the global one) -- what the image side holds.

Under the table, each macro AUC is tested against chance by permuting the validation cases
against their labels (`cabench.stats.chance`): on a split of a hundred-odd cases, chance alone
moves a macro AUC by a few hundredths.

A prompt AUC far below the report AUC points at the prompts or the text encoder; a probe near
chance points at the image encoder or the input resolution. ``python -m cabench.diagnose
--checkpoint DIR [--dataset NAME] [--root DIR]`` prints the table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cabench.errors import CabenchError, UserError
from cabench.stats.chance import ChanceTest, macro_auc_chance_test
from cabench.ui import console, stdout
from cabench.validation import NEGATIVE, POSITIVE


@dataclass
class FindingDiagnosis:
    finding: str
    anatomy: str | None  # the embedding used; None for global models
    positives: int  # in the validation split
    prompt: float
    report: float
    probe: float
    # per validation case: the label and each kind's score, for the test against chance
    labels: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    scores: dict[str, np.ndarray] = field(repr=False, default_factory=dict)


KINDS = {"prompt": "prompt", "report": "report text", "probe": "linear probe"}


def chance_test(rows: list[FindingDiagnosis], kind: str, permutations: int = 999) -> ChanceTest:
    """Permutation test of one kind's macro AUC over ``rows`` against chance
    (`cabench.stats.chance`): is it above what the validation split gives unaided?"""
    labels = np.stack([r.labels for r in rows], axis=1)
    scores = np.stack([r.scores[kind] for r in rows], axis=1)
    return macro_auc_chance_test(scores, labels, permutations)


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def diagnose(
    checkpoint: Path, dataset: str = "synth-ct-rate", root: Path | None = None
) -> list[FindingDiagnosis]:
    """One row per finding labelled in ``dataset``'s valid split with both classes present."""
    from sklearn.linear_model import LogisticRegression

    from cabench.data import open_dataset
    from cabench.models.adapter import TrainedModel
    from cabench.text.sections import default_normal_text
    from cabench.train_data import load_training_set
    from cabench.vocab import anatomy_set

    model = TrainedModel.load(Path(checkpoint), device="cpu")
    reader = open_dataset(dataset, root)
    if "valid" not in reader.splits() or "train" not in reader.splits():
        raise UserError(f"dataset {dataset!r} at {reader.root} needs train and valid splits")
    train = load_training_set(reader, model.config, "train", None)
    valid = load_training_set(reader, model.config, "valid", None)
    aset = anatomy_set(model.config.anatomy_set)

    def images(data) -> np.ndarray:
        parts = []
        for start in range(0, len(data), 32):
            bits = None if data.bits is None else data.bits[start : start + 32]
            out = model.encode_volumes(data.hu[start : start + 32], bits)
            parts.append(out.anatomy if model.anatomies else out.global_)
        return np.concatenate(parts)

    train_images, valid_images = images(train), images(valid)
    rows = []
    for column, finding in enumerate(valid.findings):
        y_valid, y_train = valid.labels[:, column], train.labels[:, column]
        if not (0 < y_valid.sum() < len(y_valid)) or not (0 < y_train.sum() < len(y_train)):
            continue
        anatomy = aset.anatomy_of(finding) if model.anatomies else None
        if model.anatomies:
            if anatomy not in model.anatomies:
                continue
            index = model.anatomies.index(anatomy)
            x_train, x_valid = train_images[:, index], valid_images[:, index]
            positive = [
                " ".join(c.sentences[anatomy])
                for c, y in zip(train.texts, y_train, strict=True)
                if y == 1 and c.sentences.get(anatomy)
            ]
            negative = [default_normal_text(anatomy)]
        else:
            x_train, x_valid = train_images, valid_images
            pairs = list(zip(train.texts, y_train, strict=True))
            positive = [c.findings for c, y in pairs if y == 1 and c.findings]
            negative = [c.findings for c, y in pairs if y == 0 and c.findings]
        pair = model.encode_texts(
            [POSITIVE.format(finding=finding), NEGATIVE.format(finding=finding)]
        )
        prompt = x_valid @ pair[0] - x_valid @ pair[1]
        report_pos, report_neg = (
            model.encode_texts(positive).mean(0),
            model.encode_texts(negative).mean(0),
        )
        report = x_valid @ report_pos - x_valid @ report_neg
        probe = LogisticRegression(max_iter=2000).fit(x_train, y_train).decision_function(x_valid)
        rows.append(
            FindingDiagnosis(
                finding,
                anatomy,
                int(y_valid.sum()),
                _auc(y_valid, prompt),
                _auc(y_valid, report),
                _auc(y_valid, probe),
                labels=y_valid,
                scores={"prompt": prompt, "report": report, "probe": probe},
            )  # fmt: skip
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    from rich.table import Table

    parser = argparse.ArgumentParser(prog="python -m cabench.diagnose", description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--dataset", default="synth-ct-rate")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument(
        "--permutations", type=int, default=999, help="of the test against chance (999)"
    )
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    try:
        rows = diagnose(args.checkpoint, args.dataset, args.root)
    except CabenchError as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        return exc.exit_code
    table = Table("finding", "anatomy", "positives", "prompt", "report text", "linear probe")
    for r in rows:
        table.add_row(
            r.finding, r.anatomy or "(global)", str(r.positives),
            f"{r.prompt:.2f}", f"{r.report:.2f}", f"{r.probe:.2f}",
        )  # fmt: skip
    macro = [np.nanmean([getattr(r, k) for r in rows]) for k in KINDS]
    table.add_row("macro", "", "", *(f"{m:.3f}" for m in macro))
    tests = {kind: chance_test(rows, kind, args.permutations) for kind in KINDS}
    q = tests["prompt"].null_quantiles
    table.add_row("chance: p", "", "", *(f"{t.p_value:.3g}" for t in tests.values()))
    table.add_row("chance: z", "", "", *(f"{t.z:.1f}" for t in tests.values()))
    stdout.print(table)
    stdout.print(
        f"chance: {args.permutations} permutations of the {len(rows[0].labels)} validation "
        f"cases against the labels; with the prompt scores the macro AUC reaches "
        f"{q[0.5]:.3f} / {q[0.95]:.3f} / {q[0.99]:.3f} at its median / 95th / 99th percentile. "
        "p: the share of permutations, the observed pairing counted, at or above the observed "
        "macro AUC; z: how many standard deviations of chance it lies above chance's median.",
        soft_wrap=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
