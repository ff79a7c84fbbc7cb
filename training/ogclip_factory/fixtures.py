"""Random-weight exports of `transformers`' Sam2Model and CLIP towers in exactly the public
`onnx-community` (SAM2) and `Xenova` (CLIP) ONNX formats, for the pipeline's loader tests.
The tiny set also holds the variants real exports come in (see export_clip_variants and
export_sam2_other_size), each with a parity.json of PyTorch outputs for a fixed input.

    python -m ogclip_factory.fixtures --out ../test/fixtures            # tiny configs, a few MB
    python -m ogclip_factory.fixtures --real-size --out ../bench/models  # hiera-tiny + ViT-B/32,
                                                                        # for benchmarks only"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

import torch
from torch import nn

from . import hf_export
from .clip import Tokenizer, build_tokenizer
from .hf_export import tiny_clip_model, tiny_sam2_model

# The parity tests' fixed inputs; test/models/parity.ts computes the same image.
PARITY_TEXTS = ["a small red circle", "two blue squares on a table"]
SHARED_TOKENIZER = "../clip-tiny-random/tokenizer.json"  # relative to a fixture folder


def sam2_model(real_size: bool):
    """The random Sam2Model behind the SAM2 fixtures: hf_export's tiny one, or sam2.1-hiera-tiny."""
    if not real_size:
        return tiny_sam2_model(seed=0)
    from transformers import Sam2Config, Sam2HieraDetConfig, Sam2Model, Sam2VisionConfig

    backbone = Sam2HieraDetConfig(hidden_size=96, num_attention_heads=1, blocks_per_stage=[1, 2, 7, 2],
                                  embed_dim_per_stage=[96, 192, 384, 768], num_attention_heads_per_stage=[1, 2, 4, 8],
                                  window_size_per_stage=[8, 4, 14, 7], global_attention_blocks=[5, 7, 9],
                                  window_positional_embedding_background_size=[7, 7])
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[768, 384, 192, 96])
    torch.manual_seed(0)
    return Sam2Model(Sam2Config(vision_config=vision.to_dict())).eval()


def export_sam2_fixture(out: Path, real_size: bool) -> None:
    hf_export.export_sam2(sam2_model(real_size), out)


class _SamExporterDecoder(nn.Module):
    """samexporter decoder I/O: float point labels (box corners as 2 and 3), mask_input and
    has_mask_input, outputs masks [L,3,256,256] and iou_predictions [L,3]. The wrapped HF model
    has no box-corner labels, so corners count as positive points here: the fixture tests the
    adapter's contract, not the model's answers."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image_embed, high_res_feats_0, high_res_feats_1, point_coords, point_labels, mask_input, has_mask_input):
        labels = torch.where(point_labels >= 2, torch.ones_like(point_labels), point_labels).to(torch.int64)
        out = self.model(input_points=point_coords[None], input_labels=labels[None],
                         image_embeddings=[high_res_feats_0, high_res_feats_1, image_embed], multimask_output=True)
        # mask_input / has_mask_input stay graph inputs as in the real export (they add zero here).
        zero = (mask_input.sum() + has_mask_input.sum()) * 0.0
        return out.pred_masks[0] + zero, out.iou_scores[0]


def export_samexporter(out: Path, real_size: bool) -> None:
    model = sam2_model(real_size)
    out.mkdir(parents=True, exist_ok=True)
    img = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        f0, f1, emb = hf_export.Sam2Encoder(model)(img)
    torch.onnx.export(hf_export.Sam2Encoder(model), (img,), str(out / "encoder.onnx"), input_names=["image"],
                      output_names=["high_res_feats_0", "high_res_feats_1", "image_embed"], opset_version=17, dynamo=False)
    coords = torch.tensor([[[500.0, 400.0], [0.0, 0.0]], [[100.0, 100.0], [600.0, 500.0]]])  # [L=2,N=2,2]
    labels = torch.tensor([[1.0, -1.0], [2.0, 3.0]])
    torch.onnx.export(_SamExporterDecoder(model), (emb, f0, f1, coords, labels, torch.zeros(2, 1, 256, 256), torch.zeros(1)),
                      str(out / "decoder.onnx"),
                      input_names=["image_embed", "high_res_feats_0", "high_res_feats_1", "point_coords", "point_labels", "mask_input", "has_mask_input"],
                      output_names=["masks", "iou_predictions"],
                      dynamic_axes={"point_coords": {0: "prompts", 1: "points"}, "point_labels": {0: "prompts", 1: "points"},
                                    "mask_input": {0: "prompts"}, "masks": {0: "prompts"}, "iou_predictions": {0: "prompts"}},
                      opset_version=17, dynamo=False)


def export_clip_towers(out: Path, real_size: bool) -> None:
    """Two separate towers (CLIPVisionModelWithProjection, CLIPTextModelWithProjection) at 224 with
    512-d embeddings, as in the public ViT-B/32 export. Kept as first made so that the committed
    clip-tiny-random files stay byte-identical (the text weights are drawn after one randn)."""
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    if real_size:  # ViT-B/32
        vcfg, tcfg = CLIPVisionConfig(projection_dim=512), CLIPTextConfig(projection_dim=512)
    else:
        vcfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                image_size=224, patch_size=32, projection_dim=512)
        tcfg = CLIPTextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              projection_dim=512, max_position_embeddings=77, eos_token_id=49407)
    d = out / "onnx"
    vision = CLIPVisionModelWithProjection(vcfg).eval()
    torch.randn(1, 3, 224, 224)  # the first generator drew its dummy image here, before the text weights
    hf_export.export_clip_vision(vision, d / "vision_model.onnx", 224)
    text = CLIPTextModelWithProjection(tcfg).eval()
    hf_export.export_clip_text(text, d / "text_model.onnx")
    build_tokenizer(out)
    # preprocessor_config.json as the public export ships it (what the pipeline reads).
    (out / "preprocessor_config.json").write_text(
        '{"crop_size": {"height": 224, "width": 224}, "do_center_crop": true, "do_normalize": true, "do_resize": true,\n'
        ' "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],\n'
        ' "resample": 3, "size": {"shortest_edge": 224}}\n')


def pattern_image(size: int) -> np.ndarray:
    """[3,S,S] float32: ((7x + 13y + 29c) mod 97) / 97 - 0.5, exact in both languages."""
    c, y, x = np.meshgrid(np.arange(3), np.arange(size), np.arange(size), indexing="ij")
    return (((x * 7 + y * 13 + c * 29) % 97) / 97 - 0.5).astype(np.float32)


def _floats(t) -> list[float]:
    """A tensor as a flat list, rounded to float32's 7 significant digits (small JSON)."""
    a = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    return [float(f"{v:.7g}") for v in a.astype(np.float64).ravel()]


