"""Per-frame and per-object model inputs, computed exactly as the pipeline computes them:
segmenter masks from prompts, CLIP tokens once per frame, and each object's head inputs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import preprocess
from .clip import TinyClip
from .segmenter import Segmenter


@dataclass
class ObjectInputs:
    object_pixels: torch.Tensor  # [N,3,R,R]
    object_mask: torch.Tensor  # [N,1,M,M]
    clip_features: torch.Tensor  # [N,Dv+E]
    crop_embeds: torch.Tensor  # [N,E]: the training-free baseline (masked crop -> CLIP vision)
    frame_embeds: torch.Tensor  # [N,E]: plain CLIP on the whole frame of each object


def interior_point(mask: np.ndarray) -> tuple[float, float]:
    """A deepest pixel of the mask (last to survive repeated 4-neighbour erosion), the one
    nearest the mask's centroid, as a pixel centre. Deterministic; used as the click prompt."""
    cur = np.asarray(mask, bool)
    while True:
        p = np.pad(cur, 1)
        nxt = cur & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
        if not nxt.any():
            break
        cur = nxt
    ys, xs = np.nonzero(cur)
    my, mx = np.nonzero(mask)
    cy, cx = my.mean(), mx.mean()
    i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
    return float(xs[i]) + 0.5, float(ys[i]) + 0.5


@torch.no_grad()
def segment(seg: Segmenter, frame: np.ndarray, points: np.ndarray | None = None, boxes: np.ndarray | None = None) -> np.ndarray:
    """One frame [H,W,3] and P prompts (points [P,2] single positive points, or boxes [P,4]) ->
    masks [P,H,W] bool: the mask with the best predicted IoU, upsampled, threshold 0."""
    h, w = frame.shape[:2]
    pix = preprocess.resize(preprocess.normalise(frame, preprocess.SAM_MEAN, preprocess.SAM_STD), preprocess.SAM_SIZE, preprocess.SAM_SIZE)[None]
    sx, sy = preprocess.SAM_SIZE / w, preprocess.SAM_SIZE / h
    if points is not None:
        pts = torch.tensor(points, dtype=torch.float32).view(1, -1, 1, 2) * torch.tensor([sx, sy])
        lab = torch.ones(pts.shape[:3], dtype=torch.int64)
        box = torch.zeros(1, 0, 4)
    else:
        box = torch.tensor(boxes, dtype=torch.float32)[None] * torch.tensor([sx, sy, sx, sy])
        pts = torch.zeros(1, box.shape[1], 1, 2)
        lab = torch.full(pts.shape[:3], -1, dtype=torch.int64)
    iou, logits, _ = seg(pix, pts, lab, box)
    best = iou[0].argmax(1)  # [P]
    chosen = logits[0, torch.arange(logits.shape[1]), best]  # [P,h,w]
    up = F.interpolate(chosen[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
    return (up > 0).numpy()


@torch.no_grad()
def frame_tokens(clip: TinyClip, frame: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> (normalised frame [3,H,W] for crops, image_embeds [E], last_hidden_state [T,Dv])."""
    norm = preprocess.normalise(frame, preprocess.CLIP_MEAN, preprocess.CLIP_STD)
    emb, hidden = clip.vision(preprocess.resize(norm, preprocess.CLIP_SIZE, preprocess.CLIP_SIZE)[None])
    return norm, emb[0], hidden[0]


@torch.no_grad()
def object_inputs(clip: TinyClip, frames: list[np.ndarray], masks: list[list[np.ndarray]]) -> ObjectInputs:
    pixels, mask_in, clip_f, crops, frame_e = [], [], [], [], []
    for frame, ms in zip(frames, masks):
        norm, emb, hidden = frame_tokens(clip, frame)
        for m in ms:
            crop = preprocess.masked_crop(norm, m)
            pixels.append(crop)
            crops.append(crop)
            mask_in.append(preprocess.mask_input(m))
            clip_f.append(preprocess.pool_tokens(hidden, emb, m))
            frame_e.append(emb)
    crop_embeds = torch.cat([clip.vision(torch.stack(crops[i : i + 256]))[0] for i in range(0, len(crops), 256)]) if crops else torch.zeros(0)
    return ObjectInputs(torch.stack(pixels), torch.stack(mask_in), torch.stack(clip_f), crop_embeds, torch.stack(frame_e))
