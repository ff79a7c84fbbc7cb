"""Deterministic synthetic scenes: 1 to 5 coloured shapes on textured, noisy backgrounds.

Every object has an exact (visible) mask, its box and a description such as
"a small red circle". The same seed always gives the same frames, bit for bit."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle", "star", "cross")
COLOURS = {
    "red": (214, 38, 38),
    "green": (40, 170, 60),
    "blue": (40, 80, 215),
    "yellow": (228, 206, 40),
    "purple": (140, 58, 185),
    "orange": (244, 136, 28),
}
SIZES = {"small": (12.0, 17.0), "large": (27.0, 36.0)}
FRAME = 256
# An object must keep this share of its own area visible after later objects occlude it.
MIN_VISIBLE = 0.6


# One other wording for every attribute value. The zero-shot protocol's CLIP sees each of these
# words in training, but never the fully paraphrased caption of any combination.
PARAPHRASES = {
    "small": "tiny", "large": "big",
    "red": "crimson", "green": "emerald", "blue": "azure", "yellow": "golden", "purple": "violet", "orange": "amber",
    "circle": "disc", "square": "block", "triangle": "wedge", "star": "pentagram", "cross": "plus",
}  # fmt: skip

Combo = tuple[str, str, str]  # size, colour, shape
Wording = tuple[bool, bool, bool]  # paraphrase the size, the colour, the shape
CANONICAL: Wording = (False, False, False)
PARAPHRASED: Wording = (True, True, True)
# Wordings a zero-shot CLIP may train on: all but the fully paraphrased one.
TRAIN_WORDINGS: tuple[Wording, ...] = tuple(
    (a, b, c) for a in (False, True) for b in (False, True) for c in (False, True) if (a, b, c) != PARAPHRASED
)


def describe(size: str, colour: str, shape: str, wording: Wording = CANONICAL) -> str:
    words = [PARAPHRASES[w] if p else w for w, p in zip((size, colour, shape), wording)]
    return "a " + " ".join(words)


def combos() -> list[Combo]:
    """Every attribute combination, in vocabulary order."""
    return [(s, c, sh) for s in SIZES for c in COLOURS for sh in SHAPES]


def vocabulary(wording: Wording = CANONICAL) -> list[str]:
    """Every description the generator can produce, in a fixed order (the label set)."""
    return [describe(*c, wording) for c in combos()]


def local_index(classes: list[Combo]) -> np.ndarray:
    """[len(vocabulary())] int64: the position of each combination in `classes`, -1 if absent
    (maps vocabulary labels onto a training run's own caption list)."""
    out = np.full(len(combos()), -1, dtype=np.int64)
    full = {c: i for i, c in enumerate(combos())}
    out[[full[c] for c in classes]] = np.arange(len(classes))
    return out


def held_out_combos() -> list[Combo]:
    """The 12 combinations the zero-shot protocol keeps out of every CLIP and head training set.

    Chosen so that every colour, shape and size still trains in other combinations: each colour
    is held out once small and once large, with two different shapes."""
    colours, out = list(COLOURS), []
    for k, colour in enumerate(colours):
        first, other = ("small", "large") if k % 2 == 0 else ("large", "small")
        out.append((first, colour, SHAPES[k % len(SHAPES)]))
        out.append((other, colour, SHAPES[(k + 2) % len(SHAPES)]))
    return out


def seen_combos() -> list[Combo]:
    held = set(held_out_combos())
    return [c for c in combos() if c not in held]


@dataclass
class SceneObject:
    shape: str
    colour: str
    size: str
    mask: np.ndarray  # [H,W] bool, visible part only

    @property
    def description(self) -> str:
        return describe(self.size, self.colour, self.shape)

    @property
    def bbox(self) -> list[float]:
        ys, xs = np.nonzero(self.mask)
        return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


@dataclass
class Scene:
    image: np.ndarray  # [H,W,3] uint8
    objects: list[SceneObject]


def _convex(xs: np.ndarray, ys: np.ndarray, verts: list[tuple[float, float]]) -> np.ndarray:
    inside = np.ones(xs.shape, dtype=bool)
    n = len(verts)
    for i in range(n):
        x0, y0 = verts[i]
        x1, y1 = verts[(i + 1) % n]
        inside &= (x1 - x0) * (ys - y0) - (y1 - y0) * (xs - x0) >= 0
    return inside


def _regular(cx: float, cy: float, r: float, n: int, rot: float) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(rot + 2 * math.pi * k / n), cy + r * math.sin(rot + 2 * math.pi * k / n)) for k in range(n)]


