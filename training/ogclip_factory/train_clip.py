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


def make_step(model: TinyClip, tokenizer: Tokenizer, images: torch.Tensor, labels: torch.Tensor, batch: int):
    ids = tokenizer(scenes.vocabulary())  # [T,77]

    def step(rng: np.random.Generator) -> torch.Tensor:
        idx = torch.from_numpy(rng.integers(len(labels), size=batch))
        img, _ = model.vision(images[idx])
        txt, _ = model.text(ids)
        return bidirectional_infonce(img, txt, labels[idx], model.logit_scale)

    return step
