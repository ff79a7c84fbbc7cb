import json
import shutil
from pathlib import Path

import pytest

from ogclip_factory.layouts import LayoutError, clip_section, sam2_section

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "test" / "fixtures"
SCHEMA = json.loads((ROOT / "schemas" / "bundle.schema.json").read_text())


def _schema_ok(section: dict, name: str) -> None:
    props = SCHEMA["properties"][name]["properties"]
    assert set(section) <= set(props), set(section) - set(props)
    assert set(SCHEMA["properties"][name]["required"]) <= set(section)
    assert section["dtype"] in SCHEMA["definitions"]["dtype"]["enum"]


def test_xenova_clip_folder_gives_the_clip_section_from_its_files():
    s = clip_section(FIXTURES / "clip-tiny-random")
    assert s == {"format": "xenova", "vision": "onnx/vision_model.onnx", "text": "onnx/text_model.onnx",
                 "tokenizer": "tokenizer.json", "tokenizer_config": "tokenizer_config.json", "image_size": 224,
                 "mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711],
                 "context_length": 77, "dtype": "fp32"}
    _schema_ok(s, "clip")


def _variants_with_tokenizer(tmp_path: Path, keep: list[str]) -> Path:
    d = tmp_path / "clip"
    (d / "onnx").mkdir(parents=True)
    for f in keep:
        shutil.copy(FIXTURES / "clip-variants-tiny-random" / "onnx" / f, d / "onnx" / f)
    shutil.copy(FIXTURES / "clip-variants-tiny-random" / "preprocessor_config.json", d)
    shutil.copy(FIXTURES / "clip-tiny-random" / "tokenizer.json", d)
    return d


def test_clip_dtype_variants_and_the_joint_model(tmp_path):
    d = _variants_with_tokenizer(tmp_path, ["vision_model.onnx", "vision_model.onnx_data", "text_model.onnx",
                                            "vision_model_fp16.onnx", "text_model_fp16.onnx", "model.onnx"])
    s = clip_section(d, "fp16")
    assert (s["vision"], s["text"], s["image_size"], s["dtype"]) == ("onnx/vision_model.onnx", "onnx/text_model.onnx", 64, "fp16")
    assert "tokenizer_config" not in s and s["context_length"] == 77
    _schema_ok(s, "clip")
    with pytest.raises(LayoutError, match=r"clip: not a Xenova CLIP folder at dtype quantized: missing onnx/vision_model_quantized.onnx, onnx/text_model_quantized.onnx"):
        clip_section(d, "quantized")
    for f in ("vision_model.onnx", "text_model.onnx"):
        (d / "onnx" / f).unlink()
    joint = clip_section(d)
    assert joint["vision"] == joint["text"] == "onnx/model.onnx"


def test_clip_folder_errors_name_the_folder_and_what_is_missing(tmp_path):
    with pytest.raises(LayoutError, match=r"clip-variants-tiny-random: not a Xenova CLIP folder: missing tokenizer.json"):
        clip_section(FIXTURES / "clip-variants-tiny-random")
    with pytest.raises(LayoutError, match=f"{tmp_path}: not a Xenova CLIP folder: missing onnx/vision_model.onnx"):
        clip_section(tmp_path)
    d = _variants_with_tokenizer(tmp_path, ["vision_model.onnx", "vision_model.onnx_data", "text_model.onnx"])
    pre = json.loads((d / "preprocessor_config.json").read_text())
    pre["crop_size"] = {"height": 224, "width": 224}
    (d / "preprocessor_config.json").write_text(json.dumps(pre))
    with pytest.raises(LayoutError, match="says 224 px but onnx/vision_model.onnx takes 64"):
        clip_section(d)
    with pytest.raises(LayoutError, match="dtype 'int8'"):
        clip_section(d, "int8")


def test_onnx_community_sam2_folder_gives_the_sam2_section_with_the_encoders_size():
    s = sam2_section(FIXTURES / "sam2-512-tiny-random")
    assert s == {"format": "onnx-community", "encoder": "onnx/vision_encoder.onnx",
                 "decoder": "onnx/prompt_encoder_mask_decoder.onnx", "input_size": 512, "dtype": "fp32"}
    _schema_ok(s, "sam2")
    assert sam2_section(FIXTURES / "sam2-tiny-random")["input_size"] == 1024


def test_sam2_statistics_from_a_preprocessor_and_errors(tmp_path):
    d = tmp_path / "sam2"
    shutil.copytree(FIXTURES / "sam2-512-tiny-random" / "onnx", d / "onnx")
    (d / "preprocessor_config.json").write_text(json.dumps(
        {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "size": {"height": 512, "width": 512}}))
    s = sam2_section(d)
    assert s["mean"] == [0.485, 0.456, 0.406] and s["std"] == [0.229, 0.224, 0.225]
    with pytest.raises(LayoutError, match=r"sam2: not a onnx-community SAM2 folder at dtype fp16: missing "
                                          r"onnx/vision_encoder_fp16.onnx, onnx/prompt_encoder_mask_decoder_fp16.onnx"):
        sam2_section(d, "fp16")
    (d / "onnx" / "prompt_encoder_mask_decoder.onnx").unlink()
    with pytest.raises(LayoutError, match="missing onnx/prompt_encoder_mask_decoder.onnx"):
        sam2_section(d)
