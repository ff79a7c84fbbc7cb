"""Trains the tiny CLIP on image-caption pairs: whole one-object frames and masked object crops
(as web photos are mostly object-centred), never on the object-level task itself."""
from __future__ import annotations

import numpy as np
import torch

from . import preprocess, scenes
from .clip import TinyClip, Tokenizer
from .losses import bidirectional_infonce
from .pool import Pool


def clip_pairs(single: Pool, multi: Pool) -> tuple[torch.Tensor, torch.Tensor]:
    """-> images [N,3,V,V] normalised for CLIP, labels [N] into scenes.vocabulary()."""
    images, labels = [], []
    for frame, ls in zip(single.frames, single.labels):
        norm = preprocess.normalise(frame, preprocess.CLIP_MEAN, preprocess.CLIP_STD)
        images.append(preprocess.resize(norm, preprocess.CLIP_SIZE, preprocess.CLIP_SIZE))
        labels.append(ls[0])
    for frame, ms, ls in zip(multi.frames, multi.masks, multi.labels):
        norm = preprocess.normalise(frame, preprocess.CLIP_MEAN, preprocess.CLIP_STD)
        for m, l in zip(ms, ls):
            images.append(preprocess.masked_crop(norm, m, preprocess.CLIP_SIZE))
            labels.append(l)
    return torch.stack(images), torch.tensor(labels)


def make_step(model: TinyClip, tokenizer: Tokenizer, images: torch.Tensor, labels: torch.Tensor, batch: int,
              classes: list[scenes.Combo] | None = None, wordings: tuple[scenes.Wording, ...] = (scenes.CANONICAL,)):
    """labels index scenes.vocabulary(); `classes` (default: every combination) are the captions
    the text side sees, each step in one wording drawn from `wordings` per caption. Captions of
    other combinations never enter the loss, not even as negatives."""
    classes = scenes.combos() if classes is None else classes
    local = torch.from_numpy(scenes.local_index(classes))
    if (local[labels] < 0).any():
        raise ValueError("training images include combinations outside `classes`")
    ids = torch.stack([tokenizer([scenes.describe(*c, w) for c in classes]) for w in wordings], 1)  # [T,W,77]

    def step(rng: np.random.Generator) -> torch.Tensor:
        idx = torch.from_numpy(rng.integers(len(labels), size=batch))
        img, _ = model.vision(images[idx])
        # One wording per caption and step (drawn only when there is a choice, so the default
        # run samples exactly the batches it always did).
        pick = torch.from_numpy(rng.integers(len(wordings), size=len(classes))) if len(wordings) > 1 else torch.zeros(len(classes), dtype=torch.int64)
        txt, _ = model.text(ids[torch.arange(len(classes)), pick])
        return bidirectional_infonce(img, txt, local[labels[idx]], model.logit_scale)

    return step
