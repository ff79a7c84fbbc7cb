"""One command that rebuilds the default bundle from nothing:

    python -m ogclip_factory.build --config configs/shapes-tiny.yaml --data <cache> --out <work>

pools -> segmenter -> tiny CLIP -> head (+ three ablations) -> evaluation -> ONNX export.
Every stage checkpoints into --out and a rerun resumes where the last one stopped."""
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
from .segmenter import Segmenter
from .trainer import LoopConfig, train

ROOT = Path(__file__).resolve().parents[2]


def loop_cfg(section: dict, seed: int) -> LoopConfig:
    return LoopConfig(steps=int(section["steps"]), lr=float(section["lr"]), warmup=int(section.get("warmup", 50)), seed=seed)


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
    ap.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "configs" / "shapes-tiny.yaml")
    ap.add_argument("--data", type=Path, required=True, help="cache folder for generated training pools")
    ap.add_argument("--out", type=Path, required=True, help="work folder: checkpoints and logs")
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "ogclip-shapes-tiny")
    ap.add_argument("--results", type=Path, default=ROOT / "training" / "results")
    ap.add_argument("--val", type=Path, default=ROOT / "datasets" / "shapes-val")
    a = ap.parse_args()
    cfg = yaml.safe_load(a.config.read_text())
    seed = int(cfg.get("seed", 0))
    torch.manual_seed(seed)
    a.out.mkdir(parents=True, exist_ok=True)
    log_file = (a.out / "build.log").open("a")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    t_all = time.time()
    t = time.time()
    multi = pool.cached(a.data, "train", pool.TRAIN_SEED, int(cfg["pools"]["train_scenes"]))
    single = pool.cached(a.data, "single", pool.SINGLE_SEED, int(cfg["pools"]["single_scenes"]), max_objects=1)
    log(f"pools ready: {len(multi.frames)} + {len(single.frames)} scenes ({time.time() - t:.0f}s)")

    t = time.time()
    seg = Segmenter()
    sc = cfg["segmenter"]
    train("segmenter", seg, train_segmenter.make_step(seg, multi, int(sc["batch"])), loop_cfg(sc, seed), a.out, log)
    log(f"segmenter done ({time.time() - t:.0f}s)")

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
    clip_dim = data.variants[0].clip_features.shape[1]
    heads = {}
    for variant in ("full", "no_mask", "no_object", "no_clip"):
        drop = None if variant == "full" else variant[3:]
        head = ObjectGuidedHead(clip_dim, embed=text.shape[1], fusion=hc.get("fusion", "mlp"), drop=drop)
        step = train_head.make_step(head, text, data, int(hc["batch"]), float(hc["hard_negative_weight"]))
        train(f"head-{variant}", head, step, loop_cfg(hc, seed), a.out, log)
        heads[variant] = head
    log(f"heads done ({time.time() - t:.0f}s)")

    # Imported here so a long training run picks up the evaluation code as it is when it ends.
    from . import evaluate, export

    t = time.time()
    report = evaluate.run(seg, clip, tokenizer, heads, a.val, a.results, log)
    log(f"evaluation done ({time.time() - t:.0f}s)")
    t = time.time()
    export.bundle(seg, clip, heads["full"], tok_dir, a.bundle, report, a.val, log)
    log(f"export done ({time.time() - t:.0f}s)")
    log(f"build finished in {time.time() - t_all:.0f}s")
    (a.out / "build-summary.json").write_text(json.dumps({"seconds": round(time.time() - t_all)}))


if __name__ == "__main__":
    main()
