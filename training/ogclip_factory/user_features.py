"""Head inputs for a user's labelled images, computed once by the serving ONNX files and cached.

Per image, the expensive parts are cached on disk: SAM2 masks from the box prompts, the CLIP
vision outputs of the whole frame, and the crop baseline's CLIP embeddings. The cache key holds
the model files' hash, the preprocessing and the image's bytes and boxes, so a changed model or
annotation never reuses stale features, and an interrupted pass resumes where it stopped.
Assembling the head inputs from the cache (crops, mask resizes, token pooling) is cheap and done
in memory; an epoch then costs only the head."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
from PIL import Image, ImageOps

from . import preprocess
from .features import ObjectInputs, box_of
from .onnx_models import OrtClip, OrtSam2
from .progress import Progress
from .userdata import DatasetError, OnBad, UserImage

MaskSource = Literal["dataset", "sam2"]


@dataclass
class ImageFeatures:
    sam2_masks: np.ndarray  # [P,H,W] bool: SAM2 prompted with each object's box
    image_embeds: np.ndarray  # [E]
    hidden: np.ndarray  # [T,D] CLIP vision tokens of the whole frame (CLS first)
    crop_sam2: np.ndarray  # [P,E] crop baseline on the SAM2 masks
    crop_dataset: np.ndarray  # [P,E] crop baseline on the dataset's masks (SAM2's where an object has none)
    box_fallbacks: int  # objects whose SAM2 mask was empty and fell back to their box


@dataclass(frozen=True)
class HeadShape:
    object_size: int  # R: the object branch's crop side
    mask_size: int  # M: the mask branch's input side
    crop_spec: dict  # the crop baseline's framing (preprocess.HEAD_CROP by default)
    object_scales: tuple[float, ...] = (1.0,)  # the object branch's crops: the head window times each scale

    def head_crops(self) -> list[dict]:
        return [{**preprocess.HEAD_CROP, "margin": preprocess.CROP_MARGIN * s} for s in self.object_scales]


def rgb(path: Path) -> np.ndarray:
    """[H,W,3] uint8 as displayed: EXIF orientation applied, as the pipeline's decoder does."""
    with Image.open(path) as im:
        return np.array(ImageOps.exif_transpose(im).convert("RGB"))


def box_mask(box: tuple[float, float, float, float], h: int, w: int) -> np.ndarray:
    """The box as a mask: pixels whose centres lie inside it."""
    x1, y1, x2, y2 = box
    ys, xs = np.arange(h)[:, None] + 0.5, np.arange(w)[None, :] + 0.5
    return (xs >= x1) & (xs <= x2) & (ys >= y1) & (ys <= y2)


def dataset_masks(img: UserImage, sam2: np.ndarray) -> list[np.ndarray]:
    """The dataset's mask of each object, SAM2's (from the box) where the dataset has none."""
    return [np.asarray(o.mask, bool) if o.mask is not None else sam2[i] for i, o in enumerate(img.objects)]


class FeatureCache:
    def __init__(self, root: Path, clip: OrtClip, sam2: OrtSam2, shape: HeadShape):
        self.clip, self.sam2, self.shape = clip, sam2, shape
        spec = json.dumps(shape.crop_spec, sort_keys=True)
        self.dir = root / f"{clip.key}-{sam2.key}-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def digest(self, img: UserImage) -> str:
        """The image's bytes, boxes and dataset masks (these change the crop baseline's embeddings)."""
        h = hashlib.sha256(img.image_path.read_bytes())
        h.update(json.dumps([list(o.bbox) for o in img.objects]).encode())
        for o in img.objects:
            h.update(b"-" if o.mask is None else np.packbits(np.asarray(o.mask, bool)).tobytes())
        return h.hexdigest()[:24]

    def _file(self, img: UserImage) -> Path:
        return self.dir / f"{self.digest(img)}.npz"

    def get(self, img: UserImage, frame: np.ndarray) -> ImageFeatures:
        path = self._file(img)
        if path.is_file():
            self.hits += 1
            z = np.load(path)
            h, w = frame.shape[:2]
            masks = np.unpackbits(z["sam2_masks"], count=len(img.objects) * h * w).reshape(len(img.objects), h, w).astype(bool)
            return ImageFeatures(masks, z["image_embeds"], z["hidden"], z["crop_sam2"], z["crop_dataset"], int(z["box_fallbacks"]))
        self.misses += 1
        f = self.compute(img, frame)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, sam2_masks=np.packbits(f.sam2_masks), image_embeds=f.image_embeds, hidden=f.hidden,
                 crop_sam2=f.crop_sam2, crop_dataset=f.crop_dataset, box_fallbacks=f.box_fallbacks)
        tmp.replace(path)  # a killed run never leaves a half-written entry behind
        return f

    @torch.no_grad()
    def compute(self, img: UserImage, frame: np.ndarray) -> ImageFeatures:
        h, w = frame.shape[:2]
        boxes = np.array([o.bbox for o in img.objects], np.float32)
        sam = self.sam2.masks_from_boxes(frame, boxes)  # [P,H,W]
        fallbacks = 0
        for i, o in enumerate(img.objects):
            if not sam[i].any():
                sam[i] = box_mask(o.bbox, h, w)
                fallbacks += 1
        v = self.clip.norm.size
        norm = preprocess.normalise(frame, self.clip.norm.mean, self.clip.norm.std)
        emb, hidden = self.clip.image(preprocess.resize(norm, v, v)[None])

        def crops(masks: list[np.ndarray]) -> np.ndarray:
            px = torch.stack([preprocess.masked_crop(norm, m, v, self.shape.crop_spec) for m in masks])
            return self.clip.image(px)[0].numpy()

        crop_sam = crops(list(sam))
        crop_data = crops(dataset_masks(img, sam)) if any(o.mask is not None for o in img.objects) else crop_sam
        return ImageFeatures(sam, emb[0].numpy(), hidden[0].numpy(), crop_sam, crop_data, fallbacks)