def shape_mask(shape: str, cx: float, cy: float, r: float, rot: float, size: int = FRAME) -> np.ndarray:
    # Pixel centres, so a mask is the exact set of pixels whose centre lies in the shape.
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    if shape == "circle":
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    if shape == "square":
        return _convex(xs, ys, _regular(cx, cy, r * 1.05, 4, rot))
    if shape == "triangle":
        return _convex(xs, ys, _regular(cx, cy, r * 1.2, 3, rot))
    if shape == "star":
        inner = r * 0.45
        pent = _regular(cx, cy, inner, 5, rot + math.pi / 5)
        m = _convex(xs, ys, pent)
        tips = _regular(cx, cy, r * 1.2, 5, rot)
        for k in range(5):
            a, b = pent[(k - 1) % 5], pent[k]
            m |= _convex(xs, ys, [a, tips[k], b][::1]) | _convex(xs, ys, [b, tips[k], a])
        return m
    if shape == "cross":
        c, s = math.cos(rot), math.sin(rot)
        u = (xs - cx) * c + (ys - cy) * s
        v = -(xs - cx) * s + (ys - cy) * c
        arm, half = r * 1.05, r * 0.36
        return ((np.abs(u) <= arm) & (np.abs(v) <= half)) | ((np.abs(v) <= arm) & (np.abs(u) <= half))
    raise ValueError(f"unknown shape {shape!r}")


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise: a coarse random grid upsampled bilinearly to [size,size] in [0,1]."""
    g = rng.random((cells + 1, cells + 1))
    t = np.linspace(0, cells, size, endpoint=False)
    i = t.astype(int)
    f = t - i
    a = g[i][:, i] * (1 - f)[None, :] + g[i][:, i + 1] * f[None, :]
    b = g[i + 1][:, i] * (1 - f)[None, :] + g[i + 1][:, i + 1] * f[None, :]
    return a * (1 - f)[:, None] + b * f[:, None]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    base = rng.uniform(70, 190)
    tint = rng.uniform(-18, 18, size=3)
    tex = (_smooth_noise(rng, size, int(rng.integers(3, 9))) - 0.5) * rng.uniform(30, 70)
    img = base + tint[None, None, :] + tex[..., None]
    if rng.random() < 0.4:
        ys, xs = np.mgrid[0:size, 0:size]
        ang = rng.uniform(0, math.pi)
        period = rng.uniform(10, 40)
        stripes = np.sin((xs * math.cos(ang) + ys * math.sin(ang)) * 2 * math.pi / period)
        img += stripes[..., None] * rng.uniform(6, 16)
    return img


def _box_blur(img: np.ndarray, k: int) -> np.ndarray:
    pad = k // 2
    p = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    c = p.cumsum(0).cumsum(1)
    c = np.pad(c, ((1, 0), (1, 0), (0, 0)))
    h, w = img.shape[:2]
    s = c[k : k + h, k : k + w] - c[0:h, k : k + w] - c[k : k + h, 0:w] + c[0:h, 0:w]
    return s / (k * k)


def generate(seed: int, size: int = FRAME, min_objects: int = 1, max_objects: int = 5,
             allowed: list[Combo] | None = None) -> Scene:
    """`allowed` restricts the objects' attribute combinations (drawn uniformly from it); None
    draws every attribute independently, the original draw order that the committed splits use."""
    rng = np.random.default_rng(seed)
    img = _background(rng, size)
    n = int(rng.integers(min_objects, max_objects + 1))
    placed: list[tuple[str, str, str, np.ndarray]] = []  # shape, colour, size, full mask
    visible: list[np.ndarray] = []
    for _ in range(n):
        for _attempt in range(20):
            if allowed is None:
                shape = SHAPES[int(rng.integers(len(SHAPES)))]
                colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
                sz = list(SIZES)[int(rng.integers(len(SIZES)))]
            else:
                sz, colour, shape = allowed[int(rng.integers(len(allowed)))]
            r = float(rng.uniform(*SIZES[sz]))
            margin = r * 0.8
            cx, cy = rng.uniform(margin, size - margin, size=2)
            full = shape_mask(shape, float(cx), float(cy), r, float(rng.uniform(0, 2 * math.pi)), size)
            if full.sum() < 40:
                continue
            # The new object occludes the ones below; every object must stay mostly visible.
            ok = all((v & ~full).sum() >= MIN_VISIBLE * p[3].sum() for v, p in zip(visible, placed))
            if ok:
                break
        else:
            continue
        visible = [v & ~full for v in visible]
        placed.append((shape, colour, sz, full))
        visible.append(full.copy())
        rgb = np.array(COLOURS[colour], dtype=np.float64) + rng.uniform(-14, 14, size=3)
        shade = 1 + (_smooth_noise(rng, size, 4) - 0.5) * 0.25
        img[full] = rgb[None, :] * shade[full][:, None]
    # Lighting (gain + gradient), blur and sensor noise apply to the whole frame.
    ys, xs = np.mgrid[0:size, 0:size] / size
    grad = 1 + rng.uniform(-0.15, 0.15) * (xs - 0.5) + rng.uniform(-0.15, 0.15) * (ys - 0.5)
    img = img * rng.uniform(0.82, 1.15) * grad[..., None]
    if rng.random() < 0.35:
        img = _box_blur(img, 3)
    img = img + rng.normal(0, rng.uniform(2, 7), size=img.shape)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    objects = [SceneObject(p[0], p[1], p[2], v) for p, v in zip(placed, visible) if v.sum() > 0]
    return Scene(image, objects)
