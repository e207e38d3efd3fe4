"""Training throughput on a GPU: volumes/s and peak GPU memory of cabench's training step.

    python -m bench.gpu_train [--models clip,fvlp,cagcl] [--preset full] [--steps 300]
                              [--batch-size B] [--cases N] [--out FILE.json]

For each model: a synthetic synth-ct-rate site at the preset's input resolution is generated (or
reused), its training split is loaded through cabench's own loader, and the model is trained for
``--steps`` steps with the pieces of ``cabench.train.train`` itself -- the tokenizer, the model,
AdamW (fused on CUDA) with its parameter groups, the warm-up + cosine schedule, ``_make_batch``
(intensity jitter, text augmentation, tokenization, host-to-device copy), bf16 autocast on CUDA,
gradient clipping -- but without epochs, validation or checkpoints. Reported, excluding the
``--warmup`` steps: volumes/s of that loop, volumes/s of the compute alone (the last batch
reused, no data path; CUDA only), and ``torch.cuda.max_memory_allocated``.

A plain 3D ViT at CT-CLIP resolution (240 x 480 x 480, patch 10 x 20 x 20, width 512, depth 8)
trained on random volumes is the reference for the anchor in the shared DESIGN.md (about 23-24
volumes/s eager on an H200). ``--preset tiny`` runs on CPU as a smoke check (the reference then
shrinks to the tiny input): ``python -m bench.gpu_train --preset tiny --steps 3 --cases 8``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

DESIGN_ANCHOR = "about 23-24 volumes/s eager on an H200 (3D ViT at CT-CLIP resolution)"
REFERENCES = {
    # CT-CLIP's image encoder resolution (DESIGN.md's anchor); batch 8 as the clip full preset
    "ctclip": {
        "shape": (240, 480, 480),
        "patch": [10, 20, 20],
        "width": 512,
        "depth": 8,
        "heads": 8,
        "batch": 8,
    },
    # the same architecture shrunk to the tiny input, for the CPU smoke check
    "tiny": {
        "shape": (32, 64, 64),
        "patch": [4, 8, 8],
        "width": 64,
        "depth": 2,
        "heads": 2,
        "batch": 4,
    },
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu_train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", default="clip,fvlp,cagcl", help="comma-separated configs")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed first steps (default: steps/5, at most 20)",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--cases", type=int, default=16, help="synthetic volumes to generate")
    parser.add_argument(
        "--shape",
        type=int,
        nargs=3,
        default=None,
        metavar=("D", "H", "W"),
        help="generate the volumes at this shape instead (preprocessing still resamples them to "
        "each preset's input; 240 x 480 x 480 volumes take about 2 min each on one core)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="processes generating them (default: all CPUs)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="synth-ct-rate site to use (default: generated under "
        ".cabench/bench at the presets' largest input shape)",
    )
    parser.add_argument("--device", default="auto", help="auto, cuda or cpu")
    parser.add_argument(
        "--reference",
        default="auto",
        choices=["auto", "ctclip", "tiny", "none"],
        help="plain 3D ViT reference (auto: ctclip for --preset full, else tiny)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = max(1, min(20, args.steps // 5))
    if args.steps <= args.warmup:
        parser.error(f"--steps ({args.steps}) must exceed --warmup ({args.warmup})")
    return args


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory(device: torch.device) -> int | None:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def _timed_loop(step, steps: int, warmup: int, device: torch.device) -> tuple[float, Any]:
    """Seconds of steps[warmup:] (synchronised at both ends) and the last step's result."""
    result = None
    for i in range(steps):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        result = step(i)
    _sync(device)
    return time.perf_counter() - start, result


def site_for(configs: list[Any], args: argparse.Namespace) -> Path:
    """The synthetic site: given, or generated at the largest input shape of ``configs``."""
    if args.data is not None:
        return args.data
    from bench.common import synthetic_site

    cases, workers = args.cases, args.workers
    shape = tuple(args.shape or (max(c.preprocessing.shape[i] for c in configs) for i in range(3)))
    print(f"synthetic site: {cases} volumes at {shape} (generated once, then reused)", flush=True)
    return synthetic_site(cases, shape=shape, workers=workers or os.cpu_count() or 1)


