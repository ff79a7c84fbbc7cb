"""Contrastive losses shared by the CLIP and head trainers."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bidirectional_infonce(image: torch.Tensor, text: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Image->text and text->image InfoNCE when several images share one caption.

    image [B,E], text [T,E] (one row per distinct caption), labels [B] in [0,T). Image->text
    is a softmax over every caption; text->image treats all images of a caption as positives
    (multi-positive InfoNCE), so duplicates of a caption are never pushed apart."""
    scale = logit_scale.exp().clamp(max=100.0)
    logits = scale * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T  # [B,T]
    i2t = F.cross_entropy(logits, labels)
    present = torch.unique(labels)
    lt = logits.T[present]  # [T',B]
    pos = (labels[None, :] == present[:, None]).float()
    log_all = torch.logsumexp(lt, 1)
    log_pos = torch.logsumexp(lt.masked_fill(pos == 0, float("-inf")), 1)
    t2i = (log_all - log_pos).mean()
    return (i2t + t2i) / 2


def hard_negative_margin(image: torch.Tensor, text: torch.Tensor, labels: torch.Tensor, hard: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """Mined hard negatives: for each image, the most similar caption among hard[own caption]
    (hard [T,T] bool: on the shapes, captions that differ in one attribute; on real data, the
    nearest other descriptions in text space); hinge on cosine margin."""
    sims = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T  # [B,T]
    pos = sims.gather(1, labels[:, None])[:, 0]
    neg = sims.masked_fill(~hard[labels], float("-inf")).amax(1)
    return F.relu(margin - (pos - neg)).mean()
