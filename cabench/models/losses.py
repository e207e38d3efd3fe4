"""Contrastive losses of the three families.

- clip: symmetric InfoNCE between volume and report (open_clip's ClipLoss, which also gathers
  features across DDP ranks).
- fvlp local: per anatomy, InfoNCE across the batch (lung of case i vs lung of case j), with
  fVLM's false-negative handling: normal-normal pairs and identical texts count as positives.
- cagcl global ("cross_anatomy", default): anatomy a of case i against the texts of ALL anatomies
  of all cases; the positive is its own text (plus identical texts of the same anatomy), so the
  texts of other anatomies are negatives and anatomical categories separate in the joint space.
- cagcl global ("supcon_anatomy", the alternative reading): a supervised contrastive loss over
  anatomy categories on image and text anatomy embeddings together.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def gather(tensor: torch.Tensor, with_grad: bool = True) -> torch.Tensor:
    """Concatenate ``tensor`` from all DDP ranks along dim 0 (identity without DDP)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    if with_grad:
        import torch.distributed.nn.functional as dist_fn

        return torch.cat(dist_fn.all_gather(tensor), dim=0)
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor)
    return torch.cat(parts, dim=0)


def soft_target_nce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy against targets spread evenly over each row's positives."""
    pos = positives.float()
    rows = -(F.log_softmax(logits, dim=1) * pos / pos.sum(1, keepdim=True)).sum(1).mean()
    cols = -(F.log_softmax(logits, dim=0) * pos / pos.sum(0, keepdim=True)).sum(0).mean()
    return 0.5 * (rows + cols)


def clip_loss(image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """open_clip's ClipLoss on normalised (B, D) features (gathers across ranks under DDP)."""
    from open_clip.loss import ClipLoss

    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    rank = dist.get_rank() if world > 1 else 0
    loss = ClipLoss(gather_with_grad=True, rank=rank, world_size=world, cache_labels=False)
    return loss(image, text, logit_scale)


def local_anatomy_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    valid: torch.Tensor,
    normal: torch.Tensor,
    text_ids: torch.Tensor,
    logit_scale: torch.Tensor,
    false_negatives: bool = True,
) -> torch.Tensor:
    """Per-anatomy InfoNCE. image/text (B, A, D) normalised; valid/normal (B, A) bool; text_ids
    (B, A) int64 hashes of the texts (identical text -> same id)."""
    image, text = gather(image), gather(text)
    valid, normal, text_ids = (gather(t, with_grad=False) for t in (valid, normal, text_ids))
    losses = []
    for a in range(image.shape[1]):
        keep = valid[:, a]
        if keep.sum() < 2:
            continue
        v, t = image[keep, a], text[keep, a]
        logits = logit_scale * v @ t.T
        positives = torch.eye(len(v), dtype=torch.bool, device=v.device)
        if false_negatives:
            n = normal[keep, a]
            ids = text_ids[keep, a]
            positives |= (n[:, None] & n[None, :]) | (ids[:, None] == ids[None, :])
        losses.append(soft_target_nce(logits, positives))
    if not losses:
        return image.sum() * 0.0
    return torch.stack(losses).mean()


def cross_anatomy_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    valid: torch.Tensor,
    normal: torch.Tensor,
    text_ids: torch.Tensor,
    logit_scale: torch.Tensor,
    false_negatives: bool = True,
) -> torch.Tensor:
    """CA-GCL's global term: every (case, anatomy) image embedding against the texts of all
    anatomies of all cases in the (gathered) batch."""
    image, text = gather(image), gather(text)
    valid, normal, text_ids = (gather(t, with_grad=False) for t in (valid, normal, text_ids))
    batch, n_anat, dim = image.shape
    anatomy = torch.arange(n_anat, device=image.device).expand(batch, n_anat)
    keep = valid.reshape(-1)
    v, t = image.reshape(-1, dim)[keep], text.reshape(-1, dim)[keep]
    if len(v) < 2:
        return image.sum() * 0.0
    anat = anatomy.reshape(-1)[keep]
    logits = logit_scale * v @ t.T
    positives = torch.eye(len(v), dtype=torch.bool, device=v.device)
    if false_negatives:
        same = anat[:, None] == anat[None, :]
        n = normal.reshape(-1)[keep]
        ids = text_ids.reshape(-1)[keep]
        positives |= same & ((n[:, None] & n[None, :]) | (ids[:, None] == ids[None, :]))
    return soft_target_nce(logits, positives)


def supcon_anatomy_loss(
    image: torch.Tensor, text: torch.Tensor, valid: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) with anatomy categories as classes, over
    image and text anatomy embeddings together."""
    image, text = gather(image), gather(text)
    valid = gather(valid, with_grad=False)
    batch, n_anat, dim = image.shape
    anatomy = torch.arange(n_anat, device=image.device).expand(batch, n_anat).reshape(-1)
    keep = valid.reshape(-1)
    features = torch.cat([image.reshape(-1, dim)[keep], text.reshape(-1, dim)[keep]])
    labels = torch.cat([anatomy[keep], anatomy[keep]])
    if len(features) < 2:
        return image.sum() * 0.0
    logits = logit_scale * features @ features.T
    self_mask = torch.eye(len(features), dtype=torch.bool, device=features.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    log_prob = F.log_softmax(logits, dim=1).masked_fill(self_mask, 0.0)
    has_pos = positives.any(1)
    per_anchor = -(log_prob * positives).sum(1)[has_pos] / positives.sum(1)[has_pos]
    return per_anchor.mean()
