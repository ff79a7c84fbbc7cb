"""python -m ogclip_factory.user_build end to end on tiny inputs: the random-weight public-format
exports of test/fixtures and the small seed-format dataset test/fixtures/user-data."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ogclip_factory import user_build, userdata

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "test" / "fixtures"
MODELS = FIX / "public-format-bundle"
SMOKE = ROOT / "training" / "configs" / "user-head-smoke.yaml"


def build(tmp: Path, data: Path, *extra: str, out: str = "bundle", work: str = "work") -> Path:
    user_build.main(["--clip", str(MODELS), "--sam2", str(MODELS), "--data", str(data), "--out", str(tmp / out),
                     "--work", str(tmp / work), "--config", str(SMOKE), "--results", str(tmp / "results"), *extra])
    return tmp / out


def copy_data(tmp: Path) -> Path:
    shutil.copytree(FIX / "user-data", tmp / "data")
    return tmp / "data" / "dataset.json"


def test_bundle_from_a_seed_dataset_then_a_rerun_reuses_features_and_the_checkpoint(tmp_path, capsys):
    data = copy_data(tmp_path)
    out = build(tmp_path, data)
    first = capsys.readouterr().out
    m = json.loads((out / "bundle.json").read_text())
    loaded = userdata.load(data)
    assert m["labels"] == loaded.vocabulary()
    assert m["embedding_dim"] == 512 and m["head"]["object_size"] == 64
    # Copied by default: the bundle stands alone.
    assert m["clip"]["vision"] == "clip/vision_model.onnx" and (out / "clip" / "vision_model.onnx").is_file()
    assert (out / "sam2" / "vision_encoder.onnx").is_file() and (out / "clip" / "tokenizer.json").is_file()
    report = json.loads((tmp_path / "results" / "bundle-eval.json").read_text())
    assert set(report["retrieval"]) == {"object_guided", "crop_clip", "plain_clip"}
    _, held_out = userdata.split_by_image(loaded.images, 0.2, 0)
    assert report["objects"] == sum(len(i.objects) for i in held_out) and report["held_out_images"] == len(held_out)
    assert (tmp_path / "results" / "bundle-similarity-heatmap.png").is_file()
    assert "features: 0 cached, 12 computed" in first
    assert len(list((tmp_path / "work" / "features").glob("text-*.npy"))) == 1  # text embeddings cached too
    # The head's ONNX parts reproduce the PyTorch head (checked again here through onnxruntime).
    sess = ort.InferenceSession(str(out / "head" / "projection.onnx"))
    assert sess.get_outputs()[0].shape[1] == 512

    head_bytes = (out / "head" / "fusion.onnx").read_bytes()
    shutil.rmtree(out)
    build(tmp_path, data)
    second = capsys.readouterr().out
    assert "features: 12 cached, 0 computed" in second
    assert "resumed at step 20" in second
    assert (out / "head" / "fusion.onnx").read_bytes() == head_bytes


def test_changed_boxes_are_not_served_from_the_cache(tmp_path, capsys):
    data = copy_data(tmp_path)
    build(tmp_path, data, "--models", "reference")
    capsys.readouterr()
    doc = json.loads(data.read_text())
    doc["images"][0]["objects"][0]["bbox"][2] -= 2.0
    data.write_text(json.dumps(doc))
    build(tmp_path, data, "--models", "reference")
    assert "features: 11 cached, 1 computed" in capsys.readouterr().out


def test_reference_mode_names_the_models_by_relative_path(tmp_path):
    out = build(tmp_path, copy_data(tmp_path), "--models", "reference")
    m = json.loads((out / "bundle.json").read_text())
    assert not (out / "clip").exists()
    assert (out / m["clip"]["vision"]).resolve() == (FIX / "clip-tiny-random" / "onnx" / "vision_model.onnx").resolve()
    frames = json.loads((out / "parity.json").read_text())["frames"]
    assert all((out / f["image_path"]).is_file() for f in frames)
    assert all("box" in o for f in frames for o in f["objects"])


def test_coco_instances_become_template_descriptions(tmp_path):
    data = copy_data(tmp_path)
    seed = json.loads(data.read_text())
    cats = sorted({o["description"].split()[-1] for im in seed["images"] for o in im["objects"]})
    coco = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": c} for i, c in enumerate(cats)]}
    for i, im in enumerate(seed["images"]):
        coco["images"].append({"id": i, "file_name": im["image_path"], "width": 320, "height": 240})
        for o in im["objects"]:
            x1, y1, x2, y2 = o["bbox"]
            coco["annotations"].append({"id": len(coco["annotations"]), "image_id": i, "category_id": cats.index(o["description"].split()[-1]) + 1,
                                        "bbox": [x1, y1, x2 - x1, y2 - y1], "iscrowd": 0, "area": (x2 - x1) * (y2 - y1)})
    path = data.parent / "instances_train.json"
    path.write_text(json.dumps(coco))
    out = build(tmp_path, path, "--models", "reference", "--template", "a photo of a {}")
    labels = json.loads((out / "bundle.json").read_text())["labels"]
    assert labels == [f"a photo of a {c}" for c in cats]


def test_bad_entries_are_reported_and_skipped_or_stop_the_build(tmp_path, capsys):
    data = copy_data(tmp_path)
    doc = json.loads(data.read_text())
    doc["images"][1]["image_path"] = "images/missing.jpg"
    doc["images"][2]["objects"][0]["description"] = "  "
    data.write_text(json.dumps(doc))
    build(tmp_path, data, "--models", "reference")
    log = capsys.readouterr().out
    assert "images[1]" in log and "images[2].objects[0]" in log
    with pytest.raises(SystemExit, match=r"images\[1\]"):
        build(tmp_path, data, "--models", "reference", "--on-bad", "fail", out="strict")


def test_an_image_that_passes_the_header_check_but_cannot_be_decoded_is_skipped_with_its_name(tmp_path):
    from ogclip_factory.user_features import extract

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)  # a JPEG signature and nothing decodable
    img = userdata.UserImage("images/bad.jpg", bad, 8, 8, (userdata.UserObject((0, 0, 4, 4), "a thing", None),))
    lines: list[str] = []
    split = extract([img], None, ["a thing"], "train", "skip", lines.append)  # never reaches the cache
    assert split.images == [] and len(split.labels) == 0
    assert any("skipped images/bad.jpg: cannot decode the image" in line for line in lines)
    with pytest.raises(userdata.DatasetError, match="images/bad.jpg: cannot decode"):
        extract([img], None, ["a thing"], "train", "fail", lines.append)


def test_config_mistakes_are_named_before_any_work(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMOKE.read_text().replace("hard_negatives: 3", "hard_negatves: 3").replace("fusion: mlp", "fusion: conv"))
    with pytest.raises(SystemExit) as e:
        user_build.main(["--clip", str(MODELS), "--sam2", str(MODELS), "--data", str(FIX / "user-data" / "dataset.json"),
                         "--out", str(tmp_path / "b"), "--config", str(cfg)])
    msg = str(e.value)
    assert "head.hard_negatives missing" in msg and "head.hard_negatves is not a known key" in msg and "head.fusion" in msg
    assert not (tmp_path / "b.work" / "features").exists()


def test_nearest_descriptions_are_the_hard_negatives():
    from ogclip_factory.train_head import nearest_descriptions

    text = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    hard = nearest_descriptions(text, 1)
    assert hard.tolist() == [[False, True, False, False], [True, False, False, False],
                             [False, True, False, False], [False, False, True, False]]
    assert not nearest_descriptions(text[:1], 3).any()
    assert np.array_equal(nearest_descriptions(text, 10).sum(1).numpy(), [3, 3, 3, 3])


def test_transformers_checkpoints_are_exported_then_trained_on_and_the_bundle_matches_pytorch(tmp_path, capsys):
    """Local CLIPModel / Sam2Model checkpoint folders in, bundle out; the bundle's CLIP files
    give PyTorch's own text and image embeddings (cosine >= 0.9999)."""
    from ogclip_factory import hf_export

    clip_model, sam2_model = hf_export.tiny_clip_model(seed=1), hf_export.tiny_sam2_model(seed=1)
    clip_model.save_pretrained(tmp_path / "clip-ckpt")
    sam2_model.save_pretrained(tmp_path / "sam2-ckpt")
    data = copy_data(tmp_path)
    user_build.main(["--clip", str(tmp_path / "clip-ckpt"), "--sam2", str(tmp_path / "sam2-ckpt"), "--data", str(data),
                     "--out", str(tmp_path / "bundle"), "--work", str(tmp_path / "work"), "--config", str(SMOKE),
                     "--results", str(tmp_path / "results")])
    assert "exporting the transformers clip checkpoint" in capsys.readouterr().out
    out = tmp_path / "bundle"
    m = json.loads((out / "bundle.json").read_text())
    assert m["embedding_dim"] == clip_model.config.projection_dim
    assert m["clip"]["image_size"] == clip_model.config.vision_config.image_size
    assert m["sam2"]["input_size"] == hf_export.sam2_input_size(sam2_model)

    from ogclip_factory.onnx_models import OrtClip

    clip = OrtClip(m["clip"], out)
    texts = ["a small red circle", "a large blue star"]
    ids = clip.tokenizer(texts)
    with torch.no_grad():
        want_t = clip_model.get_text_features(input_ids=ids)
        pix = torch.randn(2, 3, clip.norm.size, clip.norm.size, generator=torch.Generator().manual_seed(0))
        want_i = clip_model.get_image_features(pixel_values=pix)
    got_t, (got_i, _) = clip.texts(texts), clip.image(pix)
    cos = torch.nn.functional.cosine_similarity
    assert cos(got_t, want_t).min() >= 0.9999
    assert cos(got_i, want_i).min() >= 0.9999
    # A second build reuses the export instead of redoing it.
    user_build.main(["--clip", str(tmp_path / "clip-ckpt"), "--sam2", str(tmp_path / "sam2-ckpt"), "--data", str(data),
                     "--out", str(tmp_path / "bundle"), "--work", str(tmp_path / "work"), "--config", str(SMOKE),
                     "--results", str(tmp_path / "results")])
    assert "exporting" not in capsys.readouterr().out


