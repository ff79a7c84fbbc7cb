"""Training pools of synthetic scenes, generated once per seed range and cached under --data."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import scenes

TRAIN_SEED = 0  # training scenes: seeds 0..n-1
SINGLE_SEED = 2_000_000  # single-object scenes (image-caption pairs for the tiny CLIP)
VAL_SEED = 1_000_000  # the committed validation split (never used for training)


@dataclass
class Pool:
    frames: np.ndarray  # [N,H,W,3] uint8
    masks: list[list[np.ndarray]]  # per frame, per object [H,W] bool
    labels: list[list[int]]  # per frame, per object index into scenes.vocabulary()

    def objects(self) -> list[tuple[int, int]]:
        return [(f, o) for f, ms in enumerate(self.masks) for o in range(len(ms))]


def build(first_seed: int, count: int, max_objects: int = 5) -> Pool:
    vocab = {d: i for i, d in enumerate(scenes.vocabulary())}
    frames, masks, labels = [], [], []
    for s in range(first_seed, first_seed + count):
        sc = scenes.generate(s, max_objects=max_objects)
        frames.append(sc.image)
        masks.append([o.mask for o in sc.objects])
        labels.append([vocab[o.description] for o in sc.objects])
    return Pool(np.stack(frames), masks, labels)


def cached(data_dir: Path, name: str, first_seed: int, count: int, max_objects: int = 5) -> Pool:
    path = Path(data_dir) / f"{name}-{first_seed}-{count}-{max_objects}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        h, w = z["frames"].shape[1:3]
        counts = z["counts"]
        flat = np.unpackbits(z["masks"], count=int(counts.sum()) * h * w).reshape(-1, h, w).astype(bool)
        masks, labels, k = [], [], 0
        for i, c in enumerate(counts):
            masks.append([flat[k + j] for j in range(c)])
            labels.append(z["labels"][k : k + c].tolist())
            k += c
        return Pool(z["frames"], masks, labels)
    pool = build(first_seed, count, max_objects)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = np.stack([m for ms in pool.masks for m in ms])
    np.savez(
        path,
        frames=pool.frames,
        masks=np.packbits(flat.reshape(-1)),
        counts=np.array([len(m) for m in pool.masks]),
        labels=np.array([l for ls in pool.labels for l in ls]),
    )
    return pool
