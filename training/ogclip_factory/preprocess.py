"""Preprocessing shared by training, evaluation and the pipeline.

Every function here has a twin in the TypeScript pipeline (src/tensor/), written to give the
same numbers, so that ONNX embeddings in the pipeline match PyTorch's (parity test)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SAM_MEAN = (0.485, 0.456, 0.406)
SAM_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SAM_SIZE = 256
CLIP_SIZE = 64
CROP_SIZE = 64
MASK_SIZE = 64
CROP_MARGIN = 1.25  # side of the square object crop, relative to the mask box's longer side
CROP_PAD = 4  # pixels added to the crop side, so tiny objects keep some context


def normalise(image: np.ndarray | torch.Tensor, mean, std) -> torch.Tensor:
    """[H,W,3] uint8 -> [3,H,W] float32 normalised."""
    t = torch.as_tensor(np.asarray(image)).permute(2, 0, 1).float() / 255.0
    return (t - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[...,C,H,W] -> [...,C,h,w]: area average when shrinking, bilinear when enlarging.

    Both are defined exactly (adaptive average pooling, bilinear with half-pixel centres), so
    the pipeline reproduces them to float rounding."""
    squeeze = x.dim() == 3
    if squeeze:
        x = x[None]
    H, W = x.shape[-2:]
    if (h, w) == (H, W):
        out = x
    elif h <= H and w <= W:
        out = F.adaptive_avg_pool2d(x, (h, w))
    else:
        out = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return out[0] if squeeze else out


# How an object crop is framed (twin of CropSpec in src/masks/crop.ts, and of bundle.json's
# `crop_baseline`). window "object": side = ceil(longer box side * margin) + pad, so every
# object fills the crop and its absolute size is lost; window "fixed": side = a fixed share of
# the frame's longer side, so size survives. context "masked" zeroes pixels outside the mask,
# "kept" keeps the frame inside the window.
HEAD_CROP = {"window": "object", "margin": CROP_MARGIN, "pad": CROP_PAD, "context": "masked"}


def crop_window(mask: np.ndarray | torch.Tensor, spec: dict = HEAD_CROP) -> tuple[int, int, int]:
    """Square window (x0, y0, side) around a mask, in frame pixels; may extend past the frame."""
    m = torch.as_tensor(np.asarray(mask)).bool()
    ys, xs = torch.nonzero(m, as_tuple=True)
    if xs.numel() == 0:
        return 0, 0, int(max(m.shape))
    x1, x2 = int(xs.min()), int(xs.max()) + 1
    y1, y2 = int(ys.min()), int(ys.max()) + 1
    if spec["window"] == "object":
        side = int(math.ceil(max(x2 - x1, y2 - y1) * spec["margin"])) + int(spec["pad"])
    elif spec["window"] == "fixed":
        side = max(1, int(math.floor(spec["side_fraction"] * max(m.shape) + 0.5)))
    else:
        raise ValueError(f"crop window must be 'object' or 'fixed', got {spec['window']!r}")
    x0 = (x1 + x2 - side) // 2
    y0 = (y1 + y2 - side) // 2
    return x0, y0, side


def masked_crop(frame: torch.Tensor, mask: np.ndarray | torch.Tensor, size: int = CROP_SIZE, spec: dict = HEAD_CROP) -> torch.Tensor:
    """frame [3,H,W] normalised, mask [H,W] -> [3,size,size]: the object's square window; pixels
    outside the frame (and, with context "masked", outside the mask) are 0, the normalised mean."""
    m = torch.as_tensor(np.asarray(mask)).float()
    x0, y0, side = crop_window(m, spec)
    c, H, W = frame.shape
    window = torch.zeros(c, side, side)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, W), min(y0 + side, H)
    if sx1 > sx0 and sy1 > sy0:
        region = frame[:, sy0:sy1, sx0:sx1]
        if spec["context"] == "masked":
            region = region * m[sy0:sy1, sx0:sx1]
        window[:, sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = region
    return resize(window, size, size)


def mask_input(mask: np.ndarray | torch.Tensor, size: int = MASK_SIZE) -> torch.Tensor:
    """Full-frame mask [H,W] -> [1,size,size]: keeps the object's position and size in frame."""
    m = torch.as_tensor(np.asarray(mask)).float()[None]
    return resize(m, size, size)


def pool_tokens(last_hidden_state: torch.Tensor, image_embeds: torch.Tensor, mask: np.ndarray | torch.Tensor) -> torch.Tensor:
    """CLIP branch input for one object: the frame's patch tokens [1+G*G,D] averaged under the
    mask (resized to the G x G grid), concatenated with the frame's image embedding [E]."""
    g = int(round(math.sqrt(last_hidden_state.shape[0] - 1)))
    m = torch.as_tensor(np.asarray(mask)).float()
    weights = resize(m[None], g, g).flatten()  # [G*G]
    total = weights.sum()
    weights = weights / total if total > 0 else torch.full_like(weights, 1.0 / weights.numel())
    pooled = weights @ last_hidden_state[1:]
    return torch.cat([pooled, image_embeds])