def test_corrected_labels_retrain_instead_of_resuming_the_old_head(tmp_path, capsys):
    data = copy_data(tmp_path)
    build(tmp_path, data, "--models", "reference")
    capsys.readouterr()
    doc = json.loads(data.read_text())
    train, _ = userdata.split_by_image(userdata.load(data).images, 0.2, 0)
    i = next(k for k, im in enumerate(doc["images"]) if im["image_path"] == train[0].key)
    doc["images"][i]["objects"][0]["description"] = "a corrected description"
    data.write_text(json.dumps(doc))
    build(tmp_path, data, "--models", "reference")
    log = capsys.readouterr().out
    assert "resumed" not in log and "step 20/20" in log


def test_dataset_masks_are_used_where_given_and_sam2_elsewhere(tmp_path, capsys):
    out = build(tmp_path, copy_data(tmp_path), "--models", "reference")
    log = capsys.readouterr().out
    assert "inputs from dataset + sam2 masks" in log  # half the fixture's images have masks
    report = json.loads((tmp_path / "results" / "bundle-eval.json").read_text())
    # The validation images pick the checkpoint kept (smoke config: checkpoints at steps 10 and 20).
    assert "validation at step 10" in log and "validation at step 20" in log
    assert report["checkpoint"]["chosen"] == "best validation i2t R@1" and report["checkpoint"]["step"] in (10, 20)
    assert report["classification"]["masks"].startswith("dataset")
    assert json.loads((out / "bundle.json").read_text())["head"]["object_scales"] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("dtype, files", [
    ("fp32", {"vision_model.onnx", "vision_model.onnx_data", "text_model.onnx"}),
    ("fp16", {"vision_model_fp16.onnx", "text_model_fp16.onnx"}),
])
def test_copied_models_bring_their_dtype_variant_and_external_data(tmp_path, dtype, files):
    variants = FIX / "variants-bundle"
    out = tmp_path / "bundle"
    user_build.main(["--clip", str(variants), "--sam2", str(variants), "--data", str(copy_data(tmp_path)), "--out", str(out),
                     "--work", str(tmp_path / "work"), "--config", str(SMOKE), "--results", str(tmp_path / "results"),
                     "--clip-dtype", dtype])
    m = json.loads((out / "bundle.json").read_text())
    assert m.get("clip", {}).get("dtype", "fp32") == dtype and m["sam2"]["input_size"] == 512
    assert {f.name for f in (out / "clip").iterdir()} >= files
    from ogclip_factory.onnx_models import OrtClip

    emb, _ = OrtClip(m["clip"], out).image(torch.zeros(1, 3, 64, 64))  # the copy loads (external data found)
    assert emb.shape[0] == 1 and torch.isfinite(emb).all()


def test_a_rebuild_with_other_models_leaves_no_stale_file(tmp_path):
    data = copy_data(tmp_path)
    out = build(tmp_path, data)
    (out / "clip" / "stale.onnx").write_bytes(b"old")
    build(tmp_path, data)
    assert not (out / "clip" / "stale.onnx").exists() and (out / "clip" / "vision_model.onnx").is_file()
