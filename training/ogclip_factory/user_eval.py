"""Evaluation of a head trained on a user's data, on the images held out from its training.

Three methods on the same objects, in the same run: the object-guided head, the training-free
masked-crop CLIP baseline, and plain CLIP (the whole frame's embedding for every object of the
frame). Object retrieval image->text over the whole label vocabulary and text->image over the
held-out objects, on the masks the pipeline would make (SAM2 prompted with each object's box);
region classification (image->text R@1) on the dataset's own masks (SAM2's where an object has
none). Descriptions never seen in training are reported as their own subset: on them the head
is zero-shot. Ties count against the query (metrics.py)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import metrics, rle
from .evaluate import heatmap
from .features import interior_point
from .head import ObjectGuidedHead
from .onnx_models import OrtClip
from .user_features import HeadShape, Split, object_inputs, rgb

METHODS = ("object_guided", "crop_clip", "plain_clip")


@torch.no_grad()
def embeddings(head: ObjectGuidedHead, split: Split, source, clip: OrtClip, shape: HeadShape) -> dict[str, torch.Tensor]:
    x = object_inputs(split, source, clip, shape)
    head.eval()
    return {"object_guided": head(x.object_pixels, x.object_mask, x.clip_features), "crop_clip": x.crop_embeds,
            "plain_clip": x.frame_embeds}


def run(head: ObjectGuidedHead, clip: OrtClip, shape: HeadShape, test: Split, text: torch.Tensor, vocabulary: list[str],
        seen: set[str], results: Path, name: str, extra: dict | None = None) -> dict:
    """text [V,E]: every description of the vocabulary; seen: the descriptions trained on."""
    emb = embeddings(head, test, "sam2", clip, shape)
    sims = {k: metrics.similarities(v, text) for k, v in emb.items()}
    unseen = np.array([vocabulary[lab] not in seen for lab in test.labels])
    report: dict = {
        "bundle": name,
        "protocol": __doc__.strip().splitlines(),
        "held_out_images": len(test.images),
        "objects": int(len(test.labels)),
        "vocabulary": len(vocabulary),
        "descriptions_trained_on": len(seen),
        "retrieval": {k: metrics.retrieval(s, test.labels) for k, s in sims.items()},
        "plain_clip_upper_bound": metrics.whole_frame_bound(test.labels, test.frame_of),
        **(extra or {}),
    }
    if unseen.any():
        report["unseen_descriptions"] = {
            "objects": int(unseen.sum()),
            "retrieval": {k: metrics.retrieval(s, test.labels, i2t_queries=unseen,
                                               t2i_captions=sorted({int(x) for x in test.labels[unseen]})) for k, s in sims.items()},
        }
    if test.has_dataset_masks():
        cls = embeddings(head, test, "dataset", clip, shape)
        report["classification"] = {"masks": "dataset (SAM2's from the box where the dataset has none)", **{k: metrics.retrieval(metrics.similarities(v, text), test.labels)["i2t_r1"]
                                                          for k, v in cls.items()}}
    else:
        report["classification"] = {"masks": "sam2 (no held-out object has a dataset mask)",
                                    **{k: report["retrieval"][k]["i2t_r1"] for k in METHODS}}
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}-eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (results / f"{name}-eval.md").write_text(markdown(report))
    n = min(24, len(test.labels))
    norm = torch.nn.functional.normalize
    heatmap(norm(emb["object_guided"][:n], dim=-1), norm(text, dim=-1), torch.from_numpy(test.labels[:n]), vocabulary,
            results / f"{name}-similarity-heatmap.png")
    samples(test, results / f"{name}-segmentation-samples.png")
    write_held_out(test, results / f"{name}-heldout")
    return report


def write_held_out(split: Split, folder: Path) -> Path:
    """The held-out images as a seed-format dataset (paths relative to `folder`), so that
    `ogclip eval <folder> --bundle <bundle> --prompt box` reruns this evaluation through the pipeline."""
    folder.mkdir(parents=True, exist_ok=True)
    images = [{"image_path": os.path.relpath(img.image_path, folder), "width": img.width, "height": img.height,
               "objects": [{"bbox": list(o.bbox), "description": o.description, **({"mask": rle.encode(o.mask)} if o.mask is not None else {})}
                           for o in img.objects]} for img in split.images]
    path = folder / "dataset.json"
    path.write_text(json.dumps({"images": images}, separators=(",", ":")) + "\n")
    return path


def markdown(r: dict) -> str:
    cols = ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "t2i_map", "mean_rank")
    lines = [f"# {r['bundle']}: evaluation on held-out images", "",
             f"{r['held_out_images']} held-out images, {r['objects']} objects, vocabulary of {r['vocabulary']} descriptions "
             f"({r['descriptions_trained_on']} trained on). Written by `python -m ogclip_factory.user_build`.", "",
             "| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for m in METHODS:
        v = r["retrieval"][m]
        lines.append(f"| {m} | " + " | ".join(str(v[c]) for c in cols) + " |")
    b = r["plain_clip_upper_bound"]
    lines += ["", f"Whole-frame bound (best any whole-frame embedding can do): i2t R@1 {b['i2t_r1']}, t2i R@1 {b['t2i_r1']}."]
    if "unseen_descriptions" in r:
        u = r["unseen_descriptions"]
        lines += ["", f"Descriptions never trained on ({u['objects']} objects), image->text R@1: "
                  + ", ".join(f"{m} {u['retrieval'][m]['i2t_r1']}" for m in METHODS) + "."]
    if "checkpoint" in r:
        k = r["checkpoint"]
        lines += ["", f"Head kept: {k['chosen']}, step {k['step']}"
                  + (f" (validation i2t R@1 {k['val_i2t_r1']} on {k['val_images']} images)" if "val_i2t_r1" in k else "") + "."]
    c = r["classification"]
    lines += ["", f"Region classification accuracy over the vocabulary ({c['masks']} masks): "
              + ", ".join(f"{m} {c[m]}" for m in METHODS) + ".", ""]
    return "\n".join(lines)


def samples(split: Split, path: Path, count: int = 8, side: int = 256) -> None:
    """SAM2 masks from the box prompts on the first held-out images, boxes drawn, as a grid."""
    rng = np.random.default_rng(0)
    tiles = []
    for img, f in list(zip(split.images, split.feats))[:count]:
        t = rgb(img.image_path).astype(np.float32)
        for m in f.sam2_masks:
            t[m] = 0.45 * t[m] + 0.55 * rng.uniform(0, 255, 3)
        tile = Image.fromarray(t.astype(np.uint8))
        d = ImageDraw.Draw(tile)
        for o, m in zip(img.objects, f.sam2_masks):
            d.rectangle(list(o.bbox), outline="white")
            if m.any():
                x, y = interior_point(m)
                d.ellipse([x - 3, y - 3, x + 3, y + 3], fill="white", outline="black")
        tile.thumbnail((side, side))
        tiles.append(tile)
    if not tiles:
        return
    grid = Image.new("RGB", (side * 4, side * ((len(tiles) + 3) // 4)), "white")
    for i, t in enumerate(tiles):
        grid.paste(t, ((i % 4) * side, (i // 4) * side))
    grid.save(path)
