"""Evaluation, every method in the same run, metrics and tie policy from `metrics.py`.

Models. "shipped": the segmenter, tiny CLIP and object-guided head of the bundle, trained on all
60 captions; their figures are closed-set (every test caption was a training caption).
"zero-shot": a second tiny CLIP and heads (3 seeds per variant, with the ablations) trained
the same way but with 12 attribute combinations (scenes.held_out_combos()) removed from every
CLIP and head training set, images and captions alike; the segmenter is shared (it never sees
text, as SAM2 does not).

Splits (pool.SPLITS, disjoint seed ranges): choices are made on the development split, never
on the committed validation split; the zero-shot split holds only held-out combinations.

Protocols.
- oracle prompts: each ground-truth object is segmented from one click at its deepest point.
- end to end: the pipeline's automatic masks (topologies/demo.yaml's sam2 settings), matched one
  to one to ground-truth objects by mask IoU >= 0.5; a ground-truth object without a mask is a
  miss (worst rank image->text, never retrieved text->image), unmatched masks are distractors.
- image->text ranks all 60 captions (seen and unseen alike: generalised zero-shot);
  text->image ranks every object of the split. seen / unseen split the queries by combination.
- paraphrased: every caption in its fully paraphrased wording ("a tiny crimson disc"); the
  zero-shot CLIP saw each of these words in other wordings, never this caption.
- region classification: the image->text R@1 on ground-truth masks (argmax over 60 captions).
- crop baseline: its framing (window and context) is chosen on the development split from
  CROP_SPECS; the object-window crop the head uses is reported beside it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import yaml
from PIL import Image, ImageDraw

from . import dataset, features, metrics, pool, preprocess, scenes
from .clip import TinyClip, Tokenizer
from .head import ObjectGuidedHead
from .segmenter import Segmenter

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("full", "no_mask", "no_object", "no_clip")
# The crop framings the baseline is swept over (preprocess.crop_window).
CROP_SPECS = [
    preprocess.HEAD_CROP,
    {"window": "object", "margin": 1.25, "pad": 4, "context": "kept"},
    {"window": "object", "margin": 2.0, "pad": 8, "context": "kept"},
    *({"window": "fixed", "side_fraction": f, "context": c} for f in (0.25, 0.375, 0.5) for c in ("masked", "kept")),
]
# The pipeline's automatic-mask defaults (src/stages/sam2.ts), under the topology's settings.
SAM2_DEFAULTS = {"pointsPerSide": 32, "predIouThresh": 0.8, "stabilityScoreThresh": 0.95, "stabilityScoreOffset": 1.0,
                 "boxNmsThresh": 0.7, "objectScoreThresh": 0.0, "maxObjects": 100}
REPORTED = ("i2t_r1", "i2t_r5", "t2i_r1", "t2i_map", "t2i_rprec", "mean_rank")


@dataclass
class Models:
    clip: TinyClip
    heads: dict[str, list[ObjectGuidedHead]]  # variant -> one head per seed


@dataclass
class Split:
    name: str
    frames: list[np.ndarray]
    truth: list[list[np.ndarray]]
    labels: np.ndarray  # [N] into scenes.vocabulary()
    frame_of: np.ndarray  # [N]
    first_seed: int

    @property
    def seen(self) -> np.ndarray:
        held = set(scenes.held_out_combos())
        return np.array([scenes.combos()[l] not in held for l in self.labels])


def generated(name: str, first_seed: int, count: int, allowed: list[scenes.Combo] | None = None) -> Split:
    p = pool.build(first_seed, count, allowed=allowed)
    labels = np.array([l for ls in p.labels for l in ls])
    frame_of = np.array([f for f, ms in enumerate(p.masks) for _ in ms])
    return Split(name, list(p.frames), p.masks, labels, frame_of, first_seed)


def committed(path: Path) -> Split:
    doc = json.loads((path / "dataset.json").read_text())
    entries = dataset.load(path / "dataset.json")
    index = {d: i for i, d in enumerate(scenes.vocabulary())}
    frames = [np.array(Image.open(e.image_path).convert("RGB")) for e in entries]
    labels = np.array([index[d] for e in entries for d in e.descriptions])
    frame_of = np.array([f for f, e in enumerate(entries) for _ in e.descriptions])
    return Split(path.name, frames, [e.masks for e in entries], labels, frame_of, int(doc["images"][0]["seed"]))


def embed(head: ObjectGuidedHead, x: features.ObjectInputs) -> torch.Tensor:
    return head(x.object_pixels, x.object_mask, x.clip_features)


def method_embeddings(models: Models, x: features.ObjectInputs) -> dict[str, list[torch.Tensor]]:
    """Per method, one embedding matrix per seed (training-free methods have one)."""
    out = {"plain_clip": [x.frame_embeds], "crop_clip": [x.crop_embeds]}
    for v, heads in models.heads.items():
        out["object_guided" if v == "full" else f"object_guided_{v}"] = [embed(h, x) for h in heads]
    return out


def scored(per_seed: list[dict]) -> dict:
    """One metrics dict, or mean/sd/seeds per reported metric when there are several seeds."""
    if len(per_seed) == 1:
        return per_seed[0]
    return {k: metrics.spread([m[k] for m in per_seed]) for k in REPORTED}


def choose_crop(clip: TinyClip, text: torch.Tensor, dev: Split, masks: list[list[np.ndarray]], classes: list[scenes.Combo]) -> tuple[dict, list]:
    """The crop framing with the best image->text R@1 on the development split (then t2i mAP),
    counting only objects and captions of `classes` (the zero-shot CLIP never sees the others)."""
    local = scenes.local_index(classes)
    keep = local[dev.labels] >= 0
    kept_masks, k = [], 0
    for ms in masks:
        kept_masks.append([m for j, m in enumerate(ms) if keep[k + j]])
        k += len(ms)
    cols = [scenes.combos().index(c) for c in classes]
    grid = []
    for spec in CROP_SPECS:
        sims = metrics.similarities(features.crop_embeds(clip, dev.frames, kept_masks, spec), text[cols])
        r = metrics.retrieval(sims, local[dev.labels[keep]])
        grid.append({"spec": spec, "i2t_r1": r["i2t_r1"], "t2i_map": r["t2i_map"]})
    best = max(grid, key=lambda g: (g["i2t_r1"], g["t2i_map"]))
    return best["spec"], grid


def end_to_end(seg: Segmenter, models: Models, text: torch.Tensor, val: Split, crop_spec: dict, sam2: dict) -> dict:
    pred, matched = [], []
    for frame, truth in zip(val.frames, val.truth):
        ms = features.automatic_masks(seg, frame, sam2)
        pred.append(ms)
        matched.append(features.match_by_iou(ms, truth))
    # Each mask's caption: its ground-truth object's, or -1 for a mask that matches none.
    labels, k = [], 0
    for ms, of_truth in zip(pred, matched):
        own = np.full(len(ms), -1)
        for j, i in enumerate(of_truth):
            if i >= 0:
                own[i] = val.labels[k + j]
        labels.extend(own.tolist())
        k += len(of_truth)
    labels = np.array(labels, dtype=np.int64)
    missed = sum(i < 0 for m in matched for i in m)
    counts = {int(t): int(c) for t, c in zip(*np.unique(val.labels, return_counts=True))}
    x = features.object_inputs(models.clip, val.frames, [ms if ms else [] for ms in pred], crop_spec) if len(labels) else None
    out = {
        "sam2": sam2,
        "masks": int(len(labels)),
        "ground_truth_objects": int(len(val.labels)),
        "found": round(1 - missed / len(val.labels), 4),
        "retrieval": {},
    }
    if x is not None:
        for name, embs in method_embeddings(models, x).items():
            runs = [metrics.retrieval(metrics.similarities(e, text), labels, None, sorted(counts), counts, missed) for e in embs]
            out["retrieval"][name] = scored(runs)
    return out


def subsets(models: Models, x: features.ObjectInputs, texts: dict[str, torch.Tensor], split: Split) -> dict:
    """Per wording and per seen/unseen subset, every method's retrieval metrics."""
    seen = split.seen
    out: dict = {}
    embs = method_embeddings(models, x)
    for wording, text in texts.items():
        for subset, q in (("seen", seen), ("unseen", ~seen)):
            if not q.any():
                continue
            captions = sorted({int(l) for l in split.labels[q]})
            out[f"{wording}_{subset}"] = {
                name: scored([metrics.retrieval(metrics.similarities(e, text), split.labels, q, captions) for e in es])
                for name, es in embs.items()
            }
    return out


