#!/usr/bin/env bash
# The user path at real size, timed: random-weight transformers checkpoints of CLIP ViT-B/32 and
# SAM2.1 hiera-tiny (what a user's downloaded checkpoint folders look like) + 200 labelled
# images -> user_build (ONNX export, features, one epoch of the head, evaluation, bundle) ->
# the pipeline on that bundle (ogclip eval: prompted objects through the object-guided head).
# Not part of the tests (tens of minutes on 2 cores); everything lands in bench/models/ (git-ignored).
#   bash scripts/user-build-real-size.sh [frames]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=$("$root/scripts/python-env.sh")
frames=${1:-200}
work="$root/bench/models/user-real-size"
rm -rf "$work"
mkdir -p "$work"
t() { local s=$(date +%s); "$@"; echo "[timing] $(basename "$1") ${*:2:1}: $(( $(date +%s) - s ))s" | tee -a "$work/timings.txt"; }
cd "$root/training"
t "$py/bin/python" -m ogclip_factory.user_fixture --out "$work/data" --count "$frames" --with-masks "$frames" --checkpoints "$work/checkpoints"
t "$py/bin/python" -m ogclip_factory.user_build --clip "$work/checkpoints/clip-vit-base-patch32-random" \
  --sam2 "$work/checkpoints/sam2.1-hiera-tiny-random" --data "$work/data/dataset.json" --out "$work/bundle" \
  --work "$work/build" --config configs/user-head-real-size.yaml --name user-real-size-random
cd "$root"
npm run -s build
t node bin/ogclip.js eval "$work/data" --bundle "$work/bundle" --limit 40 --no-detection --out "$work/pipeline-eval.json"
du -sh "$work/bundle" | tee -a "$work/timings.txt"
# A summary without machine paths, for bench/README.md: seconds per step from the build log's
# timestamps and the timed commands above.
"$py/bin/python" - "$work" "$frames" "$root/bench/results/user-real-size-$frames.json" <<'PY'
import json, re, sys, datetime, os
from pathlib import Path
work, frames, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
log = (work / "build" / "build.log").read_text().splitlines()
def at(pattern):
    for line in log:
        if re.search(pattern, line):
            h, m, s = map(int, line[:8].split(":"))
            return h * 3600 + m * 60 + s, line
    raise SystemExit(f"no line matching {pattern!r} in the build log")
t_clip, _ = at("exporting the transformers clip")
t_sam2, _ = at("exporting the transformers sam2")
t_models, _ = at(r"models: CLIP")
t_feat, feat = at(r"features: \d+ cached")
t_head, head = at("head trained")
t_eval, _ = at(r"eval \(held-out")
t_done, done = at("bundle written")
timed = dict(re.findall(r"\[timing\] (\S+) [^:]*: (\d+)s", (work / "timings.txt").read_text()))
summary = {
    "command": f"bash scripts/user-build-real-size.sh {frames}",
    "date": datetime.date.today().isoformat(), "cpus": os.cpu_count(),
    "models": "random-weight transformers checkpoints at real size: CLIP ViT-B/32, SAM2.1 hiera-tiny (SAM2 input 1024)",
    "images": frames, "objects": json.loads((work / "data" / "dataset.json").read_text()) and sum(len(i["objects"]) for i in json.loads((work / "data" / "dataset.json").read_text())["images"]),
    "seconds": {"export_clip_onnx": t_sam2 - t_clip, "export_sam2_onnx": t_models - t_sam2,
                "features_all_images": int(re.search(r"\((\d+)s\)", feat).group(1)),
                "head_training": int(re.search(r"\((\d+)s\)", head).group(1)),
                "evaluation": t_eval - t_head, "bundle_export_and_copy": t_done - t_eval,
                "pipeline_eval_both_embedders": int(timed.get("node", 0))},
    "head_steps": max(int(m.group(1)) for line in log if (m := re.search(r"\] step (\d+)/\d+", line))),
    "bundle_mb": round(sum(f.stat().st_size for f in (work / "bundle").rglob("*") if f.is_file()) / 1e6, 1),
}
summary["seconds_per_image"] = {"features": round(summary["seconds"]["features_all_images"] / frames, 2),
                                "pipeline_per_frame_and_embedder": round(summary["seconds"]["pipeline_eval_both_embedders"] / (2 * min(frames, 40)), 2)}
out.write_text(json.dumps(summary, indent=2) + "\n")
print(out.read_text())
PY
