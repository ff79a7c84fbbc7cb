"""Export `transformers` checkpoints to the public ONNX layouts the pipeline loads.

    python -m ogclip_factory.hf_export --clip <CLIPModel dir> --sam2 <Sam2Model dir> --out <dir>

CLIP (the Xenova / transformers.js layout), written under `<out>/clip/` by the CLI:
    onnx/vision_model.onnx   pixel_values [B,3,V,V] -> image_embeds [B,E], last_hidden_state [B,T,Dv]
    onnx/text_model.onnx     input_ids int64 [B,S] -> text_embeds [B,E], last_hidden_state [B,S,Dt]
    tokenizer.json, tokenizer_config.json, preprocessor_config.json
Embeddings are not L2-normalised, as in the public towers.

SAM2 (the onnx-community layout), written under `<out>/sam2/` by the CLI:
    onnx/vision_encoder.onnx                pixel_values [B,3,S,S] -> image_embeddings.0/.1/.2
    onnx/prompt_encoder_mask_decoder.onnx   input_points [B,P,N,2], input_labels int64 [B,P,N],
        input_boxes [B,nb,4], image_embeddings.0/.1/.2 -> iou_scores [B,P,3],
        pred_masks [B,P,3,S/4,S/4], object_score_logits [B,P,1]
S is the checkpoint's own input size (prompt encoder config); the encoder's spatial dims are
static so that a reader can take S from the file.

The traced legacy exporter (`dynamo=False`) gives exactly these names for any config, random
weights included, which is what the fixtures rely on."""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .clip import build_tokenizer

OPSET = 17
SAM2_EMBEDDINGS = ("image_embeddings.0", "image_embeddings.1", "image_embeddings.2")
SAM2_OUTPUTS = ("iou_scores", "pred_masks", "object_score_logits")


# ----------------------------------------------------------------------------- tiny models

def tiny_clip_config(hidden_size: int = 8, projection_dim: int = 16, image_size: int = 64, patch_size: int = 16):
    """A CLIPConfig a few MB in size: the 49408-token embedding dominates (49408 x hidden_size)."""
    from transformers import CLIPConfig

    common = {"hidden_size": hidden_size, "intermediate_size": 2 * hidden_size, "num_hidden_layers": 2,
              "num_attention_heads": 2}
    text = {**common, "max_position_embeddings": 77, "vocab_size": 49408, "bos_token_id": 49406,
            "eos_token_id": 49407, "pad_token_id": 49407}
    vision = {**common, "image_size": image_size, "patch_size": patch_size}
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)


def tiny_clip_model(seed: int = 0, **config: Any):
    """A random-weight `CLIPModel` of `tiny_clip_config(**config)`, in eval mode."""
    from transformers import CLIPModel

    torch.manual_seed(seed)
    return CLIPModel(tiny_clip_config(**config)).eval()


