"""Retrieval metrics, one definition for the factory and the pipeline (src/eval/retrieval.ts).

Tie policy, the same in both directions: ties count against the query. A candidate that is not
relevant and scores the same as a relevant one is ranked before it, so a model that gives many
objects one embedding (plain CLIP gives every object of a frame the frame's) cannot win by the
order of the dataset.

image->text: each query object ranks every caption; its own caption is the one relevant item.
  rank = number of captions scoring >= its own caption (itself included).
text->image: each query caption ranks every candidate object; the objects it describes are
  relevant. Reported: the rank of the first relevant object (R@K, mean rank), average precision
  (mAP over captions) and R-precision (relevant share of the first R, R = number relevant).
  Recall-style metrics count relevant objects that are not among the candidates (end to end: a
  ground-truth object no mask found) as never retrieved."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

KS = (1, 5, 10)


def similarities(emb: torch.Tensor, text: torch.Tensor) -> np.ndarray:
    """Cosine similarities [N,T] of objects and captions: float32 vectors, dot products summed in
    float64 as the pipeline's `dot` does, so near-ties fall on the same side in both."""
    return (F.normalize(emb, dim=-1).double() @ F.normalize(text, dim=-1).double().T).numpy()


def fixed(x: float, digits: int = 4) -> float:
    """Rounds halves up, as the pipeline's twin does (Python's round() rounds halves to even)."""
    scale = 10.0**digits
    return math.floor(x * scale + 0.5) / scale


def t2i_ranking(scores: np.ndarray, relevant: np.ndarray, total_relevant: int | None = None) -> tuple[int, float, float]:
    """One caption's query over N candidates -> (rank of the first relevant, AP, R-precision).

    scores [N], relevant [N] bool; total_relevant >= relevant.sum() counts relevant objects that
    are missing from the candidates. No relevant candidate: rank N + 1, AP 0, R-precision 0."""
    r_total = int(relevant.sum()) if total_relevant is None else int(total_relevant)
    # Primary key: score descending; then non-relevant first (ties count against the query); then index.
    order = np.lexsort((np.arange(len(scores)), relevant.astype(np.int8), -scores.astype(np.float64)))
    rel = relevant[order]
    hits = np.flatnonzero(rel)
    if len(hits) == 0 or r_total == 0:
        return len(scores) + 1, 0.0, 0.0
    # Sequential sums, as the pipeline's twin adds them, so both round to the same figures.
    ap = sum((i + 1) / (int(h) + 1) for i, h in enumerate(hits)) / r_total
    rprec = float(rel[:r_total].sum() / r_total)
    return int(hits[0]) + 1, ap, rprec


def retrieval(sims: np.ndarray, labels: np.ndarray, i2t_queries: np.ndarray | None = None,
              t2i_captions: list[int] | None = None, truth_counts: dict[int, int] | None = None,
              missed: int = 0) -> dict:
    """sims [N,T] object-caption similarities; labels [N] each object's caption (-1: an object no
    ground truth matches, a candidate only). i2t_queries [N] bool restricts the image->text
    queries (default: every labelled object); `missed` more queries count at the worst rank T
    (ground-truth objects that have no object). t2i_captions (default: the captions present)
    query every object; truth_counts[t] is how many objects caption t really has."""
    n, t_count = sims.shape
    labels = np.asarray(labels)
    q = labels >= 0 if i2t_queries is None else (np.asarray(i2t_queries) & (labels >= 0))
    qi = np.flatnonzero(q)
    own = sims[qi, labels[qi]]
    i2t = (sims[qi] >= own[:, None]).sum(1).tolist() + [t_count] * missed
    captions = sorted({int(x) for x in labels[labels >= 0]}) if t2i_captions is None else list(t2i_captions)
    t2i, aps, rps = [], [], []
    for t in captions:
        rel = labels == t
        total = truth_counts.get(t, int(rel.sum())) if truth_counts is not None else None
        rank, ap, rp = t2i_ranking(sims[:, t], rel, total)
        t2i.append(rank)
        aps.append(ap)
        rps.append(rp)
    return summarise(np.array(i2t, dtype=np.int64), np.array(t2i, dtype=np.int64), aps, rps)


def summarise(i2t: np.ndarray, t2i: np.ndarray, aps: list[float], rps: list[float]) -> dict:
    def at(r: np.ndarray, k: int) -> float:
        return fixed(float((r <= k).sum() / max(len(r), 1)))

    def mean(x) -> float:
        x = [float(v) for v in x]
        return sum(x) / max(len(x), 1)

    out = {f"i2t_r{k}": at(i2t, k) for k in KS}
    out.update({f"t2i_r{k}": at(t2i, k) for k in KS})
    out["t2i_map"] = fixed(mean(aps))
    out["t2i_rprec"] = fixed(mean(rps))
    out["mean_rank"] = fixed(mean(np.concatenate([i2t, t2i])), 3)
    out["i2t_mean_rank"] = fixed(mean(i2t), 3)
    out["t2i_mean_rank"] = fixed(mean(t2i), 3)
    out["i2t_queries"] = int(len(i2t))
    out["t2i_queries"] = int(len(t2i))
    return out


def whole_frame_bound(labels: np.ndarray, frame_of: np.ndarray) -> dict:
    """The best R@1 any whole-frame embedding can reach (every object of a frame shares it):
    image->text, one caption per frame can rank first, so at most the frame's most common
    caption scores; text->image (ties against the query), a caption can rank a relevant object
    first only if some frame holds nothing but that caption."""
    labels, frame_of = np.asarray(labels), np.asarray(frame_of)
    best = sum(np.bincount(labels[frame_of == f]).max() for f in np.unique(frame_of))
    pure = {int(labels[frame_of == f][0]) for f in np.unique(frame_of) if len(set(labels[frame_of == f].tolist())) == 1}
    captions = set(labels.tolist())
    return {"i2t_r1": round(best / len(labels), 4), "t2i_r1": round(len(pure & captions) / len(captions), 4)}


def spread(values: list[float]) -> dict:
    """Mean and sample standard deviation over seeds."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(v.mean()), 4), "sd": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
            "seeds": [round(float(x), 4) for x in v]}
