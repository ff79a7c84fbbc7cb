"""One command that rebuilds the default bundle and every figure of training/results from nothing:

    python -m ogclip_factory.build --config configs/shapes-tiny.yaml --data <cache> --out <work>

pools -> segmenter -> shipped tiny CLIP + head -> zero-shot protocol (a tiny CLIP and heads
trained without the held-out combinations: full + three ablations, several seeds) ->
evaluation -> ONNX export of the shipped models. Every stage checkpoints into --out and a rerun
resumes where the last one stopped."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from . import clip as clip_mod
from . import features, pool, scenes, train_clip, train_head, train_segmenter
from .clip import TinyClip
from .head import ObjectGuidedHead
from .progress import logger
from .segmenter import Segmenter
from .trainer import LoopConfig, train

ROOT = Path(__file__).resolve().parents[2]


def loop_cfg(section: dict, seed: int) -> LoopConfig:
    return LoopConfig(steps=int(section["steps"]), lr=float(section["lr"]), warmup=int(section.get("warmup", 50)), seed=seed)


DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "shapes-tiny.yaml"
VARIANTS = ("full", "no_mask", "no_object", "no_clip")


def make_head(clip: TinyClip, cfg: dict, variant: str) -> ObjectGuidedHead:
    clip_dim = clip.vision.proj.in_features + clip.vision.proj.out_features  # pooled tokens + image embedding
    return ObjectGuidedHead(clip_dim, embed=clip.vision.proj.out_features, fusion=cfg["head"].get("fusion", "mlp"),
                            drop=None if variant == "full" else variant[3:])


def head_seeds(cfg: dict) -> list[int]:
    return [int(s) for s in cfg["zero_shot"]["head_seeds"]]


def load_models(out: Path, cfg: dict) -> tuple[Segmenter, "evaluate.Models", "evaluate.Models"]:
    """The trained models of a finished build, from its checkpoints."""
    from . import evaluate

    def load(model: torch.nn.Module, name: str) -> torch.nn.Module:
        model.load_state_dict(torch.load(out / f"{name}.ckpt", weights_only=False)["model"])
        return model.eval()

    seg = load(Segmenter(), "segmenter")
    clip, zs_clip = load(TinyClip(), "clip"), load(TinyClip(), "zs-clip")
    shipped = evaluate.Models(clip, {"full": [load(make_head(clip, cfg, "full"), "head-full")]})
    zs_heads = {v: [load(make_head(zs_clip, cfg, v), f"zs-head-{v}-s{s}") for s in head_seeds(cfg)] for v in VARIANTS}
    return seg, shipped, evaluate.Models(zs_clip, zs_heads)


def head_data(seg: Segmenter, clip: TinyClip, multi: pool.Pool, cache: Path) -> train_head.HeadData:
    """Head inputs from ground-truth masks and from segmenter masks (one random click each),
    so the head learns on the masks it will see in the pipeline."""
    if cache.is_file():
        return torch.load(cache, weights_only=False)
    rng = np.random.default_rng(1234)
    frames = list(multi.frames)
    pred_masks = []
    for frame, ms in zip(frames, multi.masks):
        pts = []
        for m in ms:
            ys, xs = np.nonzero(m)
            i = rng.integers(len(xs))
            pts.append([xs[i] + 0.5, ys[i] + 0.5])
        pred = features.segment(seg, frame, np.array(pts))
        # An empty prediction would crop nothing; fall back to the ground truth for that object.
        pred_masks.append([p if p.any() else m for p, m in zip(pred, ms)])
    gt = features.object_inputs(clip, frames, multi.masks)
    pr = features.object_inputs(clip, frames, pred_masks)
    labels = torch.tensor([l for ls in multi.labels for l in ls])
    frame_of = np.array([f for f, ms in enumerate(multi.masks) for _ in ms])
    data = train_head.HeadData([gt, pr], labels, frame_of)
    torch.save(data, cache)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--data", type=Path, required=True, help="cache folder for generated training pools")
    ap.add_argument("--out", type=Path, required=True, help="work folder: checkpoints and logs")
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "ogclip-shapes-tiny")
    ap.add_argument("--results", type=Path, default=ROOT / "training" / "results")
    ap.add_argument("--val", type=Path, default=ROOT / "datasets" / "shapes-val")
    a = ap.parse_args()
    cfg = yaml.safe_load(a.config.read_text())
    # Every section up front: a missing one must not surface after an hour of training.
    missing = [k for k in ("pools", "segmenter", "clip", "head", "zero_shot", "eval") if not isinstance(cfg.get(k), dict)]
    if missing:
        raise SystemExit(f"{a.config}: missing section(s) {', '.join(missing)} (see configs/shapes-tiny.yaml)")
    seed = int(cfg.get("seed", 0))
    torch.manual_seed(seed)
    a.out.mkdir(parents=True, exist_ok=True)
    log = logger(a.out / "build.log")

    t_all = time.time()
    t = time.time()
    n_multi, n_single = int(cfg["pools"]["train_scenes"]), int(cfg["pools"]["single_scenes"])
    multi = pool.cached(a.data, "train", pool.TRAIN_SEED, n_multi)
    single = pool.cached(a.data, "single", pool.SINGLE_SEED, n_single, max_objects=1)
    # The zero-shot protocol's pools: the same seed ranges, held-out combinations never drawn.
    seen = scenes.seen_combos()
    zs_multi = pool.cached(a.data, "train-seen", pool.TRAIN_SEED, n_multi, allowed=seen)
    zs_single = pool.cached(a.data, "single-seen", pool.SINGLE_SEED, n_single, max_objects=1, allowed=seen)
    log(f"pools ready: {len(multi.frames)} + {len(single.frames)} scenes, and as many without the held-out combinations ({time.time() - t:.0f}s)")

    t = time.time()
    seg = Segmenter()
    sc = cfg["segmenter"]
    train("segmenter", seg, train_segmenter.make_step(seg, multi, int(sc["batch"])), loop_cfg(sc, seed), a.out, log)
    log(f"segmenter done ({time.time() - t:.0f}s)")

    # Shipped models: every combination, canonical captions.
    t = time.time()
    tok_dir = a.out / "tokenizer"
    tokenizer = clip_mod.Tokenizer(clip_mod.build_tokenizer(tok_dir))
    clip = TinyClip()
    cc = cfg["clip"]
    images, labels = train_clip.clip_pairs(single, multi)
    train("clip", clip, train_clip.make_step(clip, tokenizer, images, labels, int(cc["batch"])), loop_cfg(cc, seed), a.out, log)
    del images
    log(f"clip done ({time.time() - t:.0f}s)")
    for p in list(seg.parameters()) + list(clip.parameters()):
        p.requires_grad_(False)

    t = time.time()
    data = head_data(seg, clip, multi, a.out / "head-data.pt")
    with torch.no_grad():
        text = clip.text(tokenizer(scenes.vocabulary()))[0]
    hc = cfg["head"]
    head = make_head(clip, cfg, "full")
    step = train_head.make_step(head, text, data, int(hc["batch"]), float(hc["hard_negative_weight"]))
    train("head-full", head, step, loop_cfg(hc, seed), a.out, log)
    shipped_heads = {"full": [head]}
    del data
    log(f"shipped head done ({time.time() - t:.0f}s)")

    # Zero-shot protocol: the same recipe without the held-out combinations (images and
    # captions), the CLIP text side in every wording but the fully paraphrased one.
    t = time.time()
    torch.manual_seed(seed + 1)
    zs_clip = TinyClip()
    images, labels = train_clip.clip_pairs(zs_single, zs_multi)
    zs_step = train_clip.make_step(zs_clip, tokenizer, images, labels, int(cc["batch"]), classes=seen, wordings=scenes.TRAIN_WORDINGS)
    train("zs-clip", zs_clip, zs_step, loop_cfg(cc, seed), a.out, log)
    del images
    for p in zs_clip.parameters():
        p.requires_grad_(False)
    data = head_data(seg, zs_clip, zs_multi, a.out / "zs-head-data.pt")
    with torch.no_grad():
        zs_text = zs_clip.text(tokenizer([scenes.describe(*c) for c in seen]))[0]
    zs_heads: dict[str, list[ObjectGuidedHead]] = {}
    for variant in VARIANTS:
        for s in head_seeds(cfg):
            torch.manual_seed(s)
            head = make_head(zs_clip, cfg, variant)
            step = train_head.make_step(head, zs_text, data, int(hc["batch"]), float(hc["hard_negative_weight"]), classes=seen)
            train(f"zs-head-{variant}-s{s}", head, step, loop_cfg(hc, s), a.out, log)
            zs_heads.setdefault(variant, []).append(head)
    del data
    log(f"zero-shot protocol models done ({time.time() - t:.0f}s)")

    # Imported here so a long training run picks up the evaluation code as it is when it ends.
    from . import evaluate, export

    t = time.time()
    report = evaluate.run(seg, evaluate.Models(clip, shipped_heads), evaluate.Models(zs_clip, zs_heads), tokenizer,
                          a.val, a.results, cfg["eval"], log=log)
    log(f"evaluation done ({time.time() - t:.0f}s)")
    t = time.time()
    export.bundle(seg, clip, shipped_heads["full"][0], tok_dir, a.bundle, report, a.val, log)
    log(f"export done ({time.time() - t:.0f}s)")
    log(f"build finished in {time.time() - t_all:.0f}s")
    (a.out / "build-summary.json").write_text(json.dumps({"seconds": round(time.time() - t_all)}))


if __name__ == "__main__":
    main()
