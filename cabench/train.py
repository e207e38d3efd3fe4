"""One training loop for the three families (clip, fvlp, cagcl).

bf16 autocast and fused AdamW on GPU, the same code on CPU; data parallel through `torchrun`
(NCCL on GPU, gloo on CPU). Every epoch ends with a zero-shot validation AUC (the CT-CLIP prompt
pair) and an atomic checkpoint that `--resume` continues from bit-exactly on CPU: the batch order
and augmentation of every step derive from (seed, epoch, step), not from global RNG state.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cabench import distributed, paths, provenance
from cabench.errors import UserError
from cabench.models import precision
from cabench.models.checkpoint import (
    pack_train_state,
    read_card,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unpack_train_state,
)
from cabench.models.config import ModelConfig, load_config
from cabench.models.text_encoder import TextTokenizer, pretrained_tokenizer
from cabench.models.vlm import VisionLanguageModel
from cabench.text.augment import TextAugmentation
from cabench.text.sections import default_normal_text, split_into_sentences
from cabench.text.targets import CaseTexts, anatomy_text_batch
from cabench.text.tokenizer import train_tokenizer
from cabench.train_data import TrainingSet, load_training_set
from cabench.ui import console, make_progress
from cabench.vocab import anatomy_set


@dataclass
class TrainOptions:
    model: str
    dataset: str = "synth-ct-rate"
    root: Path | None = None
    preset: str = "tiny"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    device: str = "auto"
    resume: bool = False
    force: bool = False
    out: Path | None = None
    seed: int = 0
    max_cases: int | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)


# -- distributed -----------------------------------------------------------------------------
# -- pieces ----------------------------------------------------------------------------------
def _resolve_config(opts: TrainOptions) -> ModelConfig:
    config = load_config(opts.model, opts.preset)
    if opts.epochs is not None:
        config.training.epochs = opts.epochs
    if opts.batch_size is not None:
        config.training.batch_size = opts.batch_size
    if opts.lr is not None:
        config.training.lr = opts.lr
    if config.training.epochs < 1 or config.training.batch_size < 2:
        raise UserError("--epochs must be >= 1 and --batch-size >= 2 (contrastive losses)")
    return config


def _tokenizer(config: ModelConfig, texts: list[CaseTexts]) -> TextTokenizer:
    if config.text_encoder.type == "pretrained":
        return pretrained_tokenizer(config.text_encoder)
    corpus = [c.findings for c in texts]
    corpus += [s for c in texts for sents in c.sentences.values() for s in sents]
    corpus += [default_normal_text(a) for a in anatomy_set(config.anatomy_set).anatomies]
    backend = train_tokenizer(corpus, vocab_size=config.text_encoder.vocab_size)
    return TextTokenizer(backend, config.text_encoder.max_length, "bpe")


def _schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float) -> Any:
    warmup = max(1, int(total_steps * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _optimizer(model: torch.nn.Module, config: ModelConfig, device: torch.device) -> Any:
    """AdamW; no weight decay on norms, biases and temperatures; a pretrained text encoder
    fine-tunes at text_encoder.lr_scale times the learning rate."""
    lr = config.training.lr
    pretrained = config.text_encoder.type == "pretrained"
    groups: dict[tuple[bool, bool], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decays = not (param.ndim < 2 or "logit_scale" in name)
        slow = pretrained and name.startswith("text_encoder.")
        groups.setdefault((decays, slow), []).append(param)
    return torch.optim.AdamW(
        [
            {
                "params": params,
                "weight_decay": config.training.weight_decay if decays else 0.0,
                "lr": lr * (config.text_encoder.lr_scale if slow else 1.0),
            }
            for (decays, slow), params in sorted(groups.items())
        ],
        lr=lr,
        fused=precision.uses_gpu_numerics(device),
    )


def _make_batch(
    data: TrainingSet,
    indices: np.ndarray,
    model: VisionLanguageModel,
    tokenizer: TextTokenizer,
    augmentation: TextAugmentation,
    rng: np.random.Generator,
    generator: torch.Generator,
    jitter: float,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    hu = torch.from_numpy(data.hu[indices])
    volume = model.normalise_hu(hu)
    if jitter > 0:
        shape = (len(indices), 1, 1, 1, 1)
        scale = 1.0 + jitter * (2 * torch.rand(shape, generator=generator) - 1)
        shift = jitter * (2 * torch.rand(shape, generator=generator) - 1)
        volume = volume * scale + shift
    bits = torch.from_numpy(data.bits[indices]) if model.anatomies else None
    max_shift = model.config.training.shift_voxels
    if any(max_shift):
        volume, bits = _translate(volume, bits, max_shift, generator)
    batch: dict[str, torch.Tensor] = {"image": volume}
    cases = [data.texts[i] for i in indices]
    if bits is not None:
        batch["bits"] = bits
        texts, normal, hashes = anatomy_text_batch(cases, model.anatomies, augmentation, rng)
        batch.update(normal=normal, text_hash=hashes)
        batch["text_valid"] = torch.ones_like(normal)
    else:
        texts = [c.findings for c in cases]
    if model.config.text_encoder.sentence_pooling == "mean":
        texts, groups = split_into_sentences(texts)
        batch["text_group"] = groups
    batch["text_ids"], batch["text_mask"] = tokenizer(texts)
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _translate(
    volume: torch.Tensor,
    bits: torch.Tensor | None,
    max_shift: list[int],
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Shift each case by a random whole number of voxels (at most ``max_shift`` per axis), the
    anatomy bit field with it; what leaves one side enters the other."""
    volume, bits = volume.clone(), None if bits is None else bits.clone()
    for row in range(len(volume)):
        offsets = tuple(
            int(torch.randint(-m, m + 1, (1,), generator=generator)) if m else 0 for m in max_shift
        )
        volume[row] = torch.roll(volume[row], offsets, dims=(-3, -2, -1))
        if bits is not None:
            bits[row] = torch.roll(bits[row], offsets, dims=(-3, -2, -1))
    return volume, bits


