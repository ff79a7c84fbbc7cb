import json
import sys
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ogclip_factory import hf_export
from ogclip_factory.clip import build_tokenizer


def _run(path, feeds):
    return ort.InferenceSession(str(path)).run(None, feeds)


@pytest.fixture(scope="module")
def clip_checkpoint(tmp_path_factory):
    """A tiny CLIPModel saved as a checkpoint folder, with its own tokenizer and a preprocessor
    whose statistics differ from CLIP's (so the export must read them, not assume them)."""
    from transformers import CLIPImageProcessor

    d = tmp_path_factory.mktemp("clip-ckpt")
    model = hf_export.tiny_clip_model(seed=3)
    model.save_pretrained(d)
    CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64},
                       image_mean=[0.5, 0.25, 0.125], image_std=[0.2, 0.3, 0.4]).save_pretrained(d)
    build_tokenizer(d)
    return d, model


def test_clip_checkpoint_folder_exports_to_the_xenova_layout_with_pytorch_parity(clip_checkpoint, tmp_path):
    ckpt, model = clip_checkpoint
    out = hf_export.export_clip(ckpt, tmp_path / "clip")
    for rel in ("onnx/vision_model.onnx", "onnx/text_model.onnx", "tokenizer.json", "tokenizer_config.json",
                "preprocessor_config.json"):
        assert (out / rel).is_file(), rel
    pre = json.loads((out / "preprocessor_config.json").read_text())
    assert pre["image_mean"] == [0.5, 0.25, 0.125] and pre["image_std"] == [0.2, 0.3, 0.4]
    assert pre["crop_size"] == {"height": 64, "width": 64}
    from tokenizers import Tokenizer

    assert Tokenizer.from_file(str(out / "tokenizer.json")).encode("a small red circle").ids == [49406, 320, 2442, 736, 7117, 49407]

    pix = torch.randn(2, 3, 64, 64)
    ids = hf_export.dummy_ids(2)
    ids[0, 1:4] = torch.tensor([320, 2442, 736])
    ids[0, 4] = 49407
    with torch.no_grad():
        ref = model(input_ids=ids, pixel_values=pix)
        v_ref = model.vision_model(pixel_values=pix)
    emb, hidden = _run(out / "onnx" / "vision_model.onnx", {"pixel_values": pix.numpy()})
    np.testing.assert_allclose(emb, model.visual_projection(v_ref.pooler_output).detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(hidden, v_ref.last_hidden_state.numpy(), atol=1e-5)
    text, _ = _run(out / "onnx" / "text_model.onnx", {"input_ids": ids.numpy()})
    # CLIPModel normalises its embeddings; the exported towers do not (as the public export).
    np.testing.assert_allclose(text / np.linalg.norm(text, axis=1, keepdims=True), ref.text_embeds.numpy(), atol=1e-5)


def test_clip_without_preprocessor_warns_and_takes_the_size_from_the_config(tmp_path):
    model = hf_export.tiny_clip_model(seed=0, image_size=32, patch_size=16)
    model.save_pretrained(tmp_path / "ckpt")
    with pytest.warns(UserWarning, match="no preprocessor_config.json"):
        out = hf_export.export_clip(tmp_path / "ckpt", tmp_path / "out")
    pre = json.loads((out / "preprocessor_config.json").read_text())
    assert pre["crop_size"] == {"height": 32, "width": 32}
    assert (out / "tokenizer.json").is_file()  # the project's CLIP BPE, as the checkpoint has none
    dims = ort.InferenceSession(str(out / "onnx" / "vision_model.onnx")).get_inputs()[0].shape
    assert dims[1:] == [3, 32, 32]


def test_not_a_checkpoint_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: not a transformers checkpoint folder"):
        hf_export.export_clip(tmp_path, tmp_path / "out")


def test_sam2_checkpoint_folder_exports_at_its_own_input_size_with_pytorch_parity(tmp_path):
    model = hf_export.tiny_sam2_model(seed=1, image_size=256, hidden_size=32)
    model.save_pretrained(tmp_path / "ckpt")
    out = hf_export.export_sam2(tmp_path / "ckpt", tmp_path / "sam2")
    enc_path, dec_path = out / "onnx" / "vision_encoder.onnx", out / "onnx" / "prompt_encoder_mask_decoder.onnx"
    assert ort.InferenceSession(str(enc_path)).get_inputs()[0].shape == ["batch", 3, 256, 256]
    pix = torch.randn(1, 3, 256, 256)
    pts = torch.tensor([[[[100.0, 60.0], [20.0, 200.0]]]])  # [1,1,2,2]
    lab = torch.tensor([[[1, 0]]])
    box = torch.tensor([[[30.0, 40.0, 180.0, 220.0]]])  # [1,1,4]
    with torch.no_grad():
        e = model.get_image_embeddings(pix)
        ref = hf_export.Sam2Decoder(model)(pts, lab, box.clone(), *e)  # the model shifts boxes in place
    enc = _run(enc_path, {"pixel_values": pix.numpy()})
    assert [t.shape for t in enc] == [(1, 4, 64, 64), (1, 8, 32, 32), (1, 32, 16, 16)]
    for got, want in zip(enc, e):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
    dec = _run(dec_path, {"input_points": pts.numpy(), "input_labels": lab.numpy(), "input_boxes": box.numpy(),
                          **{n: t.numpy() for n, t in zip(hf_export.SAM2_EMBEDDINGS, e)}})
    assert dec[1].shape == (1, 1, 3, 64, 64)
    for got, want in zip(dec, ref):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-5)


def test_sam2_config_sizes_follow_the_input_size():
    cfg = hf_export.tiny_sam2_config(image_size=512, hidden_size=32)
    assert cfg.vision_config.backbone_feature_sizes == [[128, 128], [64, 64], [32, 32]]
    assert cfg.prompt_encoder_config.image_size == 512


def test_cli_exports_both_layouts(clip_checkpoint, tmp_path, monkeypatch):
    ckpt, _ = clip_checkpoint
    hf_export.tiny_sam2_model(seed=0, image_size=128, hidden_size=16).save_pretrained(tmp_path / "sam2-ckpt")
    monkeypatch.setattr(sys, "argv", ["hf_export", "--clip", str(ckpt), "--sam2", str(tmp_path / "sam2-ckpt"),
                                      "--out", str(tmp_path / "out")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hf_export.main()
    assert (tmp_path / "out" / "clip" / "onnx" / "text_model.onnx").is_file()
    assert (tmp_path / "out" / "sam2" / "onnx" / "prompt_encoder_mask_decoder.onnx").is_file()
