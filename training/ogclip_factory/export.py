"""ONNX export of every part with a dynamic batch axis, an onnxruntime-vs-PyTorch parity check
on each file, and the bundle folder the pipeline loads (bundle.json + ONNX + tokenizer)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image
from torch import nn

from . import dataset, features, preprocess, scenes
from .clip import CONTEXT, TinyClip, Tokenizer
from .head import ObjectGuidedHead
from .segmenter import Segmenter

OPSET = 17
PARITY_TOL = 1e-4
PARITY_FRAMES = 20


class _Encoder(nn.Module):
    def __init__(self, seg: Segmenter):
        super().__init__()
        self.enc = seg.encoder

    def forward(self, pixel_values):
        return self.enc(pixel_values)


class _Vision(nn.Module):
    def __init__(self, clip: TinyClip):
        super().__init__()
        self.v = clip.vision

    def forward(self, pixel_values):
        return self.v(pixel_values)


class _Text(nn.Module):
    def __init__(self, clip: TinyClip):
        super().__init__()
        self.t = clip.text

    def forward(self, input_ids):
        return self.t(input_ids)


class _Fusion(nn.Module):
    def __init__(self, head: ObjectGuidedHead):
        super().__init__()
        self.f = head.fusion

    def forward(self, object_features, mask_features, clip_features):
        return self.f(object_features, mask_features, clip_features)


def export_one(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: dict) -> float:
    """Export, then run the file in onnxruntime on the same inputs; returns the max abs diff."""
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=OPSET, dynamo=False)
    with torch.no_grad():
        ref = module(*args)
    ref = ref if isinstance(ref, tuple) else (ref,)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(outputs, {n: a.numpy() for n, a in zip(inputs, args)})
    diff = max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref))
    if diff > PARITY_TOL:
        raise AssertionError(f"{path.name}: onnxruntime differs from PyTorch by {diff:.2e} (> {PARITY_TOL})")
    return diff


def export_parts(seg: Segmenter, clip: TinyClip, head: ObjectGuidedHead, out: Path) -> dict[str, float]:
    # Frozen transformer layers take PyTorch's fused fast path, which has no ONNX export.
    torch.backends.mha.set_fastpath_enabled(False)
    g = torch.Generator().manual_seed(0)
    s = preprocess.SAM_SIZE
    pix = torch.randn(2, 3, s, s, generator=g)
    with torch.no_grad():
        e0, e1, e2 = seg.encoder(pix)
    emb_names = ["image_embeddings.0", "image_embeddings.1", "image_embeddings.2"]
    diffs = {}
    diffs["sam2/vision_encoder.onnx"] = export_one(
        _Encoder(seg), (pix,), out / "sam2" / "vision_encoder.onnx", ["pixel_values"], emb_names,
        {"pixel_values": {0: "batch"}, **{n: {0: "batch"} for n in emb_names}})
    pts = torch.rand(2, 3, 2, 2, generator=g) * s
    lab = torch.tensor([[[1, -1], [1, 0], [-1, -1]], [[1, 1], [1, -1], [-1, -1]]], dtype=torch.int64)
    box = torch.tensor([[[0, 0, 0, 0], [0, 0, 0, 0], [40, 50, 120, 130]]] * 2, dtype=torch.float32)
    diffs["sam2/prompt_encoder_mask_decoder.onnx"] = export_one(
        seg.decoder, (pts, lab, box, e0, e1, e2), out / "sam2" / "prompt_encoder_mask_decoder.onnx",
        ["input_points", "input_labels", "input_boxes", *emb_names], ["iou_scores", "pred_masks", "object_score_logits"],
        {"input_points": {0: "batch", 1: "prompts", 2: "points"}, "input_labels": {0: "batch", 1: "prompts", 2: "points"},
         "input_boxes": {0: "batch", 1: "boxes"}, **{n: {0: "batch"} for n in emb_names},
         "iou_scores": {0: "batch", 1: "prompts"}, "pred_masks": {0: "batch", 1: "prompts"}, "object_score_logits": {0: "batch", 1: "prompts"}})
    v = preprocess.CLIP_SIZE
    diffs["clip/vision_model.onnx"] = export_one(
        _Vision(clip), (torch.randn(3, 3, v, v, generator=g),), out / "clip" / "vision_model.onnx", ["pixel_values"],
        ["image_embeds", "last_hidden_state"], {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}, "last_hidden_state": {0: "batch"}})
    ids = torch.full((2, CONTEXT), 49407, dtype=torch.int64)
    ids[:, 0] = 49406
    ids[0, 1:4] = torch.tensor([320, 2442, 736])
    diffs["clip/text_model.onnx"] = export_one(
        _Text(clip), (ids,), out / "clip" / "text_model.onnx", ["input_ids"], ["text_embeds", "last_hidden_state"],
        {"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}, "last_hidden_state": {0: "batch"}})
    diffs.update(export_head(head, out, g))
    return diffs


def export_head(head: ObjectGuidedHead, out: Path, g: torch.Generator, object_size: int = preprocess.CROP_SIZE,
                mask_size: int = preprocess.MASK_SIZE) -> dict[str, float]:
    """The head's four parts under out/head/, each checked against PyTorch in onnxruntime."""
    head.eval()
    r, m = object_size, mask_size
    op = torch.randn(4, 3 * head.object_scales, r, r, generator=g)
    om = (torch.rand(4, 1, m, m, generator=g) > 0.7).float()
    with torch.no_grad():
        of, mf = head.object_branch(op), head.mask_branch(om)
    cf = torch.randn(4, head.fusion_inputs[2], generator=g)
    with torch.no_grad():
        fused = head.fusion(of, mf, cf)
    b = {0: "batch"}
    diffs = {}
    diffs["head/object_branch.onnx"] = export_one(head.object_branch, (op,), out / "head" / "object_branch.onnx",
                                                  ["object_pixels"], ["object_features"], {"object_pixels": b, "object_features": b})
    diffs["head/mask_branch.onnx"] = export_one(head.mask_branch, (om,), out / "head" / "mask_branch.onnx",
                                                ["object_mask"], ["mask_features"], {"object_mask": b, "mask_features": b})
    diffs["head/fusion.onnx"] = export_one(_Fusion(head), (of, mf, cf), out / "head" / "fusion.onnx",
                                           ["object_features", "mask_features", "clip_features"], ["fused"],
                                           {"object_features": b, "mask_features": b, "clip_features": b, "fused": b})
    diffs["head/projection.onnx"] = export_one(head.projection, (fused,), out / "head" / "projection.onnx",
                                               ["fused"], ["embeds"], {"fused": b, "embeds": b})
    return diffs


