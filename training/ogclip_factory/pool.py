"""Training pools of synthetic scenes, generated once per seed range and cached under --data."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import scenes

TRAIN_SEED = 0  # training scenes: seeds 0..n-1
VAL_SEED = 1_000_000  # the committed validation split (never used for training or for choices)
SINGLE_SEED = 2_000_000  # single-object scenes (image-caption pairs for the tiny CLIP)
DEV_SEED = 3_000_000  # the development split: every choice (crop framing, demo filters) is made here
ZERO_SHOT_SEED = 4_000_000  # the zero-shot split: only the held-out attribute combinations
SPLIT_WIDTH = 1_000_000  # each split owns [first seed, first seed + SPLIT_WIDTH)
SPLITS = {"train": TRAIN_SEED, "val": VAL_SEED, "single": SINGLE_SEED, "dev": DEV_SEED, "zero_shot": ZERO_SHOT_SEED}


def split_of(seed: int) -> str:
    """The split a scene seed belongs to; seeds outside every range are an error."""
    for name, first in SPLITS.items():
        if first <= seed < first + SPLIT_WIDTH:
            return name
    raise ValueError(f"seed {seed} belongs to no split")


@dataclass
class Pool:
    frames: np.ndarray  # [N,H,W,3] uint8
    masks: list[list[np.ndarray]]  # per frame, per object [H,W] bool
    labels: list[list[int]]  # per frame, per object index into scenes.vocabulary()

    def objects(self) -> list[tuple[int, int]]:
        return [(f, o) for f, ms in enumerate(self.masks) for o in range(len(ms))]


def build(first_seed: int, count: int, max_objects: int = 5, allowed: list[scenes.Combo] | None = None) -> Pool:
    if count > SPLIT_WIDTH:
        raise ValueError(f"{count} scenes overflow the seed range of split {split_of(first_seed)!r}")
    vocab = {d: i for i, d in enumerate(scenes.vocabulary())}
    frames, masks, labels = [], [], []
    for s in range(first_seed, first_seed + count):
        sc = scenes.generate(s, max_objects=max_objects, allowed=allowed)
        frames.append(sc.image)
        masks.append([o.mask for o in sc.objects])
        labels.append([vocab[o.description] for o in sc.objects])
    return Pool(np.stack(frames), masks, labels)


def cached(data_dir: Path, name: str, first_seed: int, count: int, max_objects: int = 5,
           allowed: list[scenes.Combo] | None = None) -> Pool:
    """A restricted pool's file name carries a hash of `allowed`, so a changed held-out list never
    reuses a stale cache."""
    tag = "" if allowed is None else "-" + hashlib.sha256(repr(sorted(allowed)).encode()).hexdigest()[:8]
    path = Path(data_dir) / f"{name}-{first_seed}-{count}-{max_objects}{tag}.npz"
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
    pool = build(first_seed, count, max_objects, allowed)
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
