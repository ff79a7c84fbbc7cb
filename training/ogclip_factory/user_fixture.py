"""A small labelled dataset in the seed project's format, for the tests of the user-data path:

    python -m ogclip_factory.user_fixture --out ../test/fixtures/user-data

Shapes scenes placed on a non-square canvas (so that box and mask scaling are exercised in x and
y separately), every object with a box and a description; the first half of the images carry
COCO RLE masks, the second half none (SAM2 makes them from the box)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import rle, scenes

CANVAS = (320, 240)  # width, height
FIRST_SEED = 6_000_000  # outside every seed range of pool.SPLITS


def write(out: Path, count: int = 12, with_masks: int | None = None) -> Path:
    with_masks = count // 2 if with_masks is None else with_masks
    (out / "images").mkdir(parents=True, exist_ok=True)
    w, h = CANVAS
    records = []
    for i in range(count):
        s = scenes.generate(FIRST_SEED + i)
        dx, dy = (w - scenes.FRAME) // 2 + (i % 3) * 8 - 8, (h - scenes.FRAME) // 2 if h > scenes.FRAME else 0
        canvas = np.full((h, w, 3), 96, np.uint8)
        sh = min(scenes.FRAME, h)
        canvas[dy : dy + sh, dx : dx + scenes.FRAME] = s.image[:sh]
        objects = []
        for o in s.objects:
            m = np.zeros((h, w), bool)
            m[dy : dy + sh, dx : dx + scenes.FRAME] = o.mask[:sh]
            if not m.any():
                continue
            ys, xs = np.nonzero(m)
            obj = {"bbox": [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)], "description": o.description}
            if i < with_masks:
                obj["mask"] = rle.encode(m)
            objects.append(obj)
        name = f"images/img-{i:03d}.jpg"
        Image.fromarray(canvas).save(out / name, quality=85, subsampling=0)
        records.append({"image_path": name, "objects": objects})
    path = out / "dataset.json"
    path.write_text(json.dumps({"images": records}, separators=(",", ":")) + "\n")
    return path


def real_size_checkpoints(out: Path) -> tuple[Path, Path]:
    """Random-weight `transformers` checkpoints at real size (CLIP ViT-B/32, SAM2.1 hiera-tiny),
    saved with save_pretrained: what a user's downloaded checkpoint folders look like, for the
    real-size run of the user path (scripts/user-build-real-size.sh). Never committed."""
    from transformers import CLIPConfig, CLIPModel

    from .clip import build_tokenizer
    from .fixtures import sam2_model

    torch.manual_seed(0)
    clip_dir, sam2_dir = out / "clip-vit-base-patch32-random", out / "sam2.1-hiera-tiny-random"
    CLIPModel(CLIPConfig()).eval().save_pretrained(clip_dir)  # the defaults are ViT-B/32
    build_tokenizer(clip_dir)
    sam2_model(real_size=True).save_pretrained(sam2_dir)
    return clip_dir, sam2_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--with-masks", type=int, help="images carrying masks (default: the first half)")
    ap.add_argument("--checkpoints", type=Path, help="also save real-size random transformers checkpoints here")
    a = ap.parse_args()
    print(write(a.out, a.count, a.with_masks))
    if a.checkpoints:
        for p in real_size_checkpoints(a.checkpoints):
            print(p)


if __name__ == "__main__":
    main()
