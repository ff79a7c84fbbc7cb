"""Trains the promptable segmenter on scene pools with SAM-style prompts: random positive
points, extra positive/negative points, jittered boxes, and background points (no object)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import preprocess
from .pool import Pool
from .segmenter import Segmenter

PROMPTS = 6  # per frame: every object plus background points
POINTS = 2  # per prompt, padded with label -1


def sample_prompts(masks: list[np.ndarray], rng: np.random.Generator, prompts: int = PROMPTS):
    """-> points [P,N,2], labels [P,N], boxes [P,4] (zeros: no box), targets [P,H,W], is_object [P]."""
    h, w = masks[0].shape if masks else (preprocess.SAM_SIZE, preprocess.SAM_SIZE)
    points = np.zeros((prompts, POINTS, 2), np.float32)
    labels = np.full((prompts, POINTS), -1, np.int64)
    boxes = np.zeros((prompts, 4), np.float32)
    targets = np.zeros((prompts, h, w), np.float32)
    is_object = np.zeros(prompts, np.float32)
    union = np.zeros((h, w), bool)
    for m in masks:
        union |= m

    def pick(m: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(m)
        i = rng.integers(len(xs))
        return np.array([xs[i], ys[i]], np.float32) + rng.uniform(0.1, 0.9, 2).astype(np.float32)

    order = rng.permutation(len(masks))[:prompts]
    for p, k in enumerate(order):
        m = masks[k]
        targets[p] = m
        is_object[p] = 1
        r = rng.random()
        if r < 0.15:  # box only
            ys, xs = np.nonzero(m)
            box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
            boxes[p] = box + rng.normal(0, 1.5, 4).astype(np.float32)
        else:
            points[p, 0], labels[p, 0] = pick(m), 1
            if r < 0.3:
                points[p, 1], labels[p, 1] = pick(m), 1
            elif r < 0.4 and (~m).any():
                points[p, 1], labels[p, 1] = pick(~m), 0
    for p in range(len(order), prompts):
        if (~union).any():
            points[p, 0], labels[p, 0] = pick(~union), 1
    return points, labels, boxes, targets, is_object


def dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits)
    inter = (p * target).sum((-1, -2))
    return 1 - (2 * inter + 1) / (p.sum((-1, -2)) + target.sum((-1, -2)) + 1)


def make_step(model: Segmenter, pool: Pool, batch: int):
    def step(rng: np.random.Generator) -> torch.Tensor:
        idx = rng.integers(len(pool.frames), size=batch)
        pix = torch.stack([preprocess.normalise(pool.frames[i], preprocess.SAM_MEAN, preprocess.SAM_STD) for i in idx])
        if rng.random() < 0.5:  # horizontal flip augmentation, applied to frame and masks
            pix = pix.flip(-1)
            masks = [[m[:, ::-1] for m in pool.masks[i]] for i in idx]
        else:
            masks = [pool.masks[i] for i in idx]
        parts = [sample_prompts(ms, rng) for ms in masks]
        pts, lab, box, tgt, obj = (torch.from_numpy(np.stack(x)) for x in zip(*parts))
        iou, logits, obj_logit = model(pix, pts, lab, box)
        up = F.interpolate(logits.flatten(0, 1), size=tgt.shape[-2:], mode="bilinear", align_corners=False)
        up = up.view(*logits.shape[:3], *tgt.shape[-2:])  # [B,P,3,H,W]
        t = tgt[:, :, None].expand_as(up)
        per = F.binary_cross_entropy_with_logits(up, t, reduction="none").mean((-1, -2)) + dice(up, t)  # [B,P,3]
        is_obj = obj > 0
        best = per.min(2).values
        mask_loss = (best * is_obj).sum() / is_obj.sum().clamp(min=1) + 0.1 * (per.mean(2) * is_obj).sum() / is_obj.sum().clamp(min=1)
        with torch.no_grad():
            hard = (up > 0).float()
            inter = (hard * t).sum((-1, -2))
            real_iou = inter / (hard.sum((-1, -2)) + t.sum((-1, -2)) - inter).clamp(min=1)
        iou_loss = (((iou - real_iou) ** 2).mean(2) * is_obj).sum() / is_obj.sum().clamp(min=1)
        obj_loss = F.binary_cross_entropy_with_logits(obj_logit[..., 0], obj)
        return mask_loss + iou_loss + obj_loss

    return step
