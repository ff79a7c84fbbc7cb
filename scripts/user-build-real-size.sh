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
grep -E "features:|head trained|bundle written|exporting" "$work/build/build.log" | tee -a "$work/timings.txt"