def train_model(name: str, args: argparse.Namespace, root: Path, device: torch.device) -> dict:
    """Train ``name`` for args.steps steps with cabench.train's pieces; throughput and memory."""
    from cabench.data import open_dataset
    from cabench.models import precision
    from cabench.models.vlm import VisionLanguageModel
    from cabench.text.augment import TextAugmentation
    from cabench.train import (
        TrainOptions,
        _make_batch,
        _optimizer,
        _resolve_config,
        _schedule,
        _tokenizer,
    )
    from cabench.train_data import load_training_set

    config = _resolve_config(
        TrainOptions(model=name, preset=args.preset, batch_size=args.batch_size)
    )
    reader = open_dataset("synth-ct-rate", root)
    start = time.perf_counter()
    data = load_training_set(reader, config, "train", None)
    load_seconds = time.perf_counter() - start
    torch.manual_seed(args.seed)
    tokenizer = _tokenizer(config, data.texts)
    model = VisionLanguageModel(config, tokenizer.vocab_size).to(device)
    model.train()
    optimizer = _optimizer(model, config, device)
    scheduler = _schedule(optimizer, args.steps, config.training.warmup_fraction)
    augmentation = TextAugmentation(
        config.text_augmentation.shuffle_p, config.text_augmentation.subset_q
    )
    batch_size = config.training.batch_size
    per_epoch = max(1, len(data) // batch_size)
    losses: list[float] = []

    def batch_for(step: int) -> dict[str, torch.Tensor]:
        epoch, k = divmod(step, per_epoch)
        rng = np.random.default_rng([args.seed, epoch, k])
        if len(data) >= batch_size:
            order = np.random.default_rng([args.seed, epoch]).permutation(len(data))
            indices = np.sort(order[k * batch_size : (k + 1) * batch_size])
        else:  # fewer cases than a batch (smoke runs): draw with replacement
            indices = np.sort(rng.choice(len(data), batch_size, replace=True))
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        return _make_batch(
            data,
            indices,
            model,
            tokenizer,
            augmentation,
            rng,
            gen,
            config.training.intensity_jitter,
            device,
        )

    def train_step(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with precision.autocast(device):
            terms = model(batch)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.training.grad_clip)
        optimizer.step()
        scheduler.step()
        return terms["loss"].detach()

    _reset_memory(device)
    last: dict[str, Any] = {}

    def loop_step(step: int) -> torch.Tensor:
        last["batch"] = batch_for(step)
        return train_step(last["batch"])

    print(
        f"{name} ({args.preset}): {len(data)} training volumes at "
        f"{tuple(config.preprocessing.shape)}, batch {batch_size}, {args.steps} steps "
        f"({args.warmup} warm-up) on {device}",
        flush=True,
    )
    loop_seconds, loss = _timed_loop(loop_step, args.steps, args.warmup, device)
    losses.append(float(loss))
    compute = None
    if device.type == "cuda":  # is the data path the bottleneck? (skipped on CPU smoke runs)
        compute_steps = min(args.steps, 50)
        compute_warmup = min(args.warmup, compute_steps - 1)
        compute_seconds, _ = _timed_loop(
            lambda _: train_step(last["batch"]), compute_steps, compute_warmup, device
        )
        compute = (compute_steps - compute_warmup) * batch_size / compute_seconds
    timed = args.steps - args.warmup
    result = {
        "model": name,
        "family": config.family,
        "preset": config.preset,
        "input_shape": list(config.preprocessing.shape),
        "image_encoder": config.image_encoder.type,
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch_size": batch_size,
        "training_volumes": len(data),
        "load_seconds": round(load_seconds, 2),
        "timed_steps": timed,
        "volumes_per_s": timed * batch_size / loop_seconds,
        "seconds_per_step": loop_seconds / timed,
        "compute_volumes_per_s": compute,
        "peak_gpu_memory_bytes": _peak_memory(device),
        "final_loss": losses[-1],
        "loss_finite": bool(math.isfinite(losses[-1])),
    }
    return result


def reference_vit(kind: str, steps: int, warmup: int, device: torch.device, seed: int) -> dict:
    """A plain 3D ViT (cabench's ViT3D, no stem) on random volumes: bf16 autocast, fused AdamW."""
    from cabench.models import precision
    from cabench.models.config import ImageEncoderConfig
    from cabench.models.vit3d import ViT3D

    spec = REFERENCES[kind]
    torch.manual_seed(seed)
    config = ImageEncoderConfig(
        type="vit3d",
        stem_channels=[],
        patch_size=spec["patch"],
        width=spec["width"],
        depth=spec["depth"],
        heads=spec["heads"],
        mlp_ratio=4.0,
    )
    model = ViT3D(config, spec["shape"]).to(device)
    head = torch.nn.Linear(spec["width"], 512).to(device)
    params = [*model.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-4, fused=precision.uses_gpu_numerics(device))
    batch = spec["batch"]
    volume = torch.randn(batch, 1, *spec["shape"], device=device)
    target = torch.nn.functional.normalize(torch.randn(batch, 512, device=device), dim=-1)
    _reset_memory(device)

    def step(_: int) -> torch.Tensor:
        with precision.autocast(device):
            pooled = head(model(volume).mean(dim=1))
            logits = torch.nn.functional.normalize(pooled.float(), dim=-1) @ target.T / 0.07
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(batch, device=device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    print(
        f"reference ViT ({kind}): {spec['shape']}, patch {spec['patch']}, "
        f"{math.prod(model.grid)} tokens, batch {batch}",
        flush=True,
    )
    seconds, loss = _timed_loop(step, steps, warmup, device)
    return {
        "kind": kind,
        "input_shape": list(spec["shape"]),
        "patch_size": spec["patch"],
        "tokens": math.prod(model.grid),
        "width": spec["width"],
        "depth": spec["depth"],
        "parameters": sum(p.numel() for p in params),
        "batch_size": batch,
        "volumes_per_s": (steps - warmup) * batch / seconds,
        "peak_gpu_memory_bytes": _peak_memory(device),
        "final_loss": float(loss),
        "design_anchor": DESIGN_ANCHOR,
    }


def main(argv: list[str] | None = None) -> int:
    """The benchmark; a user's mistake (an unknown model, a --data folder that is not a site)
    ends in cabench's one-line error and exit 2, not a traceback."""
    from cabench.errors import CabenchError

    args = parse_args(argv)
    try:
        return _benchmark(args)
    except CabenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _benchmark(args: argparse.Namespace) -> int:
    from cabench.models.config import load_config

    device = _device(args.device)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    configs = [load_config(name, args.preset) for name in names]
    root = site_for(configs, args)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "preset": args.preset,
        "steps": args.steps,
        "warmup": args.warmup,
        "data": str(root),
        "models": [],
    }
    for name in names:
        report["models"].append(train_model(name, args, root, device))
        if args.out:  # keep what is done if a later model fails
            args.out.write_text(json.dumps(report, indent=2))
    kind = args.reference
    if kind == "auto":
        kind = "ctclip" if args.preset == "full" else "tiny"
    if kind != "none":
        report["reference"] = reference_vit(kind, args.steps, args.warmup, device, args.seed)
    print(f"\n== training throughput ({report['device']}, torch {report['torch']}) ==")
    rows = [*report["models"], *([report["reference"]] if "reference" in report else [])]
    for row in rows:
        name = row.get("model") or f"reference ViT ({row['kind']})"
        memory = row["peak_gpu_memory_bytes"]
        memory_text = "n/a (CPU)" if memory is None else f"{memory / 2**30:.1f} GiB"
        compute = row.get("compute_volumes_per_s")
        extra = f", compute alone {compute:.3g}" if compute is not None else ""
        print(
            f"{name}: {row['volumes_per_s']:.3g} volumes/s (batch {row['batch_size']}"
            f"{extra}), peak GPU memory {memory_text}, final loss {row['final_loss']:.3f}"
        )
    if "reference" in report:
        print(f"DESIGN.md anchor: {DESIGN_ANCHOR}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
