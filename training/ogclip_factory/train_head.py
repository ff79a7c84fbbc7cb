"""Trains the object-guided head into the frozen CLIP text space: bidirectional InfoNCE over
the caption vocabulary with a learnable temperature, plus mined hard negatives (captions that
differ in one attribute: same shape other colour, same colour other shape, other size), and
batches made of whole scenes so that other objects of the same scene are negatives too."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import scenes
from .features import ObjectInputs
from .head import ObjectGuidedHead
from .losses import bidirectional_infonce, hard_negative_margin


def hard_pairs(classes: list[scenes.Combo] | None = None) -> torch.Tensor:
    """[T,T] bool: captions (of `classes`, default every combination) that differ from each other
    in exactly one attribute."""
    a = np.array(scenes.combos() if classes is None else classes)  # size, colour, shape
    diff = (a[:, None, :] != a[None, :, :]).sum(-1)
    return torch.from_numpy(diff == 1)


@dataclass
class HeadData:
    """Head inputs for every object, in variants (e.g. ground-truth and segmenter masks)."""

    variants: list[ObjectInputs]
    labels: torch.Tensor  # [N]
    frame_of: np.ndarray  # [N] frame index of each object


def make_step(head: ObjectGuidedHead, text: torch.Tensor, data: HeadData, batch: int, hard_weight: float,
              classes: list[scenes.Combo] | None = None):
    """text [T,E]: one row per combination of `classes` (default: all, in vocabulary order);
    data.labels index scenes.vocabulary() and must all lie in `classes`."""
    classes = scenes.combos() if classes is None else classes
    if text.shape[0] != len(classes):
        raise ValueError(f"text has {text.shape[0]} rows for {len(classes)} classes")
    local = torch.from_numpy(scenes.local_index(classes))
    if (local[data.labels] < 0).any():
        raise ValueError("head data include combinations outside `classes`")
    return make_object_step(head, text, HeadData(data.variants, local[data.labels], data.frame_of), hard_pairs(classes),
                            batch, hard_weight)


def nearest_descriptions(text: torch.Tensor, k: int) -> torch.Tensor:
    """[T,T] bool: for each description, the k other descriptions nearest to it in the frozen
    text space: the hard negatives of real data, where no attribute grid exists."""
    t = torch.nn.functional.normalize(text.double(), dim=-1)
    sims = (t @ t.T).fill_diagonal_(float("-inf"))
    k = min(k, text.shape[0] - 1)
    hard = torch.zeros(sims.shape, dtype=torch.bool)
    if k > 0:
        hard.scatter_(1, sims.topk(k, dim=1).indices, True)
    return hard


def make_object_step(head: ObjectGuidedHead, text: torch.Tensor, data: HeadData, hard: torch.Tensor, batch: int,
                     hard_weight: float, device: torch.device | str = "cpu"):
    """One training step: `batch` objects drawn as whole frames (so the other objects of a frame
    are negatives), each in a random variant of its inputs (e.g. dataset or SAM2 masks);
    bidirectional InfoNCE over the T descriptions of `text` [T,E] plus a margin against each
    object's hardest negative among hard[label] ([T,T] bool). data.labels index text's rows.
    The inputs stay in host memory; each batch moves to `device`, where the head must be."""
    if int(data.labels.max()) >= text.shape[0] or int(data.labels.min()) < 0:
        raise ValueError(f"labels must index the {text.shape[0]} rows of text")
    frames = np.unique(data.frame_of)
    by_frame = {f: np.flatnonzero(data.frame_of == f) for f in frames}
    text, hard = text.to(device), hard.to(device)

    def step(rng: np.random.Generator) -> torch.Tensor:
        chosen: list[int] = []
        while len(chosen) < batch:
            chosen.extend(by_frame[frames[rng.integers(len(frames))]].tolist())
        idx = torch.tensor(chosen[:batch])
        var = torch.from_numpy(rng.integers(len(data.variants), size=len(idx)))
        parts = [torch.stack([getattr(data.variants[v], name)[i] for v, i in zip(var.tolist(), idx.tolist())]).to(device)
                 for name in ("object_pixels", "object_mask", "clip_features")]
        emb = head(*parts)
        labels = data.labels[idx].to(device)
        loss = bidirectional_infonce(emb, text, labels, head.logit_scale)
        return loss + hard_weight * hard_negative_margin(emb, text, labels, hard)

    return step