def text_feeds(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """attention_mask (1 up to and including the first EOS, 0 after) and position_ids 0..S-1,
    as the pipeline's ClipText feeds them. [B,S] int64 each"""
    first_eos = (ids == 49407).int().argmax(1, keepdim=True)  # [B,1]
    pos = torch.arange(ids.shape[1])[None].expand_as(ids)
    return (pos <= first_eos).to(torch.int64), pos.contiguous()


def export_clip_variants(out: Path) -> None:
    """One tiny CLIPModel (64 px, 8-wide, 16-d embeddings) in the forms real exports vary in:
    text_model.onnx with the optional attention_mask / position_ids inputs, vision_model.onnx with
    its weights in vision_model.onnx_data, *_fp16.onnx (vision: float16 inputs and outputs,
    keep_io_types=False; text: float32 I/O around a float16 graph, keep_io_types=True),
    *_quantized.onnx (dynamic int8: QUInt8 vision, QInt8 text) and the joint model.onnx.
    The tokenizer is clip-tiny-random's (same real CLIP BPE), not copied."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from transformers import CLIPImageProcessor

    model = tiny_clip_model(seed=0)
    size = model.config.vision_config.image_size
    d = out / "onnx"
    d.mkdir(parents=True, exist_ok=True)
    plain = d / "_vision_plain.onnx"
    hf_export.export_clip_vision(model, plain, size)
    quantize_dynamic(plain, d / "vision_model_quantized.onnx", weight_type=QuantType.QUInt8)
    vision = onnx.load(plain)
    plain.unlink()
    onnx.save(convert_float_to_float16(vision, keep_io_types=False), d / "vision_model_fp16.onnx")
    onnx.save_model(vision, d / "vision_model.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="vision_model.onnx_data", size_threshold=0)
    hf_export.export_clip_text(model, d / "text_model.onnx", with_mask=True)
    quantize_dynamic(d / "text_model.onnx", d / "text_model_quantized.onnx", weight_type=QuantType.QInt8)
    onnx.save(convert_float_to_float16(onnx.load(d / "text_model.onnx"), keep_io_types=True), d / "text_model_fp16.onnx")
    hf_export.export_clip_joint(model, d / "model.onnx")
    CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}).save_pretrained(str(out))

    ids = Tokenizer((out / SHARED_TOKENIZER).resolve())(PARITY_TEXTS)  # [2,77]
    mask, pos = text_feeds(ids)
    pix = torch.from_numpy(pattern_image(size))[None]  # [1,3,V,V]
    with torch.no_grad():
        v = hf_export.VisionTower(model)(pix)
        t = hf_export.TextTower(model)(ids, mask, pos)
        j = model(input_ids=ids, pixel_values=pix, attention_mask=mask)
    parity = {
        "image_size": size, "texts": PARITY_TEXTS, "input_ids": ids.tolist(), "attention_mask": mask.tolist(),
        "vision": {"image_embeds": _floats(v[0]), "last_hidden_state": _floats(v[1]), "dims": list(v[1].shape)},
        "text": {"text_embeds": _floats(t[0]), "dims": list(t[0].shape)},
        "joint": {"image_embeds": _floats(j.image_embeds), "text_embeds": _floats(j.text_embeds)},
    }
    (out / "parity.json").write_text(json.dumps(parity) + "\n")


# The SAM2 parity prompts, in pixels of a FRAME_W x FRAME_H frame (x scales by S/W, y by S/H).
FRAME_W, FRAME_H = 1024, 512
POINT_PROMPTS = [{"points": [[300, 200]], "labels": [1]}, {"points": [[100, 100], [700, 400]], "labels": [1, 0]}]
BOX_PROMPT = {"box": [200, 100, 800, 400]}


def export_sam2_other_size(out: Path, image_size: int = 512) -> None:
    """A tiny Sam2Model at a non-1024 input size (32-wide prompt encoder and decoder, so the
    embeddings are [4,S/4,S/4], [8,S/8,S/8], [32,S/16,S/16] and masks S/4), plus parity.json."""
    model = tiny_sam2_model(seed=0, image_size=image_size, hidden_size=32)
    hf_export.export_sam2(model, out)
    sx, sy = image_size / FRAME_W, image_size / FRAME_H
    n = max(len(p["points"]) for p in POINT_PROMPTS)
    pts = torch.zeros(1, len(POINT_PROMPTS), n, 2)
    lab = torch.full((1, len(POINT_PROMPTS), n), -1, dtype=torch.int64)
    for i, p in enumerate(POINT_PROMPTS):
        for j, ((x, y), label) in enumerate(zip(p["points"], p["labels"])):
            pts[0, i, j] = torch.tensor([x * sx, y * sy])
            lab[0, i, j] = label
    b = BOX_PROMPT["box"]
    box = torch.tensor([[[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy]]])  # [1,1,4]
    pix = torch.from_numpy(pattern_image(image_size))[None]
    dec = hf_export.Sam2Decoder(model)
    with torch.no_grad():
        e = model.get_image_embeddings(pix)
        # SAM2's own calls: a box alone (no point input; the adapter sends an empty [1,P,0,2]), and
        # points alone (no box input; ONNX gets an empty [1,0,4], which PyTorch refuses, so the
        # test checks the two are the same thing).
        by_points = dec(pts, lab, None, *e)
        by_box = dec(None, None, box, *e)
    step = {0: 16, 1: 8, 2: 8}

    def result(r):
        iou, masks, obj = r
        return {"iou_scores": _floats(iou), "object_score_logits": _floats(obj),
                "pred_masks_every_8th": _floats(masks[..., ::8, ::8]), "pred_masks_dims": list(masks.shape)}

    parity = {
        "input_size": image_size, "frame": [FRAME_W, FRAME_H],
        "embeddings": {f"image_embeddings.{k}": {"dims": list(t.shape), "step": step[k], "values": _floats(t[..., ::step[k], ::step[k]])}
                       for k, t in enumerate(e)},
        "point_prompts": POINT_PROMPTS, "box_prompt": BOX_PROMPT,
        "by_points": result(by_points), "by_box": result(by_box),
    }
    (out / "parity.json").write_text(json.dumps(parity) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--real-size", action="store_true")
    a = ap.parse_args()
    tag = "real-size" if a.real_size else "tiny"
    for name, fn in (("sam2", export_sam2_fixture), ("clip", export_clip_towers), ("sam2-samexporter", export_samexporter)):
        target = a.out / f"{name}-{tag}-random"
        shutil.rmtree(target, ignore_errors=True)
        fn(target, a.real_size)
        print(target)
    if not a.real_size:
        for name, fn in (("clip-variants-tiny-random", export_clip_variants), ("sam2-512-tiny-random", export_sam2_other_size)):
            target = a.out / name
            shutil.rmtree(target, ignore_errors=True)
            fn(target)
            print(target)


if __name__ == "__main__":
    main()