def _checkpoint_is_current(folder: Path, card_key: dict[str, Any]) -> bool:
    if not (folder / "model_card.json").exists():
        return False
    card = read_card(folder)
    return card.get("finished") and all(card.get(k) == v for k, v in card_key.items())


# -- the loop --------------------------------------------------------------------------------
def train(opts: TrainOptions) -> Path:
    """Train one model; returns its checkpoint folder. Skips work when an identical finished
    checkpoint exists (same config, dataset fingerprint, seed), unless ``force``."""
    from cabench.data import open_dataset
    from cabench.stats.metrics import auc
    from cabench.validation import chance_summary, validation_scores

    config = _resolve_config(opts)
    device = distributed.device_for(opts.device)
    rank, world = distributed.init(device)
    reader = open_dataset(opts.dataset, opts.root, **opts.dataset_options)
    out = Path(opts.out) if opts.out else paths.checkpoints_dir() / config.name
    fingerprint = reader.fingerprint()
    card_key = {
        "config_hash": config.config_hash(),
        "dataset_fingerprint": fingerprint,
        "seed": opts.seed,
        "max_cases": opts.max_cases,
    }
    if not opts.force and not opts.resume and _checkpoint_is_current(out, card_key):
        if rank == 0:
            console.print(f"{config.name}: checkpoint up to date at {out} (use --force to retrain)")
        return out

    torch.manual_seed(opts.seed)
    data = load_training_set(reader, config, "train", opts.max_cases)
    valid = load_training_set(reader, config, "valid", None) if "valid" in reader.splits() else None
    tokenizer = _tokenizer(config, data.texts)
    model = VisionLanguageModel(config, tokenizer.vocab_size).to(device)
    optimizer = _optimizer(model, config, device)
    steps_per_epoch = len(data) // (config.training.batch_size * world)
    if steps_per_epoch < 1:
        raise UserError(
            f"{len(data)} training cases are fewer than one batch of "
            f"{config.training.batch_size * world}; lower --batch-size"
        )
    total_steps = steps_per_epoch * config.training.epochs
    scheduler = _schedule(optimizer, total_steps, config.training.warmup_fraction)
    start_epoch, history = 0, []
    if opts.resume:
        state = unpack_train_state(out) if out.exists() else None
        if state is None:
            raise UserError(f"--resume: no resumable checkpoint at {out}; train without --resume")
        card = read_card(out)
        if card.get("config_hash") != card_key["config_hash"]:
            raise UserError(f"--resume: {out} was trained with another config; use --force")
        from cabench.models.checkpoint import load_weights

        model.load_state_dict(load_weights(out, card))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        start_epoch, history = int(state["epoch"]), list(card.get("history", []))
    wrapped: torch.nn.Module = model
    if world > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    augmentation = TextAugmentation(
        config.text_augmentation.shuffle_p, config.text_augmentation.subset_q
    )
    batch_size = config.training.batch_size
    started = time.perf_counter()
    losses: dict[str, float] = {}
    with make_progress() as bar:
        task = bar.add_task(
            f"train {config.name}", total=total_steps, completed=start_epoch * steps_per_epoch,
            status="",
        )  # fmt: skip
        for epoch in range(start_epoch, config.training.epochs):
            model.train()
            order = np.random.default_rng([opts.seed, epoch]).permutation(len(data))
            epoch_start, seen = time.perf_counter(), 0
            for step in range(steps_per_epoch):
                lo = (step * world + rank) * batch_size
                indices = np.sort(order[lo : lo + batch_size])
                rng = np.random.default_rng([opts.seed, epoch, step, rank])
                gen = torch.Generator().manual_seed(opts.seed * 1_000_003 + epoch * 10_007 + step)
                batch = _make_batch(
                    data, indices, model, tokenizer, augmentation, rng, gen,
                    config.training.intensity_jitter, device,
                )  # fmt: skip
                try:
                    with precision.autocast(device):
                        out_terms = wrapped(batch)
                    optimizer.zero_grad(set_to_none=True)
                    out_terms["loss"].backward()
                except torch.OutOfMemoryError:
                    raise UserError(
                        f"out of memory at --batch-size {batch_size} on {device}; "
                        "lower --batch-size (or use a smaller --preset)"
                    ) from None
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.training.grad_clip)
                optimizer.step()
                scheduler.step()
                seen += len(indices) * world
                losses = {k: float(v.detach()) for k, v in out_terms.items()}
                rate = seen / max(1e-9, time.perf_counter() - epoch_start)
                bar.update(
                    task, advance=1,
                    status=f"epoch {epoch + 1} loss {losses['loss']:.3f} {rate:.1f} vol/s",
                )  # fmt: skip
            entry: dict[str, Any] = {"epoch": epoch + 1, **losses}
            if valid is not None and rank == 0:
                probs = validation_scores(model, tokenizer, valid, device)
                entry["val_macro_auc"] = float(np.nanmean(auc(probs, valid.labels)))
                if epoch + 1 == config.training.epochs:
                    entry["val_chance"] = chance_summary(probs, valid.labels)
                bar.update(task, status=f"epoch {epoch + 1} val AUC {entry['val_macro_auc']:.3f}")
            history.append(entry)
            if rank == 0:
                finished = epoch + 1 == config.training.epochs
                card = _card(config, opts, reader, data, fingerprint, history, started, world)
                card.update(card_key, finished=finished, epochs_done=epoch + 1,
                            steps=(epoch + 1) * steps_per_epoch)  # fmt: skip
                state = {
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": rng_state(),
                    "epoch": epoch + 1,
                }
                save_checkpoint(out, model, card, tokenizer, pack_train_state(state))
    if world > 1:
        distributed.barrier()
    if rank == 0 and history and "val_chance" in history[-1]:
        chance = history[-1]["val_chance"]
        console.print(
            f"{config.name}: validation macro AUC {chance['macro_auc']:.3f} with CT-CLIP's prompt "
            f"pair; chance's 99th percentile is {chance['chance_q99']:.3f}, and this lies "
            f"{chance['z']:.1f} of chance's standard deviations above its median "
            f"(p = {chance['p']:.3g}, {chance['permutations']} permutations)",
            soft_wrap=True,
        )
    return out


def _card(
    config: ModelConfig,
    opts: TrainOptions,
    reader: Any,
    data: TrainingSet,
    fingerprint: str,
    history: list[dict[str, Any]],
    started: float,
    world: int,
) -> dict[str, Any]:
    return {
        "name": config.name,
        "family": config.family,
        "preset": config.preset,
        "config": config.to_dict(),
        "dataset": {
            "name": opts.dataset,
            "root": str(reader.root),
            "fingerprint": fingerprint,
            "split": "train",
            "cases": len(data),
        },
        "history": history,
        "final_losses": {k: v for k, v in history[-1].items() if k not in ("epoch", "val_chance")},
        "git_commit": provenance.git_commit(),
        "versions": provenance.package_versions(),
        "host": provenance.host(),
        "world_size": world,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
