"""COCO run-length encoding (uncompressed `counts` list, column-major, starting with zeros).

The pipeline's TypeScript RLE (src/masks/rle.ts) reads and writes the same layout."""
from __future__ import annotations

import numpy as np


def encode(mask: np.ndarray) -> dict:
    h, w = mask.shape
    flat = np.asarray(mask, dtype=bool).reshape(-1, order="F")
    counts: list[int] = []
    # Vectorised run finding: positions where the value changes.
    changes = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    if flat.size and flat[0]:
        counts.append(0)
    counts.extend(int(b - a) for a, b in zip(bounds[:-1], bounds[1:]))
    return {"size": [int(h), int(w)], "counts": counts}


def decode(rle: dict) -> np.ndarray:
    h, w = rle["size"]
    flat = np.zeros(h * w, dtype=bool)
    pos = 0
    value = False
    for c in rle["counts"]:
        if value:
            flat[pos : pos + c] = True
        pos += c
        value = not value
    if pos != h * w:
        raise ValueError(f"RLE counts sum to {pos}, expected {h * w}")
    return flat.reshape((h, w), order="F")


def area(rle: dict) -> int:
    return int(sum(rle["counts"][1::2]))
