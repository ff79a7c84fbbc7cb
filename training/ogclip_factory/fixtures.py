"""Random-weight exports of `transformers`' Sam2Model and CLIP towers in exactly the public
`onnx-community` (SAM2) and `Xenova` (CLIP) ONNX formats, for the pipeline's loader tests.

    python -m ogclip_factory.fixtures --out ../test/fixtures            # tiny configs, a few MB
    python -m ogclip_factory.fixtures --real-size --out ../bench/models  # hiera-tiny + ViT-B/32,
                                                                        # for benchmarks only"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from torch import nn

from .clip import build_tokenizer


def sam2_config(real_size: bool):
    from transformers import Sam2Config, Sam2HieraDetConfig, Sam2VisionConfig

    if real_size:  # sam2.1-hiera-tiny
        backbone = Sam2HieraDetConfig(hidden_size=96, num_attention_heads=1, blocks_per_stage=[1, 2, 7, 2],
                                      embed_dim_per_stage=[96, 192, 384, 768], num_attention_heads_per_stage=[1, 2, 4, 8],
                                      window_size_per_stage=[8, 4, 14, 7], global_attention_blocks=[5, 7, 9],
                                      window_positional_embedding_background_size=[7, 7])
        vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[768, 384, 192, 96])
        return Sam2Config(vision_config=vision.to_dict())
    backbone = Sam2HieraDetConfig(hidden_size=8, num_attention_heads=1, blocks_per_stage=[1, 1, 2, 1],
                                  embed_dim_per_stage=[8, 16, 32, 64], num_attention_heads_per_stage=[1, 1, 1, 1],
                                  window_size_per_stage=[8, 4, 14, 7], global_attention_blocks=[3],
                                  window_positional_embedding_background_size=[7, 7])
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[64, 32, 16, 8])
    return Sam2Config(vision_config=vision.to_dict(),
                      prompt_encoder_config={"hidden_size": 256},
                      mask_decoder_config={"hidden_size": 256, "mlp_dim": 64, "num_hidden_layers": 1,
                                           "num_attention_heads": 2, "iou_head_hidden_dim": 32})


class _SamEncoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        e = self.model.get_image_embeddings(pixel_values)
        return e[0], e[1], e[2]


class _SamDecoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_points, input_labels, input_boxes, e0, e1, e2):
        out = self.model(input_points=input_points, input_labels=input_labels, input_boxes=input_boxes,
                         image_embeddings=[e0, e1, e2], multimask_output=True)
        return out.iou_scores, out.pred_masks, out.object_score_logits


def export_sam2(out: Path, real_size: bool) -> None:
    from transformers import Sam2Model

    torch.manual_seed(0)
    model = Sam2Model(sam2_config(real_size)).eval()
    d = out / "onnx"
    d.mkdir(parents=True, exist_ok=True)
    pix = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        e0, e1, e2 = _SamEncoder(model)(pix)
    names = ["image_embeddings.0", "image_embeddings.1", "image_embeddings.2"]
    torch.onnx.export(_SamEncoder(model), (pix,), str(d / "vision_encoder.onnx"), input_names=["pixel_values"],
                      output_names=names, dynamic_axes={"pixel_values": {0: "batch"}, **{n: {0: "batch"} for n in names}},
                      opset_version=17, dynamo=False)
    pts = torch.tensor([[[[500.0, 400.0]], [[200.0, 300.0]]]])  # [1,2,1,2]
    lab = torch.ones(1, 2, 1, dtype=torch.int64)
    boxes = torch.tensor([[[100.0, 100.0, 600.0, 500.0], [50.0, 60.0, 300.0, 400.0]]])  # [1,2,4]
    torch.onnx.export(_SamDecoder(model), (pts, lab, boxes, e0, e1, e2), str(d / "prompt_encoder_mask_decoder.onnx"),
                      input_names=["input_points", "input_labels", "input_boxes", *names],
                      output_names=["iou_scores", "pred_masks", "object_score_logits"],
                      dynamic_axes={"input_points": {0: "batch", 1: "point_batch", 2: "points"},
                                    "input_labels": {0: "batch", 1: "point_batch", 2: "points"},
                                    "input_boxes": {0: "batch", 1: "boxes"},
                                    **{n: {0: "batch"} for n in names},
                                    "iou_scores": {0: "batch", 1: "point_batch"}, "pred_masks": {0: "batch", 1: "point_batch"},
                                    "object_score_logits": {0: "batch", 1: "point_batch"}},
                      opset_version=17, dynamo=False)


class _SamExporterEncoder(nn.Module):
    """The same model behind the `samexporter` encoder names (image -> high_res_feats_0/1, image_embed)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        e = self.model.get_image_embeddings(image)
        return e[0], e[1], e[2]


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
    from transformers import Sam2Model

    torch.manual_seed(0)
    model = Sam2Model(sam2_config(real_size)).eval()
    out.mkdir(parents=True, exist_ok=True)
    img = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        f0, f1, emb = _SamExporterEncoder(model)(img)
    torch.onnx.export(_SamExporterEncoder(model), (img,), str(out / "encoder.onnx"), input_names=["image"],
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


class _Tower(nn.Module):
    def __init__(self, model, emb: str):
        super().__init__()
        self.model, self.emb = model, emb

    def forward(self, x):
        out = self.model(x)
        return getattr(out, self.emb), out.last_hidden_state


def export_clip(out: Path, real_size: bool) -> None:
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
    d.mkdir(parents=True, exist_ok=True)
    vision = CLIPVisionModelWithProjection(vcfg).eval()
    torch.onnx.export(_Tower(vision, "image_embeds"), (torch.randn(1, 3, 224, 224),), str(d / "vision_model.onnx"),
                      input_names=["pixel_values"], output_names=["image_embeds", "last_hidden_state"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}, "last_hidden_state": {0: "batch"}},
                      opset_version=17, dynamo=False)
    text = CLIPTextModelWithProjection(tcfg).eval()
    ids = torch.full((2, 77), 49407, dtype=torch.int64)
    ids[:, 0] = 49406
    torch.onnx.export(_Tower(text, "text_embeds"), (ids,), str(d / "text_model.onnx"),
                      input_names=["input_ids"], output_names=["text_embeds", "last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"},
                                    "last_hidden_state": {0: "batch", 1: "sequence"}},
                      opset_version=17, dynamo=False)
    build_tokenizer(out)
    # preprocessor_config.json as the public export ships it (what the pipeline reads).
    (out / "preprocessor_config.json").write_text(
        '{"crop_size": {"height": 224, "width": 224}, "do_center_crop": true, "do_normalize": true, "do_resize": true,\n'
        ' "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],\n'
        ' "resample": 3, "size": {"shortest_edge": 224}}\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--real-size", action="store_true")
    a = ap.parse_args()
    tag = "real-size" if a.real_size else "tiny"
    for name, fn in (("sam2", export_sam2), ("clip", export_clip), ("sam2-samexporter", export_samexporter)):
        target = a.out / f"{name}-{tag}-random"
        shutil.rmtree(target, ignore_errors=True)
        fn(target, a.real_size)
        print(target)


if __name__ == "__main__":
    main()