@torch.no_grad()
def run(seg: Segmenter, shipped: Models, zero_shot: Models, tokenizer: Tokenizer, val_dir: Path, results: Path,
        eval_cfg: dict, topology: Path = ROOT / "topologies" / "demo.yaml", log: Callable[[str], None] = print) -> dict:
    for m in [seg, shipped.clip, zero_shot.clip, *(h for ms in (shipped, zero_shot) for hs in ms.heads.values() for h in hs)]:
        m.eval()
    val = committed(val_dir)
    if pool.split_of(val.first_seed) != "val":
        raise ValueError(f"{val_dir} was not generated from the validation seed range")
    dev = generated("dev", pool.DEV_SEED, int(eval_cfg["dev_frames"]))
    zsplit = generated("zero_shot", pool.ZERO_SHOT_SEED, int(eval_cfg["zero_shot_frames"]), scenes.held_out_combos())
    log(f"eval: val {len(val.labels)} objects, dev {len(dev.labels)}, zero-shot split {len(zsplit.labels)}")

    def oracle(split: Split) -> list[list[np.ndarray]]:
        return [features.segment(seg, f, np.array([features.interior_point(m) for m in ms])) for f, ms in zip(split.frames, split.truth)]

    val_masks, dev_masks, zs_masks = oracle(val), oracle(dev), oracle(zsplit)
    by_box = [features.segment(seg, f, boxes=np.array([features.box_of(m) for m in ms])) for f, ms in zip(val.frames, val.truth)]

    text = shipped.clip.text(tokenizer(scenes.vocabulary()))[0]
    zs_texts = {w: zero_shot.clip.text(tokenizer(scenes.vocabulary(wording)))[0]
                for w, wording in (("canonical", scenes.CANONICAL), ("paraphrased", scenes.PARAPHRASED))}

    # Crop framing chosen on the development split (the zero-shot CLIP: on seen objects only).
    crop, crop_grid = choose_crop(shipped.clip, text, dev, dev_masks, scenes.combos())
    zs_crop, zs_crop_grid = choose_crop(zero_shot.clip, zs_texts["canonical"], dev, dev_masks, scenes.seen_combos())
    log(f"eval: crop framing {crop} (zero-shot CLIP: {zs_crop})")

    # Shipped models, closed-set, oracle prompts.
    x = features.object_inputs(shipped.clip, val.frames, val_masks, crop)
    sims = {k: metrics.similarities(v[0], text) for k, v in method_embeddings(shipped, x).items()}
    ret = {k: metrics.retrieval(s, val.labels) for k, s in sims.items()}
    head_framing = metrics.retrieval(metrics.similarities(features.crop_embeds(shipped.clip, val.frames, val_masks), text), val.labels)
    truth = features.object_inputs(shipped.clip, val.frames, val.truth, crop)
    classification = {k: metrics.retrieval(metrics.similarities(v[0], text), val.labels)["i2t_r1"]
                      for k, v in method_embeddings(shipped, truth).items()}
    sam2 = {**SAM2_DEFAULTS, **(yaml.safe_load(topology.read_text()).get("sam2") or {})}
    sam2.pop("mode", None)
    sam2.pop("pointsPerBatch", None)
    e2e = end_to_end(seg, shipped, text, val, crop, sam2)
    log(f"eval: end to end found {e2e['found']} of the ground-truth objects")

    # Zero-shot protocol.
    zx_val = features.object_inputs(zero_shot.clip, val.frames, val_masks, zs_crop)
    zx_split = features.object_inputs(zero_shot.clip, zsplit.frames, zs_masks, zs_crop)
    zs = {
        "held_out": [scenes.describe(*c) for c in scenes.held_out_combos()],
        "paraphrased_example": scenes.describe(*scenes.held_out_combos()[0], scenes.PARAPHRASED),
        "crop_framing": zs_crop,
        "head_seeds": len(zero_shot.heads["full"]),
        "val": subsets(zero_shot, zx_val, zs_texts, val),
        "zero_shot_split": subsets(zero_shot, zx_split, zs_texts, zsplit),
        "val_objects": {"seen": int(val.seen.sum()), "unseen": int((~val.seen).sum())},
        "zero_shot_split_objects": int(len(zsplit.labels)),
    }

    report = {
        "split": val.name,
        "frames": len(val.frames),
        "objects": int(len(val.labels)),
        "vocabulary": len(scenes.vocabulary()),
        "splits": {name: {"first_seed": first, "seed_range_width": pool.SPLIT_WIDTH} for name, first in pool.SPLITS.items()},
        "protocol": __doc__.strip().splitlines()[2:],
        "tie_policy": "ties count against the query (metrics.py)",
        "retrieval": {k: ret[k] for k in ("plain_clip", "crop_clip", "object_guided")},
        "crop_clip_object_window": head_framing,
        "plain_clip_upper_bound": metrics.whole_frame_bound(val.labels, val.frame_of),
        "crop_baseline": {"choice": crop, "split": "dev", "frames": len(dev.frames), "grid": crop_grid,
                          "zero_shot_clip": {"choice": zs_crop, "grid": zs_crop_grid}},
        "classification": {"masks": "ground truth", **classification},
        "end_to_end": e2e,
        "segmentation": {
            "point_miou": round(features.mean_iou(val_masks, val.truth), 4),
            "dev_point_miou": round(features.mean_iou(dev_masks, dev.truth), 4),
            "box_miou": round(features.mean_iou(by_box, val.truth), 4),
            "prompt": "one positive click at the deepest point of the true mask; the true box",
        },
        "zero_shot": zs,
    }
    results.mkdir(parents=True, exist_ok=True)
    (results / "shapes-eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (results / "shapes-eval.md").write_text(markdown(report))
    og = embed(shipped.heads["full"][0], x)
    heatmap(torch.nn.functional.normalize(og[:24], dim=-1), torch.nn.functional.normalize(text, dim=-1),
            torch.from_numpy(val.labels[:24]), scenes.vocabulary(), results / "similarity-heatmap.png")
    points = [[features.interior_point(m) for m in ms] for ms in val.truth[:8]]
    samples(val.frames[:8], val_masks[:8], points, results / "segmentation-samples.png")
    log("eval: " + json.dumps({k: {m: v["i2t_r1"] for m, v in report["retrieval"].items()} if k == "retrieval" else report[k]
                               for k in ("retrieval", "segmentation")}))
    return report


def _cell(v) -> str:
    if isinstance(v, dict):
        return f"{v['mean']:.3f} ± {v['sd']:.3f}"
    return f"{v:.3f}"


def markdown(r: dict) -> str:
    e2e, zs = r["end_to_end"], r["zero_shot"]
    lines = [
        f"# Shapes evaluation ({r['frames']} validation frames, {r['objects']} objects, {r['vocabulary']} captions)",
        "",
        "Written by `python -m ogclip_factory.build` (its evaluation stage, `ogclip_factory/evaluate.py`;",
        "`python -m ogclip_factory.evaluate --out <work>` recomputes it from the checkpoints). Every method",
        "is measured in the same run. Ties count against the query. t2i mAP and R-precision rank every",
        "object of the split for each caption.",
        "",
        "## Shipped models: closed-set (every caption was a training caption)",
        "",
        "Oracle prompts (one click at the deepest point of each true mask):",
        "",
        "| method | i2t R@1 | i2t R@5 | t2i R@1 | t2i mAP | t2i R-prec | mean rank |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = {**r["retrieval"], "crop_clip with the head's object-window framing": r["crop_clip_object_window"]}
    for k, v in rows.items():
        lines.append(f"| {k} | {v['i2t_r1']:.3f} | {v['i2t_r5']:.3f} | {v['t2i_r1']:.3f} | {v['t2i_map']:.3f} | {v['t2i_rprec']:.3f} | {v['mean_rank']:.2f} |")
    b = r["plain_clip_upper_bound"]
    lines += [
        "",
        f"Plain CLIP is bounded by its one embedding per frame: the best any whole-frame embedding can do here is "
        f"i2t R@1 {b['i2t_r1']:.3f}, t2i R@1 {b['t2i_r1']:.3f}.",
        f"The crop baseline's framing was chosen on the development split ({r['crop_baseline']['frames']} frames): "
        f"`{json.dumps(r['crop_baseline']['choice'])}`.",
        "",
        f"End to end (automatic masks with the demo topology's settings; {e2e['found']:.3f} of the "
        f"{e2e['ground_truth_objects']} ground-truth objects found, {e2e['masks']} masks):",
        "",
        "| method | i2t R@1 (= region classification) | t2i R@1 | t2i mAP | t2i R-prec |",
        "|---|---|---|---|---|",
    ]
    for k in ("plain_clip", "crop_clip", "object_guided"):
        v = e2e["retrieval"].get(k)
        if v:
            lines.append(f"| {k} | {v['i2t_r1']:.3f} | {v['t2i_r1']:.3f} | {v['t2i_map']:.3f} | {v['t2i_rprec']:.3f} |")
    c = r["classification"]
    lines += [
        "",
        f"Region classification with ground-truth masks ({r['vocabulary']} captions): object-guided {c['object_guided']:.3f}, "
        f"crop CLIP {c['crop_clip']:.3f}, plain CLIP {c['plain_clip']:.3f}.",
        "",
        "## Zero-shot protocol: 12 combinations never trained on",
        "",
        f"Held out of every CLIP and head training set: {', '.join(zs['held_out'])}. Object-guided rows: mean ± sd "
        f"over {zs['head_seeds']} head seeds (one zero-shot CLIP). Validation split: {zs['val_objects']['seen']} seen and "
        f"{zs['val_objects']['unseen']} unseen objects; zero-shot split: {zs['zero_shot_split_objects']} objects, all unseen. "
        f"Paraphrased captions use other words for every attribute (e.g. \"{zs['paraphrased_example']}\").",
        "",
        "| method | val seen i2t R@1 | val unseen i2t R@1 | zero-shot split i2t R@1 | val seen t2i mAP | val unseen t2i mAP | zero-shot split t2i mAP | paraphrased: val seen i2t R@1 | paraphrased: val unseen i2t R@1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    v, z = zs["val"], zs["zero_shot_split"]
    for k in v["canonical_seen"]:
        cells = [v["canonical_seen"][k]["i2t_r1"], v["canonical_unseen"][k]["i2t_r1"], z["canonical_unseen"][k]["i2t_r1"],
                 v["canonical_seen"][k]["t2i_map"], v["canonical_unseen"][k]["t2i_map"], z["canonical_unseen"][k]["t2i_map"],
                 v["paraphrased_seen"][k]["i2t_r1"], v["paraphrased_unseen"][k]["i2t_r1"]]
        lines.append(f"| {k} | " + " | ".join(_cell(x) for x in cells) + " |")
    s = r["segmentation"]
    lines += ["", f"Segmenter mIoU on the validation split: {s['point_miou']:.3f} from one click, {s['box_miou']:.3f} from a box "
              f"(development split, one click: {s['dev_point_miou']:.3f}).", ""]
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
    """Evaluate a build's checkpoints again (the build runs this as its evaluation stage):
    python -m ogclip_factory.evaluate --out <work folder of a build> [--val ../datasets/shapes-val]"""
    import argparse

    from .build import DEFAULT_CONFIG, load_models

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out", type=Path, required=True, help="the build's work folder (checkpoints, tokenizer)")
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--val", type=Path, default=ROOT / "datasets" / "shapes-val")
    ap.add_argument("--results", type=Path, default=ROOT / "training" / "results")
    a = ap.parse_args()
    cfg = yaml.safe_load(a.config.read_text())
    seg, shipped, zero_shot = load_models(a.out, cfg)
    run(seg, shipped, zero_shot, Tokenizer(a.out / "tokenizer" / "tokenizer.json"), a.val, a.results, cfg["eval"])


if __name__ == "__main__":
    main()
