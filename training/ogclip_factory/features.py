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
def crop_embeds(clip: TinyClip, frames: list[np.ndarray], masks: list[list[np.ndarray]], spec: dict = preprocess.HEAD_CROP) -> torch.Tensor:
    """The training-free baseline: each object's crop (framed by `spec`) through CLIP vision -> [N,E]."""
    crops = []
    for frame, ms in zip(frames, masks):
        norm = preprocess.normalise(frame, preprocess.CLIP_MEAN, preprocess.CLIP_STD)
        crops.extend(preprocess.masked_crop(norm, m, preprocess.CLIP_SIZE, spec) for m in ms)
    if not crops:
        return torch.zeros(0, clip.vision.proj.out_features)
    return torch.cat([clip.vision(torch.stack(crops[i : i + 256]))[0] for i in range(0, len(crops), 256)])


@torch.no_grad()
def object_inputs(clip: TinyClip, frames: list[np.ndarray], masks: list[list[np.ndarray]],
                  crop_spec: dict = preprocess.HEAD_CROP) -> ObjectInputs:
    """Head inputs of every object; `crop_spec` frames the crop baseline's crops only."""
    pixels, mask_in, clip_f, frame_e = [], [], [], []
    for frame, ms in zip(frames, masks):
        norm, emb, hidden = frame_tokens(clip, frame)
        for m in ms:
            pixels.append(preprocess.masked_crop(norm, m))
            mask_in.append(preprocess.mask_input(m))
            clip_f.append(preprocess.pool_tokens(hidden, emb, m))
            frame_e.append(emb)
    return ObjectInputs(torch.stack(pixels), torch.stack(mask_in), torch.stack(clip_f),
                        crop_embeds(clip, frames, masks, crop_spec), torch.stack(frame_e))


def point_grid(n: int, w: int, h: int) -> np.ndarray:
    """[n*n,2] cell centres of an n x n grid (the pipeline's automatic-mask prompts)."""
    return np.array([[(i + 0.5) * w / n, (j + 0.5) * h / n] for j in range(n) for i in range(n)], np.float32)


def box_of(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@torch.no_grad()
def automatic_masks(seg: Segmenter, frame: np.ndarray, opts: dict) -> list[np.ndarray]:
    """The pipeline's automatic mode (src/stages/sam2.ts) on one frame: a point grid, every
    candidate mask of every prompt kept when its object score, predicted IoU and stability pass,
    then box NMS by predicted IoU. `opts` holds the topology's sam2 settings."""
    h, w = frame.shape[:2]
    pix = preprocess.resize(preprocess.normalise(frame, preprocess.SAM_MEAN, preprocess.SAM_STD), preprocess.SAM_SIZE, preprocess.SAM_SIZE)[None]
    grid = point_grid(int(opts["pointsPerSide"]), w, h)
    pts = torch.from_numpy(grid).view(1, -1, 1, 2) * torch.tensor([preprocess.SAM_SIZE / w, preprocess.SAM_SIZE / h])
    iou, logits, obj = seg(pix, pts, torch.ones(pts.shape[:3], dtype=torch.int64), torch.zeros(1, 0, 4))
    # Compared in float64, as the pipeline compares: a float32 score equal to float32(0.7) is below 0.7.
    keep = (obj[0, :, 0].double() > opts["objectScoreThresh"])[:, None] & (iou[0].double() >= opts["predIouThresh"])  # [P,K]
    p_idx, k_idx = torch.nonzero(keep, as_tuple=True)
    candidates: list[tuple[float, np.ndarray, np.ndarray]] = []
    if p_idx.numel():
        up = F.interpolate(logits[0, p_idx, k_idx][:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        off = opts["stabilityScoreOffset"]
        inner, outer = (up > off).sum((1, 2)).float(), (up > -off).sum((1, 2)).float()
        stability = torch.where(outer > 0, inner.double() / outer.double().clamp(min=1), torch.zeros_like(inner, dtype=torch.float64))
        for j in torch.nonzero(stability >= opts["stabilityScoreThresh"])[:, 0].tolist():
            m = (up[j] > 0).numpy()
            if m.any():
                candidates.append((float(iou[0, p_idx[j], k_idx[j]]), m, box_of(m)))
    candidates.sort(key=lambda c: -c[0])  # stable: equal scores keep prompt order, as in the pipeline
    kept: list[tuple[float, np.ndarray, np.ndarray]] = []
    for c in candidates:
        if all(box_iou(k[2], c[2]) <= opts["boxNmsThresh"] for k in kept):
            kept.append(c)
    return [c[1] for c in kept[: int(opts["maxObjects"])]]


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks; two empty masks agree perfectly."""
    u = (a | b).sum()
    return float((a & b).sum() / u) if u else 1.0


def mean_iou(pred: list[list[np.ndarray]], truth: list[list[np.ndarray]]) -> float:
    """Mean IoU of per-frame lists of predicted masks against their ground-truth masks, pairwise."""
    return float(np.mean([mask_iou(p, t) for ps, ts in zip(pred, truth) for p, t in zip(ps, ts)]))


def match_by_iou(pred: list[np.ndarray], truth: list[np.ndarray], min_iou: float = 0.5) -> list[int]:
    """For each ground-truth mask, the index of its predicted mask (-1: none): greedy one-to-one
    matching, highest mask IoU first, pairs below min_iou never match."""
    pairs = []
    for i, p in enumerate(pred):
        for j, t in enumerate(truth):
            iou = mask_iou(p, t)
            if iou >= min_iou:
                pairs.append((-iou, j, i))
    pairs.sort()
    of_truth, used = [-1] * len(truth), set()
    for _, j, i in pairs:
        if of_truth[j] < 0 and i not in used:
            of_truth[j], used = i, used | {i}
    return of_truth