@torch.no_grad()
def parity_reference(seg: Segmenter, clip: TinyClip, head: ObjectGuidedHead, val: Path, crop_spec: dict = preprocess.HEAD_CROP) -> dict:
    """PyTorch embeddings of the first validation frames, prompted by one click per object,
    for the pipeline's parity test (cosine >= 0.9999 expected); crops framed by `crop_spec`."""
    entries = dataset.load(val / "dataset.json")[:PARITY_FRAMES]
    frames = []
    for e in entries:
        pts = [features.interior_point(m) for m in e.masks]
        img = np.array(Image.open(e.image_path).convert("RGB"))
        masks = features.segment(seg, img, np.array(pts))
        x = features.object_inputs(clip, [img], [list(masks)], crop_spec)
        emb = torch.nn.functional.normalize(head(x.object_pixels, x.object_mask, x.clip_features), dim=-1)
        crop = torch.nn.functional.normalize(x.crop_embeds, dim=-1)
        frames.append({
            "image_path": str(e.image_path.relative_to(val)),
            "objects": [{"point": list(p), "mask_area": int(m.sum()), "embedding": [round(float(v), 7) for v in em],
                         "crop_embedding": [round(float(v), 7) for v in c]}
                        for p, m, em, c in zip(pts, masks, emb, crop)],
        })
    return {"dataset": "datasets/shapes-val", "frames": frames}


def bundle(seg: Segmenter, clip: TinyClip, head: ObjectGuidedHead, tokenizer_dir: Path, out: Path, report: dict, val: Path,
           log: Callable[[str], None] = print, name: str = "ogclip-shapes-tiny", version: str = "0.1.0") -> Path:
    for m in (seg, clip, head):
        m.eval()
    if out.exists():
        shutil.rmtree(out)
    diffs = export_parts(seg, clip, head, out)
    log(f"export parity (max abs diff): {json.dumps(diffs)}")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tokenizer_dir / f, out / "clip" / f)
    tok = Tokenizer(out / "clip" / "tokenizer.json")
    with torch.no_grad():
        embed_dim = int(clip.text(tok(["a"]))[0].shape[1])
    manifest = {
        "name": name,
        "version": version,
        "format": 1,
        "sam2": {
            "format": "onnx-community",
            "encoder": "sam2/vision_encoder.onnx",
            "decoder": "sam2/prompt_encoder_mask_decoder.onnx",
            "input_size": preprocess.SAM_SIZE,
            "mean": list(preprocess.SAM_MEAN),
            "std": list(preprocess.SAM_STD),
        },
        "clip": {
            "format": "xenova",
            "vision": "clip/vision_model.onnx",
            "text": "clip/text_model.onnx",
            "tokenizer": "clip/tokenizer.json",
            "tokenizer_config": "clip/tokenizer_config.json",
            "image_size": preprocess.CLIP_SIZE,
            "mean": list(preprocess.CLIP_MEAN),
            "std": list(preprocess.CLIP_STD),
            "context_length": CONTEXT,
            "logit_scale": round(float(clip.logit_scale.exp().clamp(max=100)), 4),
        },
        "head": {
            "object_branch": "head/object_branch.onnx",
            "mask_branch": "head/mask_branch.onnx",
            "fusion": "head/fusion.onnx",
            "projection": "head/projection.onnx",
            "object_size": preprocess.CROP_SIZE,
            "mask_size": preprocess.MASK_SIZE,
            "crop_margin": preprocess.CROP_MARGIN,
            "crop_pad": preprocess.CROP_PAD,
            "logit_scale": round(float(head.logit_scale.exp().clamp(max=100)), 4),
        },
        # The training-free crop embedder's framing, chosen on the development split.
        "crop_baseline": report["crop_baseline"]["choice"],
        "embedding_dim": embed_dim,
        "labels": scenes.vocabulary(),
        "metrics": {
            "source": "training/results/shapes-eval.json (python -m ogclip_factory.build)",
            "note": "closed-set: every label was a training caption of this bundle; zero-shot figures are in the source file",
            "retrieval": report["retrieval"],
            "segmentation": {k: v for k, v in report["segmentation"].items() if k.endswith("miou")},
            "classification_accuracy": report["classification"]["object_guided"],
        },
    }
    (out / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "parity.json").write_text(json.dumps(parity_reference(seg, clip, head, val, report["crop_baseline"]["choice"]), separators=(",", ":")) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    log(f"bundle written to {out} ({size / 1e6:.1f} MB)")
    return out
