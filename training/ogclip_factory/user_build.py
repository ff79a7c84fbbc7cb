"""An object-guided head for any SAM2 + CLIP, trained on a user's own labelled images, as a
bundle the pipeline runs unchanged:

    python -m ogclip_factory.user_build --clip <dir> --sam2 <dir> --data <dataset.json | instances.json> \\
        --out <bundle dir> [--work <dir>] [--config configs/user-head.yaml]

--clip / --sam2 take the ONNX files the pipeline serves (a bundle folder, or the public Xenova /
onnx-community layouts) or a local `transformers` checkpoint folder (CLIPModel / Sam2Model),
which is first exported to the public ONNX layout. --data takes the seed project's dataset JSON
(masks optional) or a COCO instances file. Steps: data (bad entries reported) -> split by image ->
features from the serving ONNX files (cached in --work, keyed by model hash) -> head training
(resumes from --work) -> evaluation on the held-out images beside the crop baseline and plain
CLIP -> bundle (ONNX files copied, head exported, labels, metrics, parity reference)."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
import yaml

from . import export, metrics, train_head, user_eval, userdata
from .head import ObjectGuidedHead
from .onnx_models import OnnxFormatError, OrtClip, OrtSam2, external_files, variant_path
from .preprocess import CROP_MARGIN, CROP_PAD, HEAD_CROP
from .progress import logger
from .trainer import LoopConfig, train
from .user_features import FeatureCache, HeadShape, Split, extract, object_inputs, text_embeddings

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "user-head.yaml"
HEAD_KEYS = {"steps": int, "batch": int, "lr": float, "weight_decay": float, "warmup": int, "checkpoint_every": int,
             "fusion": str, "object_size": int, "mask_size": int, "object_features": int, "mask_features": int,
             "hidden": int, "hard_negative_weight": float, "hard_negatives": int, "masks": list, "object_scales": list}
PARITY_FRAMES = 8


class BuildError(SystemExit):
    """A problem with the inputs; the message says what to fix."""


def read_config(path: Path) -> dict:
    """Every key checked up front: a typo must not surface after the features are computed."""
    try:
        cfg = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise BuildError(f"{path}: cannot read the config ({e})") from e
    head, split = cfg.get("head"), cfg.get("split")
    if not isinstance(head, dict) or not isinstance(split, dict):
        raise BuildError(f"{path}: needs sections 'head' and 'split' (see training/configs/user-head.yaml)")
    problems = [f"'{k}' is not a known section" for k in cfg if k not in ("seed", "split", "head")]
    problems += [f"split.{k} is not a known key" for k in split if k not in ("test_fraction", "val_fraction")]
    problems += [f"head.{k} missing" for k in HEAD_KEYS if k not in head]
    problems += [f"head.{k} is not a known key" for k in head if k not in HEAD_KEYS]
    problems += [f"head.{k} must be {t.__name__}" for k, t in HEAD_KEYS.items()
                 if k in head and not isinstance(head[k], (int, float) if t is float else t)]
    problems += [f"head.{k} must be >= 1" for k in ("steps", "batch", "checkpoint_every", "object_size", "object_features",
                                                   "mask_features", "hidden") if isinstance(head.get(k), int) and head[k] < 1]
    if not isinstance(cfg.get("seed", 0), int):
        problems.append("seed must be an integer")
    if head.get("fusion") not in ("mlp", "attention"):
        problems.append("head.fusion must be mlp or attention")
    if not set(head.get("masks") or []) <= {"dataset", "sam2"} or not head.get("masks"):
        problems.append("head.masks must be a non-empty list of dataset, sam2")
    scales = head.get("object_scales")
    if not isinstance(scales, list) or not scales or not all(isinstance(v, (int, float)) and 0 < v <= 8 for v in scales):
        problems.append("head.object_scales must be a non-empty list of numbers in (0, 8], e.g. [1] or [0.5, 1, 2]")
    if head.get("mask_size") != 64:
        problems.append("head.mask_size must be 64 (the mask branch flattens a 4x4 map of a 64x64 mask)")
    tf = split.get("test_fraction")
    if not isinstance(tf, (int, float)) or not 0 < tf < 1:
        problems.append("split.test_fraction must be a number in (0, 1)")
    vf = split.get("val_fraction", 0)
    if not isinstance(vf, (int, float)) or not 0 <= vf < 1:
        problems.append("split.val_fraction must be a number in [0, 1)")
    if problems:
        raise BuildError(f"{path}: " + "; ".join(problems))
    return cfg


def _checkpoint_kind(folder: Path) -> str | None:
    """A transformers checkpoint's model_type, or None for a folder that is not one."""
    cfg = folder / "config.json"
    if not cfg.is_file():
        return None
    try:
        doc = json.loads(cfg.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise BuildError(f"{cfg}: cannot read this checkpoint's config ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("model_type"), str):
        raise BuildError(f"{cfg}: a transformers config names its model_type; this one does not")
    return doc["model_type"]


Kind = Literal["clip", "sam2"]
Dtype = Literal["fp32", "fp16", "quantized"]


def resolve_models(kind: Kind, path: Path, work: Path, dtype: Dtype, log: Callable[[str], None]) -> tuple[dict, Path]:
    """-> (bundle.json section, folder its paths are relative to)."""
    if not path.is_dir():
        raise BuildError(f"--{kind} {path}: not a folder (give a bundle folder, a public ONNX layout or a transformers checkpoint)")
    if (path / "bundle.json").is_file():
        section = dict(json.loads((path / "bundle.json").read_text())[kind])
        if dtype != "fp32":
            section["dtype"] = dtype
        return section, path
    model_type = _checkpoint_kind(path)
    if model_type is not None:
        from . import hf_export

        if model_type != kind:
            raise BuildError(f"--{kind} {path}: a transformers checkpoint of model_type {model_type!r}, expected {kind!r}")
        h = hashlib.sha256()
        for f in sorted(path.iterdir()):
            if f.is_file():
                h.update(f.name.encode() + str(f.stat().st_size).encode() + str(f.stat().st_mtime_ns).encode())
        target = work / f"exported-{kind}-{h.hexdigest()[:12]}"
        if not (target / ".complete").is_file():
            log(f"exporting the transformers {kind} checkpoint {path} to ONNX ({target})")
            shutil.rmtree(target, ignore_errors=True)
            (hf_export.export_clip if kind == "clip" else hf_export.export_sam2)(path, target)
            (target / ".complete").touch()
        path = target
    from . import layouts

    try:
        section = layouts.clip_section(path, dtype) if kind == "clip" else layouts.sam2_section(path, dtype)
    except (ValueError, FileNotFoundError) as e:
        raise BuildError(f"--{kind} {path}: {e}") from e
    return section, path


def load_data(a: argparse.Namespace, log: Callable[[str], None]) -> userdata.Loaded:
    try:
        loaded = userdata.load(a.data, on_bad=a.on_bad, images_dir=a.images, template=a.template)
    except userdata.DatasetError as e:
        raise BuildError(str(e)) from e
    log(userdata.report(loaded))
    if len(loaded.images) < 2:
        raise BuildError(f"{a.data}: {len(loaded.images)} usable image(s); at least 2 are needed (one to train, one to evaluate)")
    return loaded


def place_models(section: dict, root: Path, out: Path, sub: Literal["clip", "sam2"], keys: tuple[str, ...],
                 mode: Literal["copy", "reference"]) -> dict:
    """The section's files copied under out/sub (dtype variant and the external data it names
    included), or, with mode "reference", named by their path relative to the bundle (large
    models stay put). A copy replaces out/sub as a whole, so a rebuild with other models never
    keeps a stale file of the same name; the sources may lie inside out/sub."""
    new = dict(section)
    dtype = section.get("dtype", "fp32")
    stage = out / f".{sub}.new"
    shutil.rmtree(stage, ignore_errors=True)
    for k in keys:
        src = root / section[k]
        used = variant_path(src, dtype) if k in ("vision", "text", "encoder", "decoder") else src
        if not used.is_file():
            raise BuildError(f"{used}: missing (named by the {sub} section, dtype {dtype})")
        files = [used, *external_files(used)]
        if missing := [f for f in files if not f.is_file()]:
            raise BuildError(f"{used}: its external data file(s) {', '.join(str(f) for f in missing)} are missing")
        if mode == "reference":
            new[k] = os.path.relpath(src.resolve(), out.resolve())
            continue
        for f in files:
            target = stage / f.relative_to(used.parent)  # external data keeps its location relative to the model
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, target)
        new[k] = f"{sub}/{src.name}"
    if mode == "copy":
        shutil.rmtree(out / sub, ignore_errors=True)
        stage.rename(out / sub)
    return new


class CheckpointChooser:
    """Scores the head on the validation images at every checkpoint (image->text R@1 over the
    training descriptions, SAM2 masks from the boxes, as the evaluation) and keeps the best
    state on disk, so that a small dataset's overfitting does not decide what ships."""

    def __init__(self, head: ObjectGuidedHead, val: Split, clip: OrtClip, shape: HeadShape, text: torch.Tensor,
                 vocabulary: list[str], index: dict[str, int], path: Path, device: torch.device, log: Callable[[str], None]):
        self.head, self.text, self.path, self.device, self.log = head, text, path, device, log
        self.x = object_inputs(val, "sam2", clip, shape)
        self.labels = np.array([index.get(vocabulary[lab], -1) for lab in val.labels])  # -1: not a training description
        self.images = len(val.images)
        # A resumed run continues from the best score already on disk.
        self.best = torch.load(path, weights_only=False)["score"] if path.is_file() else -1.0

    @torch.no_grad()
    def __call__(self, step: int) -> None:
        x, d = self.x, self.device
        emb = self.head(x.object_pixels.to(d), x.object_mask.to(d), x.clip_features.to(d)).cpu()
        score = metrics.retrieval(metrics.similarities(emb, self.text), self.labels)["i2t_r1"]
        self.log(f"validation at step {step}: i2t R@1 {score} (best so far {max(self.best, score)})")
        if score > self.best:  # ties keep the earlier, less trained state
            self.best = score
            torch.save({"step": step, "score": score, "state": self.head.state_dict()}, self.path)

    def restore_best(self) -> dict:
        saved = torch.load(self.path, weights_only=False, map_location=self.device)
        self.head.load_state_dict(saved["state"])
        return {"chosen": "best validation i2t R@1", "step": saved["step"], "val_i2t_r1": saved["score"],
                "val_images": self.images, "val_queries": int((self.labels >= 0).sum())}


@torch.no_grad()
def parity_reference(head: ObjectGuidedHead, clip: OrtClip, shape: HeadShape, test: Split, out: Path) -> dict:
    """The factory's embeddings of the first held-out images, objects prompted by their boxes,
    for the pipeline's parity test (cosine >= 0.9999 expected)."""
    part = Split(test.images[:PARITY_FRAMES], test.feats[:PARITY_FRAMES], *_labels_of(test, PARITY_FRAMES))
    x = object_inputs(part, "sam2", clip, shape)
    emb = torch.nn.functional.normalize(head(x.object_pixels, x.object_mask, x.clip_features), dim=-1)
    crop = torch.nn.functional.normalize(x.crop_embeds, dim=-1)
    frames, k = [], 0
    for img, f in zip(part.images, part.feats):
        objs = []
        for o, m in zip(img.objects, f.sam2_masks):
            objs.append({"box": [float(v) for v in o.bbox], "mask_area": int(m.sum()),
                         "embedding": [round(float(v), 7) for v in emb[k]], "crop_embedding": [round(float(v), 7) for v in crop[k]]})
            k += 1
        frames.append({"image_path": os.path.relpath(img.image_path, out), "objects": objs})
    return {"prompt": "box", "frames": frames}


def _labels_of(split: Split, frames: int) -> tuple[np.ndarray, np.ndarray]:
    keep = split.frame_of < frames
    return split.labels[keep], split.frame_of[keep]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, required=True)
    ap.add_argument("--sam2", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True, help="seed-format dataset JSON or COCO instances JSON")
    ap.add_argument("--out", type=Path, required=True, help="the bundle folder to write")
    ap.add_argument("--work", type=Path, help="feature cache, exports and checkpoints (default: <out>.work)")
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--images", type=Path, help="COCO: the images folder (default: the JSON's folder)")
    ap.add_argument("--template", default="a photo of a {}", help="COCO: category name -> description")
    ap.add_argument("--on-bad", choices=["skip", "fail"], default="skip", help="bad dataset entries: report and skip, or stop")
    ap.add_argument("--clip-dtype", choices=["fp32", "fp16", "quantized"], default="fp32")
    ap.add_argument("--sam2-dtype", choices=["fp32", "fp16", "quantized"], default="fp32")
    ap.add_argument("--models", choices=["copy", "reference"], default="copy",
                    help="copy the SAM2 / CLIP files into the bundle, or name them by relative path")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                    help="where the head trains: auto = CUDA when torch sees a GPU, else CPU")
    ap.add_argument("--name", help="bundle name (default: the --out folder's name)")
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--results", type=Path, help="where the evaluation files go (default: <out>/eval)")
    a = ap.parse_args(argv)
    cfg = read_config(a.config)
    hc = cfg["head"]
    name = a.name or a.out.resolve().name
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise BuildError(f"bundle name {name!r}: use letters, digits, '.', '_' and '-'")
    work = a.work or a.out.with_name(a.out.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    seed = int(cfg.get("seed", 0))
    torch.manual_seed(seed)
    log = logger(work / "build.log")

    t_all = time.time()
    clip_section, clip_root = resolve_models("clip", a.clip, work, a.clip_dtype, log)
    sam2_section, sam2_root = resolve_models("sam2", a.sam2, work, a.sam2_dtype, log)
    try:
        clip = OrtClip(clip_section, clip_root)
        sam2 = OrtSam2(sam2_section, sam2_root)
    except (OnnxFormatError, FileNotFoundError) as e:
        raise BuildError(str(e)) from e
    log(f"models: CLIP {clip.vision_path} (image {clip.norm.size}), SAM2 {sam2.encoder_path} (input {sam2.norm.size})")

    loaded = load_data(a, log)
    train_imgs, test_imgs = userdata.split_by_image(loaded.images, float(cfg["split"]["test_fraction"]), seed)
    val_imgs: list[userdata.UserImage] = []
    vf = float(cfg["split"].get("val_fraction", 0))
    if vf > 0 and len(train_imgs) >= 2:
        # Images that choose the checkpoint: never trained on, never in the held-out evaluation.
        train_imgs, val_imgs = userdata.split_by_image(train_imgs, vf, seed + 1)
    vocabulary = loaded.vocabulary()
    seen = sorted({o.description for i in train_imgs for o in i.objects})
    log(f"data: {len(loaded.images)} images ({len(train_imgs)} train, {len(val_imgs)} validation, {len(test_imgs)} held out), "
        f"{sum(len(i.objects) for i in loaded.images)} objects, {len(vocabulary)} descriptions ({len(seen)} in training)")

    t = time.time()
    text_all = text_embeddings(clip, vocabulary, work / "features")  # [V,E]
    shape = HeadShape(int(hc["object_size"]), int(hc["mask_size"]), dict(HEAD_CROP), tuple(float(v) for v in hc["object_scales"]))
    cache = FeatureCache(work / "features", clip, sam2, shape)
    try:
        train_split = extract(train_imgs, cache, vocabulary, "train", a.on_bad, log)
        test_split = extract(test_imgs, cache, vocabulary, "held out", a.on_bad, log)
        val_split = extract(val_imgs, cache, vocabulary, "validation", a.on_bad, log) if val_imgs else None
    except userdata.DatasetError as e:
        raise BuildError(str(e)) from e
    if not train_split.images or not test_split.images:
        raise BuildError("no readable images left on one side of the split")
    log(f"features: {cache.hits} cached, {cache.misses} computed ({time.time() - t:.0f}s)")
    e = int(train_split.feats[0].image_embeds.shape[0])
    if text_all.shape[1] != e:
        raise BuildError(f"CLIP towers disagree: image embeddings have {e} dims, text embeddings {text_all.shape[1]}")
    clip_dim = int(train_split.feats[0].hidden.shape[1]) + e

    # Training: descriptions of the training images only; held-out-only descriptions stay unseen.
    index = {d: i for i, d in enumerate(seen)}
    local = torch.tensor([index[vocabulary[lab]] for lab in train_split.labels])
    text_train = text_all[[vocabulary.index(d) for d in seen]]
    sources = [s for s in hc["masks"] if train_split.masks(s) is not None]
    if not sources:
        raise BuildError("head.masks lists only 'dataset' but no training object has a dataset mask: add 'sam2'")
    variants = [object_inputs(train_split, s, clip, shape) for s in sources]
    head = ObjectGuidedHead(clip_dim, e, hc["fusion"], fo=int(hc["object_features"]), fm=int(hc["mask_features"]),
                            hidden=int(hc["hidden"]), object_scales=len(shape.object_scales))
    data = train_head.HeadData(variants, local, train_split.frame_of)
    hard = train_head.nearest_descriptions(text_train, int(hc["hard_negatives"]))
    device = torch.device("cuda" if a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available()) else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BuildError("--device cuda: torch sees no CUDA device here")
    head.to(device)
    step = train_head.make_object_step(head, text_train, data, hard, int(hc["batch"]), float(hc["hard_negative_weight"]), device)
    # The checkpoint belongs to these models, settings and training data (image bytes, boxes,
    # masks and descriptions): a corrected label must retrain, not resume a finished head.
    data_key = [[cache.digest(i), [o.description for o in i.objects]] for i in train_split.images + (val_split.images if val_split else [])]
    key = hashlib.sha256(json.dumps([clip.key, sam2.key, hc, seed, sources, data_key], sort_keys=True).encode()).hexdigest()[:12]
    loop = LoopConfig(steps=int(hc["steps"]), lr=float(hc["lr"]), weight_decay=float(hc["weight_decay"]), warmup=int(hc["warmup"]),
                      checkpoint_every=int(hc["checkpoint_every"]), log_every=max(1, min(50, int(hc["steps"]) // 10)), seed=seed)
    t = time.time()
    log(f"head on {device.type}: {sum(p.numel() for p in head.parameters())} parameters, inputs from {' + '.join(sources)} masks, "
        f"{len(local)} objects, {len(seen)} descriptions")
    chooser = CheckpointChooser(head, val_split, clip, shape, text_train, vocabulary, index,
                                work / "checkpoints" / f"head-{key}.best.pt", device, log) if val_split else None
    train(f"head-{key}", head, step, loop, work / "checkpoints", log, chooser)
    selection = chooser.restore_best() if chooser else {"chosen": "last step", "step": loop.steps}
    head.cpu()  # evaluation and export run on the host, as the parity reference must
    log(f"head trained on {device.type} ({time.time() - t:.0f}s); kept: {json.dumps(selection)}")

    results = a.results or a.out / "eval"
    report = user_eval.run(head, clip, shape, test_split, text_all, vocabulary, set(seen), results, name, {"checkpoint": selection})
    log("eval (held-out images, i2t R@1): " + ", ".join(f"{m} {v['i2t_r1']}" for m, v in report["retrieval"].items()))
    r = report["retrieval"]
    if r["object_guided"]["i2t_r1"] < r["crop_clip"]["i2t_r1"]:
        # Measured on the shapes: 300 labelled images gave a head below the crop baseline, 1500 above it.
        log(f"WARNING: on the held-out images the head ({r['object_guided']['i2t_r1']}) is below the training-free crop "
            f"baseline ({r['crop_clip']['i2t_r1']}): serve this bundle with embedder crop, or label more images "
            f"({len(train_split.images)} trained the head)")

    out = a.out
    if out.exists():
        shutil.rmtree(out / "head", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    clip_new = place_models(clip_section, clip_root, out, "clip", ("vision", "text", "tokenizer")
                            + (("tokenizer_config",) if "tokenizer_config" in clip_section else ()), a.models)
    sam2_new = place_models(sam2_section, sam2_root, out, "sam2", ("encoder", "decoder"), a.models)
    diffs = export.export_head(head, out, torch.Generator().manual_seed(0), shape.object_size, shape.mask_size)
    log(f"head export parity (max abs diff): {json.dumps(diffs)}")
    manifest = {
        "name": name, "version": a.version, "format": 1, "sam2": sam2_new, "clip": clip_new,
        "head": {"object_branch": "head/object_branch.onnx", "mask_branch": "head/mask_branch.onnx", "fusion": "head/fusion.onnx",
                 "projection": "head/projection.onnx", "object_size": shape.object_size, "mask_size": shape.mask_size,
                 "crop_margin": CROP_MARGIN, "crop_pad": CROP_PAD,
                 **({"object_scales": list(shape.object_scales)} if shape.object_scales != (1.0,) else {}),
                 "logit_scale": round(float(head.logit_scale.detach().exp().clamp(max=100)), 4)},
        "crop_baseline": dict(HEAD_CROP),
        "embedding_dim": e,
        "labels": vocabulary,
        "metrics": {"source": f"{name}-eval.json, written with the pictures by python -m ogclip_factory.user_build (--results)",
                    "retrieval": report["retrieval"], "classification_accuracy": report["classification"]},
    }
    (out / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "parity.json").write_text(json.dumps(parity_reference(head, clip, shape, test_split, out), separators=(",", ":")) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    log(f"bundle written to {out} ({size / 1e6:.1f} MB) in {time.time() - t_all:.0f}s; run it with "
        f"`ogclip run <topology> ` whose model.bundle is {out} and embedder object-guided")


if __name__ == "__main__":
    main(sys.argv[1:])