def tiny_sam2_config(image_size: int = 1024, hidden_size: int = 256):
    """A tiny Hiera SAM2 config. Every size follows image_size: the backbone's feature maps are
    S/4, S/8, S/16 and the masks come back at S/4. hidden_size is the FPN / prompt / decoder width
    (the embeddings have hidden/8, hidden/4 and hidden channels)."""
    from transformers import Sam2Config, Sam2HieraDetConfig, Sam2VisionConfig

    backbone = Sam2HieraDetConfig(hidden_size=8, num_attention_heads=1, blocks_per_stage=[1, 1, 2, 1],
                                  embed_dim_per_stage=[8, 16, 32, 64], num_attention_heads_per_stage=[1, 1, 1, 1],
                                  window_size_per_stage=[8, 4, 14, 7], global_attention_blocks=[3],
                                  window_positional_embedding_background_size=[7, 7],
                                  image_size=[image_size, image_size])
    sizes = [[image_size // s, image_size // s] for s in (4, 8, 16)]
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[64, 32, 16, 8],
                              backbone_feature_sizes=sizes, fpn_hidden_size=hidden_size)
    if hidden_size == 256:  # the first tiny fixture's decoder (kept so its bytes do not change)
        decoder = {"hidden_size": 256, "mlp_dim": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                   "iou_head_hidden_dim": 32}
    else:
        decoder = {"hidden_size": hidden_size, "mlp_dim": hidden_size, "num_hidden_layers": 1,
                   "num_attention_heads": 2, "iou_head_hidden_dim": max(8, hidden_size // 2)}
    return Sam2Config(vision_config=vision.to_dict(),
                      prompt_encoder_config={"hidden_size": hidden_size, "image_size": image_size},
                      mask_decoder_config=decoder)


def tiny_sam2_model(seed: int = 0, image_size: int = 1024, hidden_size: int = 256):
    """A random-weight `Sam2Model` of `tiny_sam2_config(image_size, hidden_size)`, in eval mode."""
    from transformers import Sam2Model

    torch.manual_seed(seed)
    return Sam2Model(tiny_sam2_config(image_size, hidden_size)).eval()


# ----------------------------------------------------------------------------- CLIP

class VisionTower(nn.Module):
    """pixel_values -> (image_embeds, last_hidden_state) of a CLIPModel or a
    CLIPVisionModelWithProjection (both hold `vision_model` and `visual_projection`)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        if hasattr(self.model, "text_model"):  # a joint CLIPModel: its vision half only
            out = self.model.vision_model(pixel_values=pixel_values)
            return self.model.visual_projection(out.pooler_output), out.last_hidden_state
        out = self.model(pixel_values=pixel_values)
        return out.image_embeds, out.last_hidden_state


class TextTower(nn.Module):
    """input_ids [, attention_mask, position_ids] -> (text_embeds, last_hidden_state) of a CLIPModel
    or a CLIPTextModelWithProjection (both hold `text_model` and `text_projection`)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        if hasattr(self.model, "vision_model"):  # a joint CLIPModel: its text half only
            out = self.model.text_model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
            return self.model.text_projection(out.pooler_output), out.last_hidden_state
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
        return out.text_embeds, out.last_hidden_state


class JointClip(nn.Module):
    """The joint `model.onnx` of the Xenova layout (transformers' CLIPModel through optimum):
    inputs input_ids, pixel_values, attention_mask; outputs logits_per_image, logits_per_text,
    text_embeds, image_embeds (both L2-normalised by CLIPModel). No hidden states: that export
    has no vision tokens, so a pipeline head that pools them cannot use it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, pixel_values, attention_mask):
        out = self.model(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask)
        return out.logits_per_image, out.logits_per_text, out.text_embeds, out.image_embeds


def _clip_image_size(model) -> int:
    cfg = model.config
    return int(getattr(cfg, "vision_config", cfg).image_size)


def export_clip_vision(model: nn.Module, path: Path, image_size: int) -> None:
    """Vision tower of `model` to `path`; the batch is dynamic, the image size is not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pix = torch.zeros(1, 3, image_size, image_size)
    torch.onnx.export(VisionTower(model), (pix,), str(path), input_names=["pixel_values"],
                      output_names=["image_embeds", "last_hidden_state"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"},
                                    "last_hidden_state": {0: "batch"}},
                      opset_version=OPSET, dynamo=False)


def dummy_ids(batch: int = 2, length: int = 77) -> torch.Tensor:
    """BOS then EOS padding: ids the tokenizer can give for an empty text. [B,S] int64"""
    ids = torch.full((batch, length), 49407, dtype=torch.int64)
    ids[:, 0] = 49406
    return ids


def export_clip_text(model: nn.Module, path: Path, *, with_mask: bool = False) -> None:
    """Text tower of `model` to `path`. with_mask adds the standard optional inputs
    attention_mask and position_ids (int64 [B,S]) that some exports carry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = dummy_ids()
    names = ["input_ids"]
    args: tuple = (ids,)
    if with_mask:
        names += ["attention_mask", "position_ids"]
        args = (ids, torch.ones_like(ids), torch.arange(ids.shape[1])[None].expand_as(ids).contiguous())
    seq = {0: "batch", 1: "sequence"}
    torch.onnx.export(TextTower(model), args, str(path), input_names=names,
                      output_names=["text_embeds", "last_hidden_state"],
                      dynamic_axes={**{n: seq for n in names}, "text_embeds": {0: "batch"}, "last_hidden_state": seq},
                      opset_version=OPSET, dynamo=False)


def export_clip_joint(model: nn.Module, path: Path) -> None:
    """The joint CLIPModel file with the Xenova names; text and image batches are independent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = _clip_image_size(model)
    ids = dummy_ids()
    torch.onnx.export(JointClip(model), (ids, torch.zeros(1, 3, size, size), torch.ones_like(ids)), str(path),
                      input_names=["input_ids", "pixel_values", "attention_mask"],
                      output_names=["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"],
                      dynamic_axes={"input_ids": {0: "text_batch", 1: "sequence"},
                                    "attention_mask": {0: "text_batch", 1: "sequence"},
                                    "pixel_values": {0: "image_batch"},
                                    "logits_per_image": {0: "image_batch", 1: "text_batch"},
                                    "logits_per_text": {0: "text_batch", 1: "image_batch"},
                                    "text_embeds": {0: "text_batch"}, "image_embeds": {0: "image_batch"}},
                      opset_version=OPSET, dynamo=False)


def _load(model_or_dir, cls):
    if isinstance(model_or_dir, (str, Path)):
        path = Path(model_or_dir)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path}: not a transformers checkpoint folder (no config.json)")
        return cls.from_pretrained(str(path)).eval(), path
    return model_or_dir.eval(), None


def write_clip_tokenizer(checkpoint: Path | None, out: Path) -> None:
    """tokenizer.json + tokenizer_config.json: the checkpoint's own tokenizer when it has one, else
    the real CLIP BPE from the project's build_tokenizer."""
    own = checkpoint is not None and any((checkpoint / f).is_file() for f in ("tokenizer.json", "vocab.json"))
    if not own:
        build_tokenizer(out)
        return
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(checkpoint))
    if not tok.is_fast:
        raise ValueError(f"{checkpoint}: its tokenizer has no fast (tokenizer.json) form the pipeline can load")
    tok.save_pretrained(str(out))
    for extra in ("special_tokens_map.json", "vocab.json", "merges.txt"):
        (out / extra).unlink(missing_ok=True)


def write_clip_preprocessor(checkpoint: Path | None, model, out: Path) -> dict:
    """preprocessor_config.json: the checkpoint's own when it has one. Without one, the image size
    comes from the model config and mean / std from transformers' CLIPImageProcessor defaults
    (the OpenAI CLIP statistics), with a warning, since the checkpoint does not say."""
    from transformers import CLIPImageProcessor

    size = _clip_image_size(model)
    if checkpoint is not None and (checkpoint / "preprocessor_config.json").is_file():
        proc = CLIPImageProcessor.from_pretrained(str(checkpoint))
    else:
        warnings.warn(f"{checkpoint or 'model object'}: no preprocessor_config.json; mean/std are "
                      f"CLIPImageProcessor's defaults, image size {size} from the config", stacklevel=2)
        proc = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    crop = proc.crop_size
    crop_side = crop["height"] if isinstance(crop, dict) else int(crop)
    if crop_side != size:
        raise ValueError(f"{checkpoint}: preprocessor crop size {crop_side} differs from the vision config's image_size {size}")
    proc.save_pretrained(str(out))
    return json.loads((out / "preprocessor_config.json").read_text())


def export_clip(model_or_dir, out: Path) -> Path:
    """A CLIPModel (checkpoint folder or model object) to the Xenova layout under `out`."""
    from transformers import CLIPModel

    model, checkpoint = _load(model_or_dir, CLIPModel)
    out = Path(out)
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    export_clip_vision(model, out / "onnx" / "vision_model.onnx", _clip_image_size(model))
    export_clip_text(model, out / "onnx" / "text_model.onnx")
    write_clip_tokenizer(checkpoint, out)
    write_clip_preprocessor(checkpoint, model, out)
    return out


# ----------------------------------------------------------------------------- SAM2

class Sam2Encoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        e = self.model.get_image_embeddings(pixel_values)
        return e[0], e[1], e[2]


class Sam2Decoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_points, input_labels, input_boxes, e0, e1, e2):
        out = self.model(input_points=input_points, input_labels=input_labels, input_boxes=input_boxes,
                         image_embeddings=[e0, e1, e2], multimask_output=True)
        return out.iou_scores, out.pred_masks, out.object_score_logits


