"""Evaluation on the committed validation split, every method in the same run:
plain CLIP (whole frame), training-free masked-crop CLIP, the object-guided head and its
ablations; segmenter mIoU from one click and from a box; zero-shot region classification.

Retrieval protocol (each caption names one object of a multi-object frame):
  image->text: each object (its mask from the segmenter, prompted by one click at the deepest
  point of the true mask) ranks every caption of the vocabulary; the rank of its own caption.
  text->image: each distinct caption present ranks every object of the split; the rank of the
  first object that caption describes. R@K = share of queries with rank <= K."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from . import dataset, features, scenes
from .clip import TinyClip, Tokenizer
from .head import ObjectGuidedHead
from .segmenter import Segmenter


def retrieval(emb: torch.Tensor, text: torch.Tensor, labels: torch.Tensor) -> dict:
    sims = F.normalize(emb, dim=-1) @ F.normalize(text, dim=-1).T  # [N,T]
    own = sims.gather(1, labels[:, None])
    i2t_rank = (sims > own).sum(1) + 1
    t2i_ranks = []
    for t in torch.unique(labels).tolist():
        # Stable: tied objects (plain CLIP gives every object of a frame one embedding) keep
        # their dataset order, as in the pipeline's eval, so both report the same ranks.
        order = torch.argsort(sims[:, t], descending=True, stable=True)
        t2i_ranks.append(int(torch.nonzero(labels[order] == t)[0, 0]) + 1)
    t2i_rank = torch.tensor(t2i_ranks)
    out = {}
    for name, r in (("i2t", i2t_rank), ("t2i", t2i_rank)):
        for k in (1, 5, 10):
            out[f"{name}_r{k}"] = round(float((r <= k).float().mean()), 4)
    out["mean_rank"] = round(float(torch.cat([i2t_rank, t2i_rank]).float().mean()), 3)
    out["i2t_mean_rank"] = round(float(i2t_rank.float().mean()), 3)
    out["t2i_mean_rank"] = round(float(t2i_rank.float().mean()), 3)
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = (a | b).sum()
    return float((a & b).sum() / u) if u else 1.0


@torch.no_grad()
def run(seg: Segmenter, clip: TinyClip, tokenizer: Tokenizer, heads: dict[str, ObjectGuidedHead], val: Path,
        results: Path, log: Callable[[str], None] = print) -> dict:
    for m in [seg, clip, *heads.values()]:
        m.eval()
    entries = dataset.load(val / "dataset.json")
    vocab = scenes.vocabulary()
    index = {d: i for i, d in enumerate(vocab)}
    frames = [np.array(Image.open(e.image_path).convert("RGB")) for e in entries]
    gt = [e.masks for e in entries]
    labels = torch.tensor([index[d] for e in entries for d in e.descriptions])
    points = [[features.interior_point(m) for m in ms] for ms in gt]
    by_point = [features.segment(seg, f, np.array(p)) for f, p in zip(frames, points)]
    by_box = [features.segment(seg, f, boxes=np.array(e.bboxes)) for f, e in zip(frames, entries)]
    point_ious = [iou(p, g) for ps, gs in zip(by_point, gt) for p, g in zip(ps, gs)]
    box_ious = [iou(p, g) for ps, gs in zip(by_box, gt) for p, g in zip(ps, gs)]
    text = clip.text(tokenizer(vocab))[0]

    pred = features.object_inputs(clip, frames, by_point)
    truth = features.object_inputs(clip, frames, gt)

    def embed(head: ObjectGuidedHead, x: features.ObjectInputs) -> torch.Tensor:
        return head(x.object_pixels, x.object_mask, x.clip_features)

    ret = {
        "plain_clip": retrieval(pred.frame_embeds, text, labels),
        "crop_clip": retrieval(pred.crop_embeds, text, labels),
        "object_guided": retrieval(embed(heads["full"], pred), text, labels),
    }
    ablation = {k: retrieval(embed(heads[k], pred), text, labels) for k in ("no_mask", "no_object", "no_clip")}

    def accuracy(emb: torch.Tensor) -> float:
        return round(float(((F.normalize(emb, dim=-1) @ F.normalize(text, dim=-1).T).argmax(1) == labels).float().mean()), 4)

    report = {
        "split": str(val.name),
        "frames": len(frames),
        "objects": int(labels.numel()),
        "vocabulary": len(vocab),
        "protocol": __doc__.strip().splitlines()[3:],
        "retrieval": ret,
        "ablation": {k: {"i2t_r1": v["i2t_r1"], "t2i_r1": v["t2i_r1"], "mean_rank": v["mean_rank"]} for k, v in ablation.items()},
        "segmentation": {
            "point_miou": round(float(np.mean(point_ious)), 4),
            "box_miou": round(float(np.mean(box_ious)), 4),
            "prompt": "one positive click at the deepest point of the true mask; the true box",
        },
        "classification": {
            "accuracy": accuracy(embed(heads["full"], truth)),
            "crop_clip_accuracy": accuracy(truth.crop_embeds),
            "plain_clip_accuracy": accuracy(truth.frame_embeds),
            "masks": "ground truth; one label of the whole vocabulary per object",
        },
    }
    results.mkdir(parents=True, exist_ok=True)
    (results / "shapes-eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (results / "shapes-eval.md").write_text(markdown(report))
    heatmap(F.normalize(embed(heads["full"], pred)[:24], dim=-1), F.normalize(text, dim=-1), labels[:24], vocab, results / "similarity-heatmap.png")
    samples(frames[:8], by_point[:8], points[:8], results / "segmentation-samples.png")
    log(f"eval: {json.dumps({k: v for k, v in report.items() if k in ('retrieval', 'segmentation', 'classification')})}")
    return report


def markdown(r: dict) -> str:
    lines = [
        f"# Shapes validation ({r['frames']} frames, {r['objects']} objects, {r['vocabulary']} captions)",
        "",
        "Written by `python -m ogclip_factory.build` (evaluation stage, `ogclip_factory/evaluate.py`).",
        "",
        "| method | i2t R@1 | i2t R@5 | t2i R@1 | t2i R@5 | mean rank |",
        "|---|---|---|---|---|---|",
    ]
    for k, v in r["retrieval"].items():
        lines.append(f"| {k} | {v['i2t_r1']:.3f} | {v['i2t_r5']:.3f} | {v['t2i_r1']:.3f} | {v['t2i_r5']:.3f} | {v['mean_rank']:.2f} |")
    for k, v in r["ablation"].items():
        lines.append(f"| object_guided, {k} (retrained) | {v['i2t_r1']:.3f} | | {v['t2i_r1']:.3f} | | {v['mean_rank']:.2f} |")
    s, c = r["segmentation"], r["classification"]
    lines += [
        "",
        f"Segmenter mIoU: {s['point_miou']:.3f} from one click, {s['box_miou']:.3f} from a box.",
        f"Zero-shot region classification (ground-truth masks, {r['vocabulary']} labels): object-guided "
        f"{c['accuracy']:.3f}, masked-crop CLIP {c['crop_clip_accuracy']:.3f}, plain CLIP {c['plain_clip_accuracy']:.3f}.",
        "",
    ]
    return "\n".join(lines)


def heatmap(emb: torch.Tensor, text: torch.Tensor, labels: torch.Tensor, vocab: list[str], path: Path) -> None:
    cols = sorted(set(labels.tolist()))
    sims = (emb @ text[cols].T).numpy()
    cell = 14
    img = Image.new("RGB", (len(cols) * cell + 200, len(emb) * cell + 10), "white")
    d = ImageDraw.Draw(img)
    lo, hi = sims.min(), sims.max()
    for i in range(sims.shape[0]):
        for j in range(sims.shape[1]):
            v = (sims[i, j] - lo) / (hi - lo + 1e-9)
            colour = (int(255 * v), int(80 * (1 - v)), int(255 * (1 - v)))
            d.rectangle([j * cell, i * cell, (j + 1) * cell - 1, (i + 1) * cell - 1], fill=colour)
        if labels[i] in cols:
            j = cols.index(int(labels[i]))
            d.rectangle([j * cell, i * cell, (j + 1) * cell - 1, (i + 1) * cell - 1], outline="white")
    for j, c in enumerate(cols[:40]):
        d.text((len(cols) * cell + 4, j * 10), f"{j}: {vocab[c]}", fill="black")
    img.save(path)


def samples(frames: list[np.ndarray], masks: list[np.ndarray], points: list, path: Path) -> None:
    tiles = []
    rng = np.random.default_rng(0)
    for f, ms, ps in zip(frames, masks, points):
        t = f.astype(np.float32).copy()
        for m in ms:
            colour = rng.uniform(0, 255, 3)
            t[m] = 0.45 * t[m] + 0.55 * colour
        tile = Image.fromarray(t.astype(np.uint8))
        d = ImageDraw.Draw(tile)
        for x, y in ps:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill="white", outline="black")
        tiles.append(tile)
    w, h = tiles[0].size
    grid = Image.new("RGB", (w * 4, h * ((len(tiles) + 3) // 4)))
    for i, t in enumerate(tiles):
        grid.paste(t, ((i % 4) * w, (i // 4) * h))
    grid.save(path)


def main() -> None:
    """Evaluate trained checkpoints again (the build runs this as its evaluation stage):
    python -m ogclip_factory.evaluate --out <work folder of a build> [--val ../datasets/shapes-val]"""
    import argparse

    from .clip import Tokenizer as Tok
    from .head import ObjectGuidedHead as Head

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out", type=Path, required=True, help="the build's work folder (checkpoints, tokenizer)")
    ap.add_argument("--val", type=Path, default=Path(__file__).resolve().parents[2] / "datasets" / "shapes-val")
    ap.add_argument("--results", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    a = ap.parse_args()

    def load(model: torch.nn.Module, name: str) -> torch.nn.Module:
        model.load_state_dict(torch.load(a.out / f"{name}.ckpt", weights_only=False)["model"])
        return model.eval()

    seg = load(Segmenter(), "segmenter")
    clip = load(TinyClip(), "clip")
    tok = Tok(a.out / "tokenizer" / "tokenizer.json")
    clip_dim = clip.vision.proj.in_features + clip.vision.proj.out_features
    heads = {}
    for variant in ("full", "no_mask", "no_object", "no_clip"):
        head = Head(clip_dim, embed=clip.vision.proj.out_features, drop=None if variant == "full" else variant[3:])
        heads[variant] = load(head, f"head-{variant}")
    run(seg, clip, tok, heads, a.val, a.results)


if __name__ == "__main__":
    main()
