"""The dataset JSON of the seed project (images -> objects with bbox and description), extended
with a COCO RLE `mask` per object: writing synthetic splits and loading them with validation."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import rle, scenes


class DatasetError(ValueError):
    """A dataset entry that cannot be used; the message names the entry and what is wrong."""


@dataclass
class Entry:
    image_path: Path
    bboxes: list[list[float]]
    descriptions: list[str]
    masks: list[np.ndarray]


def write_split(out: Path, first_seed: int, count: int, image_format: str = "jpeg") -> Path:
    """Generate `count` scenes with seeds first_seed.. and write images + dataset.json."""
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(count):
        seed = first_seed + i
        scene = scenes.generate(seed)
        ext = "jpg" if image_format == "jpeg" else "png"
        name = f"frame-{i:05d}.{ext}"
        pil = Image.fromarray(scene.image)
        if image_format == "jpeg":
            # 4:4:4 keeps colour edges sharp; quality 85 keeps the split small.
            pil.save(images_dir / name, quality=85, subsampling=0)
        else:
            pil.save(images_dir / name)
        records.append(
            {
                "image_path": f"images/{name}",
                "seed": seed,
                "width": scenes.FRAME,
                "height": scenes.FRAME,
                "objects": [
                    {"bbox": o.bbox, "description": o.description, "mask": rle.encode(o.mask)}
                    for o in scene.objects
                ],
            }
        )
    path = out / "dataset.json"
    path.write_text(json.dumps({"images": records}, separators=(",", ":")))
    return path


def _check_bbox(bbox: object, where: str) -> list[float]:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
        raise DatasetError(f"{where}: bbox must be [x1, y1, x2, y2] numbers, got {bbox!r}")
    x1, y1, x2, y2 = (float(v) for v in bbox)
    if not (x2 > x1 and y2 > y1):
        raise DatasetError(f"{where}: bbox {bbox!r} must have x2 > x1 and y2 > y1")
    return [x1, y1, x2, y2]


def load(path: Path) -> list[Entry]:
    """Load and validate a dataset JSON; raises DatasetError naming the first bad entry."""
    doc = json.loads(Path(path).read_text())
    root = Path(path).parent
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DatasetError(f"{path}: expected an object with an 'images' list")
    entries = []
    for i, rec in enumerate(doc["images"]):
        where = f"{path}: images[{i}]"
        ip = rec.get("image_path") if isinstance(rec, dict) else None
        if not isinstance(ip, str) or not ip:
            raise DatasetError(f"{where}: missing image_path")
        image_path = root / ip
        if not image_path.is_file():
            raise DatasetError(f"{where}: image {ip!r} does not exist")
        objs = rec.get("objects")
        if not isinstance(objs, list) or not objs:
            raise DatasetError(f"{where}: 'objects' must be a non-empty list")
        bboxes, descs, masks = [], [], []
        for j, o in enumerate(objs):
            w = f"{where}.objects[{j}]"
            bboxes.append(_check_bbox(o.get("bbox"), w))
            d = o.get("description")
            if not isinstance(d, str) or not d.strip():
                raise DatasetError(f"{w}: description must be a non-empty string")
            descs.append(d.strip())
            m = o.get("mask")
            if m is None:
                raise DatasetError(f"{w}: mask (COCO RLE) is required for training")
            try:
                masks.append(rle.decode(m))
            except (KeyError, TypeError, ValueError) as e:
                raise DatasetError(f"{w}: bad mask RLE ({e})") from e
        entries.append(Entry(image_path, bboxes, descs, masks))
    return entries


def main() -> None:
    ap = argparse.ArgumentParser(description="Write a synthetic shapes split (images + dataset.json)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--first-seed", type=int, default=1_000_000)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--format", choices=["jpeg", "png"], default="jpeg")
    a = ap.parse_args()
    print(write_split(a.out, a.first_seed, a.count, a.format))


if __name__ == "__main__":
    main()
