import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ogclip_factory import export
from ogclip_factory.clip import TinyClip
from ogclip_factory.head import ObjectGuidedHead
from ogclip_factory.segmenter import Segmenter

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "models" / "ogclip-shapes-tiny"


def test_every_part_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    diffs = export.export_parts(Segmenter().eval(), TinyClip().eval(), ObjectGuidedHead(128).eval(), tmp_path)
    assert set(diffs) == {"sam2/vision_encoder.onnx", "sam2/prompt_encoder_mask_decoder.onnx", "clip/vision_model.onnx",
                          "clip/text_model.onnx", "head/object_branch.onnx", "head/mask_branch.onnx", "head/fusion.onnx",
                          "head/projection.onnx"}
    assert max(diffs.values()) <= export.PARITY_TOL


def test_exported_decoder_takes_points_only_and_box_prompts_with_any_batch(tmp_path):
    torch.manual_seed(0)
    export.export_parts(Segmenter().eval(), TinyClip().eval(), ObjectGuidedHead(128).eval(), tmp_path)
    enc = ort.InferenceSession(str(tmp_path / "sam2" / "vision_encoder.onnx"))
    dec = ort.InferenceSession(str(tmp_path / "sam2" / "prompt_encoder_mask_decoder.onnx"))
    e = enc.run(None, {"pixel_values": np.zeros((3, 3, 256, 256), np.float32)})
    assert [x.shape for x in e] == [(3, 32, 64, 64), (3, 48, 32, 32), (3, 64, 16, 16)]
    feeds = {"image_embeddings.0": e[0][:1], "image_embeddings.1": e[1][:1], "image_embeddings.2": e[2][:1]}
    for p, n, nb in [(1, 1, 0), (7, 2, 0), (4, 1, 4)]:
        out = dec.run(None, {**feeds, "input_points": np.full((1, p, n, 2), 50, np.float32), "input_labels": np.ones((1, p, n), np.int64),
                             "input_boxes": np.tile(np.array([[[10, 10, 90, 90]]], np.float32), (1, nb, 1))})
        assert out[1].shape == (1, p, 3, 64, 64)




def test_committed_bundle_manifest():
    manifest = json.loads((BUNDLE / "bundle.json").read_text())
    for key in ("name", "version", "sam2", "clip", "head", "labels", "metrics", "embedding_dim"):
        assert key in manifest
    files = [manifest["sam2"]["encoder"], manifest["sam2"]["decoder"], manifest["clip"]["vision"], manifest["clip"]["text"],
             manifest["clip"]["tokenizer"], *(manifest["head"][k] for k in ("object_branch", "mask_branch", "fusion", "projection"))]
    for f in files:
        assert (BUNDLE / f).is_file(), f
    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    assert size <= 25_000_000
    assert len(manifest["labels"]) == 60