def text_embeddings(clip: OrtClip, vocabulary: list[str], root: Path) -> torch.Tensor:
    """text_embeds [V,E] of every description, cached by the text tower's hash and the vocabulary
    (a free-form dataset can have as many descriptions as objects)."""
    key = hashlib.sha256(json.dumps([clip.key, vocabulary]).encode()).hexdigest()[:24]
    path = root / f"text-{key}.npy"
    if path.is_file():
        return torch.from_numpy(np.load(path))
    out = []
    bar = Progress("text embeddings", len(vocabulary), "descriptions")
    for i in range(0, len(vocabulary), 256):
        out.append(clip.texts(vocabulary[i : i + 256]))
        bar.update(len(out[-1]))
    emb = torch.cat(out) if out else torch.zeros(0, 0)
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, emb.numpy())
    tmp.replace(path)
    return emb


@dataclass
class Split:
    """Every object of a set of images, with its description and frame."""

    images: list[UserImage]
    feats: list[ImageFeatures]
    labels: np.ndarray  # [N] index into the vocabulary
    frame_of: np.ndarray  # [N]

    def has_dataset_masks(self) -> bool:
        return any(o.mask is not None for img in self.images for o in img.objects)

    def masks(self, source: MaskSource) -> list[list[np.ndarray]] | None:
        """Every object's mask from `source`; "dataset" falls back to SAM2's per object, and is
        None when no object of the split has a dataset mask."""
        if source == "dataset" and not self.has_dataset_masks():
            return None
        return [list(f.sam2_masks) if source == "sam2" else dataset_masks(img, f.sam2_masks) for img, f in zip(self.images, self.feats)]


def extract(images: list[UserImage], cache: FeatureCache, vocabulary: list[str], label: str, on_bad: OnBad = "skip",
            log: Callable[[str], None] = print) -> Split:
    """Features of every image; an image whose pixels cannot be decoded (the loader checks only
    its header) is reported and skipped, or raises DatasetError with on_bad "fail"."""
    index = {d: i for i, d in enumerate(vocabulary)}
    kept, feats, labels, frame_of = [], [], [], []
    bar = Progress(f"features ({label})", len(images), "images")
    for img in images:
        try:
            frame = rgb(img.image_path)
        except (OSError, ValueError) as e:
            msg = f"{img.key}: cannot decode the image ({e})"
            if on_bad == "fail":
                raise DatasetError(msg) from e
            log(f"features ({label}): skipped {msg}")
            bar.update()
            continue
        feats.append(cache.get(img, frame))
        for o in img.objects:
            labels.append(index[o.description])
            frame_of.append(len(kept))
        kept.append(img)
        bar.update()
    fallbacks = sum(f.box_fallbacks for f in feats)
    if fallbacks:
        log(f"features ({label}): {fallbacks} object(s) got an empty SAM2 mask from their box; their box is used as the mask")
    return Split(kept, feats, np.array(labels, np.int64), np.array(frame_of, np.int64))


@torch.no_grad()
def object_inputs(split: Split, source: MaskSource, clip: OrtClip, shape: HeadShape) -> ObjectInputs:
    """The head's inputs for every object of the split, on the chosen masks (the pipeline's
    twins: masked crop of the CLIP-normalised frame, full-frame mask resized, tokens pooled under
    the mask + the frame embedding)."""
    masks = split.masks(source)
    if masks is None:
        raise ValueError(f"mask source {source!r}: no object of the split has a dataset mask")
    pixels, mask_in, clip_f, crops, frame_e = [], [], [], [], []
    specs = shape.head_crops()
    for img, f, ms in zip(split.images, split.feats, masks):
        norm = preprocess.normalise(rgb(img.image_path), clip.norm.mean, clip.norm.std)
        emb, hidden = torch.from_numpy(f.image_embeds), torch.from_numpy(f.hidden)
        for m in ms:
            pixels.append(torch.cat([preprocess.masked_crop(norm, m, shape.object_size, c) for c in specs]))  # [3K,R,R]
            mask_in.append(preprocess.mask_input(m, shape.mask_size))  # [1,M,M]
            clip_f.append(preprocess.pool_tokens(hidden, emb, m))  # [D+E]
            frame_e.append(emb)
        crops.append(torch.from_numpy(f.crop_sam2 if source == "sam2" else f.crop_dataset))
    return ObjectInputs(torch.stack(pixels), torch.stack(mask_in), torch.stack(clip_f), torch.cat(crops), torch.stack(frame_e))


def boxes_of(masks: list[np.ndarray]) -> np.ndarray:
    return np.array([box_of(m) for m in masks], np.float32)