def sam2_input_size(model) -> int:
    """The checkpoint's input size S; the backbone and the prompt encoder must agree on it."""
    cfg = model.config
    prompt = int(cfg.prompt_encoder_config.image_size)
    backbone = cfg.vision_config.backbone_config.image_size
    side = backbone[0] if isinstance(backbone, (list, tuple)) else backbone
    if int(side) != prompt:
        raise ValueError(f"SAM2 config: backbone image_size {backbone} and prompt encoder image_size {prompt} differ")
    return prompt


def export_sam2(model_or_dir, out: Path) -> Path:
    """A Sam2Model (checkpoint folder or model object) to the onnx-community layout under `out`."""
    from transformers import Sam2Model

    model, _ = _load(model_or_dir, Sam2Model)
    s = sam2_input_size(model)
    d = Path(out) / "onnx"
    d.mkdir(parents=True, exist_ok=True)
    pix = torch.zeros(1, 3, s, s)
    with torch.no_grad():
        e0, e1, e2 = Sam2Encoder(model)(pix)
    names = list(SAM2_EMBEDDINGS)
    torch.onnx.export(Sam2Encoder(model), (pix,), str(d / "vision_encoder.onnx"), input_names=["pixel_values"],
                      output_names=names, dynamic_axes={"pixel_values": {0: "batch"}, **{n: {0: "batch"} for n in names}},
                      opset_version=OPSET, dynamo=False)
    k = s / 1024  # dummy prompts only: their values do not shape the graph
    pts = torch.tensor([[[[500.0 * k, 400.0 * k]], [[200.0 * k, 300.0 * k]]]])  # [1,2,1,2]
    lab = torch.ones(1, 2, 1, dtype=torch.int64)
    boxes = torch.tensor([[[100.0 * k, 100.0 * k, 600.0 * k, 500.0 * k], [50.0 * k, 60.0 * k, 300.0 * k, 400.0 * k]]])
    torch.onnx.export(Sam2Decoder(model), (pts, lab, boxes, e0, e1, e2), str(d / "prompt_encoder_mask_decoder.onnx"),
                      input_names=["input_points", "input_labels", "input_boxes", *names],
                      output_names=list(SAM2_OUTPUTS),
                      dynamic_axes={"input_points": {0: "batch", 1: "point_batch", 2: "points"},
                                    "input_labels": {0: "batch", 1: "point_batch", 2: "points"},
                                    "input_boxes": {0: "batch", 1: "boxes"},
                                    **{n: {0: "batch"} for n in names},
                                    "iou_scores": {0: "batch", 1: "point_batch"}, "pred_masks": {0: "batch", 1: "point_batch"},
                                    "object_score_logits": {0: "batch", 1: "point_batch"}},
                      opset_version=OPSET, dynamo=False)
    return Path(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, help="a transformers CLIPModel checkpoint folder")
    ap.add_argument("--sam2", type=Path, help="a transformers Sam2Model checkpoint folder")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    if not a.clip and not a.sam2:
        ap.error("give --clip and/or --sam2")
    with torch.no_grad():
        if a.clip:
            print(export_clip(a.clip, a.out / "clip"))
        if a.sam2:
            print(export_sam2(a.sam2, a.out / "sam2"))


if __name__ == "__main__":
    main()
